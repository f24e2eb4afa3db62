#ifndef FERRY_CPROCESSCONTROL_H
#define FERRY_CPROCESSCONTROL_H

/// Asks the kernel to send `signal` to this process when its parent thread exits
/// (prctl(PR_SET_PDEATHSIG)); prctl is variadic, which Swift cannot call. Returns 0 or -1/errno.
int ferry_set_parent_death_signal(int signal);

/// Starts writing back the dirty pages of `length` bytes at `offset` of `fd` without waiting
/// (sync_file_range(SYNC_FILE_RANGE_WRITE), which Swift's Glibc module does not expose: it needs
/// _GNU_SOURCE). A long download flushed this way as it goes leaves little for its final fsync.
/// Returns 0 or -1/errno.
int ferry_start_writeback(int fd, long long offset, long long length);

/// Starts the executable at `path` (argv, envp NULL-terminated) in a process group of its own,
/// with `stdin_fd`, `stdout_fd` and `stderr_fd` as its standard streams, every other descriptor
/// closed, default signal dispositions and no blocked signals (posix_spawn; the child's parent
/// thread, for PR_SET_PDEATHSIG, is the calling thread). Returns 0 and sets `*pid`, or an errno.
int ferry_spawn_worker(
    const char *path, char *const argv[], char *const envp[], int stdin_fd, int stdout_fd, int stderr_fd,
    int *pid);

/// Blocks until the child `pid` has ended, without reaping it (waitid with WNOWAIT): its process
/// id stays taken, so signals sent to its group until it is reaped cannot reach a stranger.
/// Returns 0, or an errno.
int ferry_wait_for_exit(int pid);

/// A pipe whose ends close on exec (pipe2(O_CLOEXEC), which needs _GNU_SOURCE). Returns 0, or an errno.
int ferry_pipe(int ends[2]);

#endif
