// Handles execve / execveat when exec = "deny" somewhere in the policy: running a program from
// a memfd (MITRE ATT&CK T1620, fileless execution) is refused with EACCES and audited, unless the
// memfd was admitted by a rule with exec = "allow". Every other exec goes on unchanged.
// Recognised: execveat(fd, "", AT_EMPTY_PATH) (what fexecve does), and paths /proc/self/fd/N,
// /proc/thread-self/fd/N, /proc/PID/fd/N, /dev/fd/N. Memfds that memfd-warden admitted carry
// MFD_NOEXEC_SEAL as well, so the kernel refuses them by any other path too.
#pragma once

#include "policy/policy.h"
#include "supervisor/audit_log.h"
#include "supervisor/call_channel.h"
#include "supervisor/caller_info.h"
#include "supervisor/handler_context.h"
#include "supervisor/memfd_ledger.h"
#include "supervisor/target_memory.h"

namespace warden {

class ExecCallHandler : CallHandler {
 public:
  explicit ExecCallHandler(const HandlerContext& context) : CallHandler(context) {}

  void handle(const TrappedRequest& request, CallChannel& channel);

 private:
  char path_[kMaxMemfdName + 1] = {};
  CallerInfo caller_;
};

// The fd (and process, 0 for the caller) an exec path names through /proc or /dev/fd, if any.
struct FdPath {
  pid_t pid = 0;
  int fd = -1;
};
std::optional<FdPath> parse_fd_path(std::string_view path);

}  // namespace warden
