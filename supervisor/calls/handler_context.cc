#include "supervisor/calls/handler_context.h"

#include <spdlog/spdlog.h>

#include <cerrno>
#include <cstring>

#include "supervisor/calls/audit_log.h"

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

bool CallHandler::answered_in_landlock(const TrappedSyscall& syscall, pid_t tid,
                                       CallChannel& channel, CallerInfo& caller,
                                       std::string_view path) {
  if (!confinement_.landlock) return false;
  DecisionRecord record;
  record.syscall = trapped_call_name(syscall.call);
  record.abi = abi_name(syscall.abi);
  record.tid = tid;
  record.path = path;
  record.decision = dry_run_ ? Decision::kWouldDeny : Decision::kDeny;
  record.errno_value = EACCES;
  record.reason = "landlock";
  record.quota = ledger_.state();
  if (!caller.names_read) callers_.read_names(tid, caller);  // a refusal names the caller
  describe_caller(record, caller);
  if (!channel.caller_waiting()) return true;  // gone: nobody gets the answer
  audit_.write(record);                        // before the answer
  int err = dry_run_ ? channel.pass_through() : channel.fail(EACCES);
  if (err != 0 && err != ENOENT) {
    spdlog::error("answering {}: {}", trapped_call_name(syscall.call), std::strerror(err));
  }
  return true;
}

}  // namespace warden
