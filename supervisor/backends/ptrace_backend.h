// The ptrace backend: the same filter with SECCOMP_RET_TRACE in place of user notification, the
// tree followed through fork, vfork, clone and exec (PTRACE_SEIZE), and every trapped call sent
// through the same handlers, policy, quotas and audit as the notify backend.
//
// ptrace stops only the calling thread, so a sibling could rewrite a memfd name after we read it.
// Before the kernel is let run an allowed memfd_create, every other tracee in the tree is
// stopped (PTRACE_INTERRUPT) and stays stopped until the call has returned; the name the kernel
// reads is the name we checked. The created memfd's /proc name is verified as well.
//
// A tracer thread owns all ptrace state (ptrace requests must come from the tracer); the thread
// that calls run_ptrace_backend only launches the target and waits.
#pragma once

#include "policy/policy.h"
#include "supervisor/calls/audit_log.h"
#include "supervisor/calls/supervision.h"
#include "supervisor/launch/launcher.h"

namespace warden {

// Launches request.program under the RET_TRACE filter and supervises its tree. `signal_fd` is a
// signalfd for SIGCHLD, SIGINT, SIGTERM and SIGHUP, all blocked.
SuperviseResult run_ptrace_backend(const Policy& policy, const SuperviseOptions& options,
                                   LaunchRequest request, int signal_fd, AuditLog& audit);

}  // namespace warden
