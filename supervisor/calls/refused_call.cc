#include "supervisor/calls/refused_call.h"

namespace warden {

void handle_refused_call(const TrappedRequest& request, CallChannel& channel,
                         const HandlerContext& context) {
  int error = ENOSYS;
  const char* reason = "io_uring";
  switch (request.syscall.call) {
    case TrappedCall::kIoSetup:
      reason = "aio";
      break;
    case TrappedCall::kClone:
      error = EPERM;
      reason = "untraced-clone";
      break;
    default:
      break;
  }
  // A dry run lets io_uring and AIO through; an untraced child never: it would leave the
  // ptrace backend blind for the rest of the run.
  bool dry_run = context.dry_run && request.syscall.call != TrappedCall::kClone;
  CallerInfo caller;
  context.callers.read(request.tid, caller);
  DecisionRecord record;
  record.syscall = trapped_call_name(request.syscall.call);
  record.abi = abi_name(request.syscall.abi);
  record.tid = request.tid;
  describe_caller(record, caller);
  record.decision = dry_run ? Decision::kWouldDeny : Decision::kDeny;
  record.errno_value = error;
  record.reason = reason;
  record.quota = context.ledger.state();
  if (!channel.caller_waiting()) return;
  context.audit.write(record);
  if (dry_run) {
    channel.pass_through();
  } else {
    channel.fail(error);
  }
}

}  // namespace warden
