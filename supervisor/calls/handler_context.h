// What every call handler works with: the policy, whether this is a dry run, whether records of
// allowed calls name the caller's executable, the ledger of live memfds, the audit log, the
// reader that says who a caller is, and what the tree has done to confine itself. One
// CallDispatcher owns the pieces; each handler keeps references.
#pragma once

#include <string_view>

#include "policy/policy.h"
#include "supervisor/calls/audit_log.h"
#include "supervisor/calls/call_channel.h"
#include "supervisor/calls/memfd_ledger.h"
#include "supervisor/kernel/caller_info.h"
#include "supervisor/kernel/unique_fd.h"

namespace warden {

// What a tree has done to confine itself that memfd-warden, acting for a caller, cannot take on.
struct TreeConfinement {
  // A task in the tree asked for a Landlock domain (landlock_restrict_self, trapped with a byte
  // limit). Which tasks are in one cannot be read from outside, so this holds for the whole tree
  // from then on (CallHandler::answered_in_landlock).
  bool landlock = false;
};

struct HandlerContext {
  const Policy& policy;
  bool dry_run;
  bool record_names;  // SuperviseOptions::record_names
  MemfdLedger& ledger;
  AuditLog& audit;
  CallerReader& callers;
  TreeConfinement& confinement;
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
        callers_(context.callers),
        confinement_(context.confinement) {}

  // For a call carried out on the caller's files: reads who the caller is into `caller` (its
  // comm and executable only when every record names them), and returns a pidfd that reaches
  // its fd table (the CallerReader's, or one opened into `own`), proved to name the caller: it
  // still waits. -1 when the caller is gone (nothing to answer), or when its files cannot be
  // reached (`unreachable`, logged): the call must then be refused rather than let through.
  int caller_pidfd(pid_t tid, const TrappedSyscall& syscall, CallChannel& channel,
                   CallerInfo& caller, UniqueFd& own, bool& unreachable);

  // For a call memfd-warden would carry out on the file a path of the caller's reaches (truncate,
  // setxattr, lsetxattr), once the tree has asked for a Landlock domain: memfd-warden is in none
  // of the tree's domains, so it would act with access rights the caller may lack (truncate) and
  // reach other processes' /proc entries that Landlock keeps the caller out of; even its lookup
  // would tell the caller what Landlock hides (whether a name exists there, what kind of file it
  // is). So, asked after the arguments are read and before the path is looked up, such a call is
  // refused with EACCES, Landlock's own answer, with an audit record (reason "landlock"); a dry
  // run records would-deny and leaves the call to the kernel, which judges it in the caller's
  // domain. True when the call was answered here (or its caller is gone); false, with no record,
  // before any domain.
  bool answered_in_landlock(const TrappedSyscall& syscall, pid_t tid, CallChannel& channel,
                            CallerInfo& caller, std::string_view path);

  const Policy& policy_;
  bool dry_run_;
  bool record_names_;
  MemfdLedger& ledger_;
  AuditLog& audit_;
  CallerReader& callers_;
  TreeConfinement& confinement_;
};

}  // namespace warden
