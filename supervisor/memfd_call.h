// Handles one trapped memfd_create: read the name once, learn the caller, re-check that the
// notification is still pending, decide with policy/decide, then answer. An allowed memfd is
// created here, in the supervisor, from the bytes we checked (never CONTINUE: the target could
// rewrite the name between our read and the kernel's) and installed with ADDFD+SEND.
#pragma once

#include <linux/seccomp.h>

#include "policy/policy.h"
#include "supervisor/audit_log.h"
#include "supervisor/caller_info.h"
#include "supervisor/memfd_ledger.h"
#include "supervisor/notify_fd.h"
#include "supervisor/target_memory.h"
#include "supervisor/trapped_syscalls.h"

namespace warden {

class MemfdCallHandler {
 public:
  MemfdCallHandler(const Policy& policy, bool dry_run, const NotifyFd& notify, MemfdLedger& ledger,
                   AuditLog& audit)
      : policy_(policy), dry_run_(dry_run), notify_(notify), ledger_(ledger), audit_(audit) {}

  void handle(const seccomp_notif& request, const TrappedSyscall& call);

 private:
  // Fails the call with `error` for a reason that is not the policy's (bad flags, bad pointer).
  void refuse(uint64_t id, DecisionRecord& record, int error, const char* reason);
  void allow(uint64_t id, DecisionRecord& record);
  void kill_caller(uint64_t id, DecisionRecord& record);
  // Our own memfd for the caller from the name in name_: same name and flags, owned by the
  // caller's filesystem credentials. Returns the fd or -1 with errno.
  int create_memfd(uint32_t flags);

  const Policy& policy_;
  bool dry_run_;
  const NotifyFd& notify_;
  MemfdLedger& ledger_;
  AuditLog& audit_;
  // Scratch reused for every call: the hot path does not allocate for these.
  char name_[kMaxMemfdName + 1] = {};
  CallerInfo caller_;
  CreateCall call_ = CreateCall::kMemfdCreate;  // the call being handled
};

}  // namespace warden
