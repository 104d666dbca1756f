// What every call handler works with: the policy, whether this is a dry run, whether records of
// allowed calls name the caller's executable, the ledger of live memfds, the audit log, and the
// reader that says who a caller is. One CallDispatcher owns the
// pieces; each handler keeps references.
#pragma once

#include "policy/policy.h"
#include "supervisor/calls/audit_log.h"
#include "supervisor/calls/call_channel.h"
#include "supervisor/calls/memfd_ledger.h"
#include "supervisor/kernel/caller_info.h"
#include "supervisor/kernel/unique_fd.h"

namespace warden {

struct HandlerContext {
  const Policy& policy;
  bool dry_run;
  bool record_names;  // SuperviseOptions::record_names
  MemfdLedger& ledger;
  AuditLog& audit;
  CallerReader& callers;
};

// The base of the call handlers: the context's pieces, as members.
class CallHandler {
 protected:
  explicit CallHandler(const HandlerContext& context)
      : policy_(context.policy),
        dry_run_(context.dry_run),
        record_names_(context.record_names),
        ledger_(context.ledger),
        audit_(context.audit),
        callers_(context.callers) {}

  // For a call carried out on the caller's files: reads who the caller is into `caller` (its
  // comm and executable only when every record names them), and returns a pidfd that reaches
  // its fd table (the CallerReader's, or one opened into `own`), proved to name the caller: it
  // still waits. -1 when the caller is gone (nothing to answer), or when its files cannot be
  // reached (`unreachable`, logged): the call must then be refused rather than let through.
  int caller_pidfd(pid_t tid, const TrappedSyscall& syscall, CallChannel& channel,
                   CallerInfo& caller, UniqueFd& own, bool& unreachable);

  const Policy& policy_;
  bool dry_run_;
  bool record_names_;
  MemfdLedger& ledger_;
  AuditLog& audit_;
  CallerReader& callers_;
};

}  // namespace warden
