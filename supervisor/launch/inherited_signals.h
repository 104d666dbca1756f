// The signal state memfd-warden was started with, which the target must start with too: the
// blocked mask, and whether SIGCHLD was ignored. A process of ours that waits for children (the
// supervisor, the agent, the tree's init) takes both over for itself: an ignored SIGCHLD makes
// the kernel reap children on its own and send no SIGCHLD for their stops and exits, so a
// supervisor waiting on its signalfd, or for a ptrace stop, would wait for ever.
#pragma once

#include <signal.h>

namespace warden {

struct InheritedSignals {
  sigset_t mask{};
  bool sigchld_ignored = false;
};

// Blocks `handled` (to be read from a signalfd) and sets SIGCHLD to its default action. Returns
// what there was before, for restore_inherited_signals(); errno is set if sigprocmask failed
// (then nothing changed).
bool take_over_signals(const sigset_t& handled, InheritedSignals& inherited);

// In a child, before exec: the mask and the SIGCHLD action it was given. Async-signal-safe (it
// runs in vfork children).
void restore_inherited_signals(const InheritedSignals& inherited);

}  // namespace warden
