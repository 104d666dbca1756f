// The supervisor loop: one thread, one epoll set over the notify fd, a signalfd (SIGCHLD and the
// signals we forward) and the ledger's inotify fd. Returns when the whole target tree has exited.
#pragma once

#include "policy/policy.h"
#include "supervisor/audit_log.h"
#include "supervisor/launcher.h"

namespace warden {

struct SuperviseOptions {
  bool dry_run = false;
};

// Takes over `target`; `signal_fd` is a signalfd for SIGCHLD, SIGINT, SIGTERM and SIGHUP, all
// blocked. Returns memfd-warden's exit status: the target's, or 125 for our own failure.
int supervise(const Policy& policy, const SuperviseOptions& options, Target target, int signal_fd,
              AuditLog& audit);

}  // namespace warden
