// One supervised seccomp listener: the call handlers and the reader of callers' vm.memfd_noexec,
// fed one notification at a time by the owner's poll loop. `run` serves one session for the tree
// it launched (unotify_backend.cc); a container agent would serve one per container.
#pragma once

#include "policy/policy.h"
#include "supervisor/calls/audit_log.h"
#include "supervisor/calls/supervision.h"
#include "supervisor/calls/call_dispatch.h"
#include "supervisor/calls/memfd_ledger.h"
#include "supervisor/kernel/noexec_scope.h"
#include "supervisor/kernel/notify_fd.h"

namespace warden {

class NotifySession {
 public:
  NotifySession(const Policy& policy, const SuperviseOptions& options, MemfdLedger& ledger,
                AuditLog& audit)
      : dispatcher_(policy, options, ledger, audit) {}

  // Receives one notification from `notify` and answers it. Returns 0, or an errno that ends
  // supervision (ENOENT and EINTR are ordinary: the caller died before we received it).
  int serve_one(NotifyFd& notify);

  NoexecScopes& scopes() { return scopes_; }

 private:
  CallDispatcher dispatcher_;
  NoexecScopes scopes_;
};

}  // namespace warden
