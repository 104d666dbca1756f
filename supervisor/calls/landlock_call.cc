#include "supervisor/calls/landlock_call.h"

#include <spdlog/spdlog.h>

#include <cerrno>
#include <cstring>

#include "supervisor/calls/audit_log.h"

namespace warden {

void LandlockCallHandler::handle(const TrappedRequest& request, CallChannel& channel) {
  // First, before the call goes on, whatever becomes of it: every call the caller makes inside
  // its domain reaches us after this one, and must find the tree confined.
  confinement_.landlock = true;
  callers_.read(request.tid, caller_, CallerReader::Names::kRead);  // who confined itself
  DecisionRecord record;
  record.syscall = trapped_call_name(request.syscall.call);
  record.abi = abi_name(request.syscall.abi);
  record.tid = request.tid;
  record.reason = "landlock";
  record.quota = ledger_.state();
  describe_caller(record, caller_);
  if (!channel.caller_waiting()) return;  // gone: the names are not its own
  audit_.write(record);
  if (int err = channel.pass_through(); err != 0 && err != ENOENT) {
    spdlog::error("continuing landlock_restrict_self: {}", std::strerror(err));
  }
}

}  // namespace warden
