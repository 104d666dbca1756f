// The agent's listening socket: bound by the agent itself (mode 0600, a stale socket replaced),
// or handed over by systemd's socket activation (memfd-warden-agent.socket), in which case
// systemd owns the file and the agent leaves it in place when it stops.
#pragma once

#include <string>

#include "policy/result.h"
#include "supervisor/kernel/unique_fd.h"

namespace warden {

struct AgentSocket {
  UniqueFd listener;  // non-blocking, close-on-exec
  bool from_systemd = false;
};

// systemd's socket (LISTEN_PID is us, LISTEN_FDS=1: fd 3) when there is one; it must be a
// listening unix stream socket bound to `path`. Otherwise a socket we bind at `path`.
Result<AgentSocket> agent_socket(const std::string& path);

}  // namespace warden
