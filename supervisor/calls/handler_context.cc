#include "supervisor/calls/handler_context.h"

#include <spdlog/spdlog.h>

#include <cerrno>
#include <cstring>

namespace warden {

int CallHandler::caller_pidfd(pid_t tid, const TrappedSyscall& syscall, CallChannel& channel,
                              CallerInfo& caller, UniqueFd& own, bool& unreachable) {
  unreachable = false;
  callers_.read(tid, caller,
                record_names_ ? CallerReader::Names::kRead : CallerReader::Names::kSkip);
  int pidfd = callers_.pidfd_for(tid, caller, own);
  // Proves the pidfd names the caller (not a process that reused its pid) before it is used.
  if (pidfd >= 0 && channel.caller_waiting()) return pidfd;
  if (pidfd >= 0 || errno == ESRCH) return -1;  // the caller is gone
  spdlog::error("opening a pidfd for thread {}: {}; refusing its {}", tid, std::strerror(errno),
                trapped_call_name(syscall.call));
  unreachable = true;
  return -1;
}

}  // namespace warden
