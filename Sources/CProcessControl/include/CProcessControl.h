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

#endif
