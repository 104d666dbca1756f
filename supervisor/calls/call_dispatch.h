// Routes a trapped call to its handler by call group. Both backends hand every call here, so a
// call group added to the filter is handled the same way by both.
#pragma once

#include "policy/policy.h"
#include "supervisor/calls/audit_log.h"
#include "supervisor/calls/call_channel.h"
#include "supervisor/calls/exec_call.h"
#include "supervisor/calls/exec_map_call.h"
#include "supervisor/calls/growth_call.h"
#include "supervisor/calls/landlock_call.h"
#include "supervisor/calls/memfd_call.h"
#include "supervisor/calls/memfd_ledger.h"
#include "supervisor/calls/seal_call.h"
#include "supervisor/calls/supervision.h"
#include "supervisor/calls/xattr_call.h"

namespace warden {

class CallDispatcher {
 public:
  CallDispatcher(const Policy& policy, const SuperviseOptions& options, MemfdLedger& ledger,
                 AuditLog& audit)
      : context_{policy, options.dry_run, options.record_names, ledger,
                 audit,  callers_,        confinement_},
        create_(context_),
        growth_(context_),
        xattr_(context_),
        landlock_(context_),
        seal_(context_),
        exec_(context_),
        exec_map_(context_) {}

  void handle(const TrappedRequest& request, CallChannel& channel);

  // ptrace backend, at an exec event: see ExecCallHandler::refuse_new_image.
  bool refuse_new_image(pid_t pid) { return exec_.refuse_new_image(pid); }

 private:
  CallerReader callers_;
  TreeConfinement confinement_;
  HandlerContext context_;
  MemfdCallHandler create_;
  GrowthCallHandler growth_;
  XattrCallHandler xattr_;
  LandlockCallHandler landlock_;
  SealCallHandler seal_;
  ExecCallHandler exec_;
  ExecMapCallHandler exec_map_;
};

}  // namespace warden
