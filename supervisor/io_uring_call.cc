#include "supervisor/io_uring_call.h"

namespace warden {

void handle_io_uring_setup(const TrappedRequest& request, CallChannel& channel, bool dry_run,
                           const MemfdLedger& ledger, AuditLog& audit) {
  CallerInfo caller;
  read_caller_info(request.tid, caller);
  DecisionRecord record;
  record.syscall = trapped_call_name(request.syscall.call);
  record.abi = abi_name(request.syscall.abi);
  record.tid = request.tid;
  describe_caller(record, caller);
  record.decision = dry_run ? Decision::kWouldDeny : Decision::kDeny;
  record.errno_value = ENOSYS;
  record.reason = "io_uring";
  record.quota = ledger.state();
  if (!channel.caller_waiting()) return;
  audit.write(record);
  if (dry_run) {
    channel.pass_through();
  } else {
    channel.fail(ENOSYS);
  }
}

}  // namespace warden
