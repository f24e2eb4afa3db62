#ifndef FERRY_CSYSTEMD_SHIM_H
#define FERRY_CSYSTEMD_SHIM_H

// Only the non-variadic parts of libsystemd are used from Swift: sd_notify() takes a string that
// Swift formats itself, so sd_notifyf() (variadic, unavailable to Swift) is not needed, and log
// records go through sd_journal_sendv(), one iovec per KEY=value field.
#include <systemd/sd-daemon.h>

// The journal handler sends CODE_FILE/CODE_LINE/CODE_FUNC of the Swift call site itself; without
// this, sd-journal.h would turn sd_journal_sendv() into a macro that adds the location of the C
// header instead.
#define SD_JOURNAL_SUPPRESS_LOCATION
#include <systemd/sd-journal.h>

#endif
