// What every call handler works with: the policy, whether this is a dry run, the ledger of live
// memfds, the audit log, and the reader that says who a caller is. One CallDispatcher owns the
// pieces; each handler keeps references.
#pragma once

#include "policy/policy.h"
#include "supervisor/audit_log.h"
#include "supervisor/caller_info.h"
#include "supervisor/memfd_ledger.h"

namespace warden {

struct HandlerContext {
  const Policy& policy;
  bool dry_run;
  MemfdLedger& ledger;
  AuditLog& audit;
  CallerReader& callers;
};

}  // namespace warden
