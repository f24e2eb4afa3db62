#ifndef FERRY_CPROCESSCONTROL_H
#define FERRY_CPROCESSCONTROL_H

/// Asks the kernel to send `signal` to this process when its parent thread exits
/// (prctl(PR_SET_PDEATHSIG)); prctl is variadic, which Swift cannot call. Returns 0 or -1/errno.
int ferry_set_parent_death_signal(int signal);

#endif
