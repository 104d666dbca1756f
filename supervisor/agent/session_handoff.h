// The channel from the agent to a container's session: the listener of each process that
// `runc exec` (a Kubernetes exec probe, `kubectl exec`) starts in a container already served is
// handed to that container's session, so that the container's quotas and ledger cover it too.
// A session that is ending shuts its end for reading first: what was sent before is served,
// and a later send fails (EPIPE), so that the agent starts a new session instead.
#pragma once

#include <sys/types.h>

#include "supervisor/kernel/unique_fd.h"

namespace warden {

// Sends `listener` (and the pid of the process it serves) without blocking. Returns 0 or errno.
int send_listener(int control, int listener, pid_t pid);

// Takes one listener sent, without blocking. Returns 0 with `listener` and `pid` set, EAGAIN
// when none is waiting, ENODATA when the agent's end is closed, or another errno.
int receive_listener(int control, UniqueFd& listener, pid_t& pid);

}  // namespace warden
