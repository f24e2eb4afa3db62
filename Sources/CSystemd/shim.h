#ifndef FERRY_CSYSTEMD_SHIM_H
#define FERRY_CSYSTEMD_SHIM_H

// Only the non-variadic parts of sd-daemon are used from Swift: sd_notify() takes a string that
// Swift formats itself, so sd_notifyf() (variadic, unavailable to Swift) is not needed.
#include <systemd/sd-daemon.h>

#endif
