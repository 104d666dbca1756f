// The user-notification backend's loop: one thread, one poll over the notify fd, a signalfd
// (SIGCHLD and the signals we forward) and the ledger's inotify fd. Returns when the whole target
// tree has exited.
#pragma once

#include "policy/policy.h"
#include "supervisor/calls/audit_log.h"
#include "supervisor/calls/supervision.h"
#include "supervisor/launch/launcher.h"

namespace warden {

// Launches request.program under the user-notification filter and supervises its tree.
// `signal_fd` is a signalfd for SIGCHLD, SIGINT, SIGTERM and SIGHUP, all blocked.
SuperviseResult run_unotify_backend(const Policy& policy, const SuperviseOptions& options,
                                    LaunchRequest request, int signal_fd, AuditLog& audit);

}  // namespace warden
