/* clockshift: an LD_PRELOAD library that moves a process's wall clock by the seconds written in
 * the file $CLOCKSHIFT_FILE (re-read at most every 50 ms), for the chaos suite's clock-jumps
 * scenario. clock_gettime(CLOCK_REALTIME*), gettimeofday and time are moved; CLOCK_MONOTONIC and
 * CLOCK_BOOTTIME stay real unless CLOCKSHIFT_MONOTONIC=1 (the scenario's --tamper).
 *
 * Why not Debian's libfaketime: preloaded into a Swift program (0.9.10, Debian 12) it leaves
 * CommandLine.arguments empty on most starts, so `ferry serve` prints its help and exits.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/time.h>
#include <time.h>

static int (*real_clock_gettime)(clockid_t, struct timespec *);
static _Atomic long long offset_ns;
static _Atomic long long next_read_ns;
static int shift_monotonic = -1;

static long long real_monotonic_ns(void) {
    struct timespec now;
    real_clock_gettime(CLOCK_MONOTONIC, &now);
    return (long long)now.tv_sec * 1000000000LL + now.tv_nsec;
}

static long long current_offset(void) {
    long long now = real_monotonic_ns();
    if (now >= atomic_load(&next_read_ns)) {
        atomic_store(&next_read_ns, now + 50000000LL);
        const char *path = getenv("CLOCKSHIFT_FILE");
        FILE *file = path ? fopen(path, "re") : NULL;
        double seconds;
        if (file) {
            if (fscanf(file, "%lf", &seconds) == 1) atomic_store(&offset_ns, (long long)(seconds * 1e9));
            fclose(file);
        }
    }
    return atomic_load(&offset_ns);
}

static int shifted(clockid_t clock) {
    if (clock == CLOCK_REALTIME || clock == CLOCK_REALTIME_COARSE) return 1;
    if (shift_monotonic < 0) shift_monotonic = getenv("CLOCKSHIFT_MONOTONIC") != NULL;
    return shift_monotonic && (clock == CLOCK_MONOTONIC || clock == CLOCK_MONOTONIC_COARSE
                               || clock == CLOCK_MONOTONIC_RAW || clock == CLOCK_BOOTTIME);
}

int clock_gettime(clockid_t clock, struct timespec *time) {
    if (!real_clock_gettime) real_clock_gettime = dlsym(RTLD_NEXT, "clock_gettime");
    int result = real_clock_gettime(clock, time);
    if (result != 0 || !shifted(clock)) return result;
    long long total = (long long)time->tv_sec * 1000000000LL + time->tv_nsec + current_offset();
    time->tv_sec = total / 1000000000LL;
    time->tv_nsec = total % 1000000000LL;
    return 0;
}

int gettimeofday(struct timeval *restrict value, void *restrict zone) {
    (void)zone;
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    value->tv_sec = now.tv_sec;
    value->tv_usec = now.tv_nsec / 1000;
    return 0;
}

time_t time(time_t *out) {
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    if (out) *out = now.tv_sec;
    return now.tv_sec;
}
