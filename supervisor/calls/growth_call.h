// Handles one trapped call that can grow a file: ftruncate, truncate, fallocate, and with
// quota.strict_writes the write family. The supervisor takes its own reference to the caller's
// file description (pidfd_getfd) and acts on that, so the target cannot swap what the fd number
// names between our check and the effect. Calls on files that are not memfds are carried out
// unchanged (ftruncate, fallocate) or passed through (writes); calls on memfds are charged,
// decided with policy/decide_growth, audited, and carried out or refused.
#pragma once

#include "policy/policy.h"
#include "supervisor/calls/audit_log.h"
#include "supervisor/calls/call_channel.h"
#include "supervisor/calls/emulated_write.h"
#include "supervisor/calls/growth_args.h"
#include "supervisor/calls/handler_context.h"
#include "supervisor/calls/memfd_ledger.h"
#include "supervisor/kernel/caller_info.h"

namespace warden {

class GrowthCallHandler : CallHandler {
 public:
  explicit GrowthCallHandler(const HandlerContext& context) : CallHandler(context) {}

  void handle(const TrappedRequest& request, CallChannel& channel);

 private:
  struct Call;  // one call's state while it is handled
  void handle_memfd(Call& call, MemfdEntry& entry);
  // truncate(PATH): opens the file the path reaches for writing, as the caller; 0 or -errno.
  int64_t open_by_path(Call& call);
  // Carries out ftruncate / fallocate on our reference; returns 0 or -errno.
  int64_t perform_resize(Call& call);
  void respond(Call& call, int64_t result);

  EmulatedWriter writer_;
  CallerInfo caller_;
};

}  // namespace warden
