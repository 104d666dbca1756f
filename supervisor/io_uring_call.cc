#include "supervisor/io_uring_call.h"

namespace warden {

void handle_io_uring_setup(const TrappedRequest& request, CallChannel& channel,
                           const HandlerContext& context) {
  bool dry_run = context.dry_run;
  CallerInfo caller;
  context.callers.read(request.tid, caller);
  DecisionRecord record;
  record.syscall = trapped_call_name(request.syscall.call);
  record.abi = abi_name(request.syscall.abi);
  record.tid = request.tid;
  describe_caller(record, caller);
  record.decision = dry_run ? Decision::kWouldDeny : Decision::kDeny;
  record.errno_value = ENOSYS;
  record.reason = "io_uring";
  record.quota = context.ledger.state();
  if (!channel.caller_waiting()) return;
  context.audit.write(record);
  if (dry_run) {
    channel.pass_through();
  } else {
    channel.fail(ENOSYS);
  }
}

}  // namespace warden
