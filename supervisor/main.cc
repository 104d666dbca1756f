// memfd-warden's entry point: parse the command line, start the target under the filter, hand
// it to the supervisor loop, exit with the target's status.
#include <fcntl.h>
#include <sched.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <exception>
#include <iostream>
#include <optional>
#include <system_error>

#include "supervisor/backends/ptrace_backend.h"
#include "supervisor/backends/stall_watchdog.h"
#include "supervisor/backends/unotify_backend.h"
#include "supervisor/calls/audit_log.h"
#include "supervisor/cli.h"
#include "supervisor/kernel/kernel_probe.h"
#include "supervisor/kernel/seccomp_filter.h"
#include "supervisor/launch/inherited_signals.h"
#include "supervisor/launch/launcher.h"
#include "supervisor/launch/process_tree.h"

namespace {

int run_target(warden::RunCommand& command) {
  using namespace warden;
  // Nothing without CAP_SYS_PTRACE may trace us or read our memory, not even a target that runs
  // as our own user (docs/hardening.md, "Privilege model").
  if (::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) {
    return exit_with_error(kExitInternal,
                           std::string("prctl(PR_SET_DUMPABLE): ") + std::strerror(errno));
  }
  AuditOptions audit_options;
  audit_options.strict = command.audit_strict;
  // As root the file can be protected from the target (append-only, hidden from its view).
  audit_options.protect_file = ::geteuid() == 0;
  auto audit = AuditLog::open(command.audit, command.policy.quota, audit_options);
  if (!audit) {
    if (audit_open_failure_is_usage(audit.error().code)) {
      return exit_with_error(kExitUsage, audit.error().message());
    }
    // Ours (no inotify instance for the file's watch, say): the run is recorded, sealed, with
    // the reason, where the destination opens without a watch.
    record_unopened_run(command.audit, command.policy.quota, kVersion, command.command.front(),
                        audit.error());
    return exit_with_error(kExitInternal, audit.error().message());
  }
  audit->write_start(kVersion, command.command.front());
  // From here on, every way out ends the run sealed, its summary saying why.
  auto fail = [&audit](std::string message) {
    audit->write_failure_summary(message);
    return exit_with_error(kExitInternal, message);
  };
  // auto: user notification where the kernel has everything it needs, else ptrace. The action
  // and pidfd_getfd are tried here, for real; ADDFD with SEND is asked of the target's own
  // listener by the launched child, before anything of the target's runs (launcher.cc). No
  // thread, no child: memfd-warden probe tries everything, at more cost.
  bool use_ptrace = command.backend == BackendChoice::kPtrace;
  if (!use_ptrace) {
    KernelFeatures features = probe_before_run();
    if (!features.error.empty()) {
      return fail("cannot tell what this kernel supports: " + features.error);
    }
    if (!features.user_notification || !features.pidfd_getfd) {
      std::string missing = !features.user_notification ? "user notification" : "pidfd_getfd (5.6)";
      if (command.backend == BackendChoice::kUnotify) {
        return fail("this kernel (" + features.release + ") lacks " + missing +
                    ", which the unotify backend needs; try --backend ptrace (memfd-warden "
                    "probe shows what this kernel has)");
      }
      spdlog::info("kernel lacks {}: using the ptrace backend", missing);
      use_ptrace = true;
    }
  }
  TrapSet traps = traps_for(command.policy);
  traps.x32 = kernel_runs_x32();
  if (command.policy.quota.strict_writes && !traps.growth) {
    spdlog::warn(
        "strict_writes has no effect without a byte limit (max_bytes, "
        "max_memfd_bytes, or a rule's max_bytes)");
  }
  auto filter = build_filter(use_ptrace ? TrapAction::kTrace : TrapAction::kUserNotify, traps);
  if (!filter) {
    return fail("building the seccomp filter: " + filter.error().message());
  }

  // Signals we act on arrive through a signalfd. SIGPIPE is blocked so that a closed audit pipe
  // is an EPIPE we report, not our death; SIGXFSZ so that our own writes and the growth calls we
  // carry out past an RLIMIT_FSIZE we inherited fail with EFBIG instead of killing us (a pending
  // signal is not inherited by a child). The target starts with the mask we were given.
  // SIGCHLD is taken back from an ignoring parent (inherited_signals.h); the target gets it as
  // we did.
  sigset_t handled;
  sigemptyset(&handled);
  for (int sig : {SIGCHLD, SIGINT, SIGTERM, SIGHUP, SIGPIPE, SIGXFSZ}) sigaddset(&handled, sig);
  InheritedSignals inherited;
  if (!take_over_signals(handled, inherited)) {
    return fail(std::string("sigprocmask: ") + std::strerror(errno));
  }
  sigdelset(&handled, SIGPIPE);
  sigdelset(&handled, SIGXFSZ);
  UniqueFd signal_fd(::signalfd(-1, &handled, SFD_NONBLOCK | SFD_CLOEXEC));
  if (!signal_fd.valid()) {
    return fail(std::string("signalfd: ") + std::strerror(errno));
  }
  // Orphans in the tree come to us, so "the tree has exited" is "we have no children left".
  if (::prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0) {
    return fail(std::string("prctl(PR_SET_CHILD_SUBREAPER): ") + std::strerror(errno));
  }

  LaunchRequest request;
  request.program = command.command.front();
  request.args.assign(command.command.begin() + 1, command.command.end());
  request.filter = &filter.value();
  request.child_signals = &inherited;
  if (command.user) request.privileges = *command.user;
  request.privileges.drop_caps = ::geteuid() == 0 && !command.keep_caps;
  SuperviseOptions options;
  options.dry_run = command.dry_run;
  options.tree_dies_with_us = command.tree_dies_with_us;
  options.check_exec_images = traps.exec;
  options.count_live = command.count_live || command.policy.counts_live();
  options.record_names = command.record_exe || command.policy.matches_exe();

  // The target runs under memfd-warden's init (tree_init.h) as PID 1 of its own PID namespace
  // (both backends): memfd-warden has no pid there, so the target cannot signal or trace it by
  // number.
  // --on-supervisor-exit=kill: if we die, the tree must die too. ptrace: PTRACE_O_EXITKILL; and
  // for both the init is killed by PR_SET_PDEATHSIG when we die, which kills the namespace.
  // Without the privilege to make a namespace, only the main process can be tied to us.
  int lifeline[2] = {-1, -1};
  if (command.tree_dies_with_us && ::pipe2(lifeline, O_CLOEXEC) != 0) {
    return fail(std::string("pipe2: ") + std::strerror(errno));
  }
  UniqueFd lifeline_read(lifeline[0]),
      lifeline_write(lifeline[1]);  // the write end lives as long as we do
  if (command.tree_dies_with_us) {
    request.die_with_supervisor = true;
    request.lifeline_fd = lifeline_read.get();
    request.lifeline_write_fd = lifeline_write.get();
  }
  // The backend makes the namespace (it must start its thread first: a thread cannot be
  // created after its creator unshared CLONE_NEWPID).
  request.through_tree_init = true;
  request.hide_path = audit->protected_path();
  // The init ends what the program leaves running (--orphans) and says how many on this pipe.
  int report[2] = {-1, -1};
  if (::pipe2(report, O_CLOEXEC | O_NONBLOCK) != 0) {
    return fail(std::string("pipe2: ") + std::strerror(errno));
  }
  UniqueFd report_read(report[0]), report_write(report[1]);
  request.orphans = command.orphans;
  request.report_fd = report_write.get();
  request.report_read_fd = report_read.get();
  SuperviseResult result;
  std::optional<BpfProgram> trace_filter;
  StallWatchdog watchdog;
  try {
    // Before the backends make the PID namespace, after which no thread can be made.
    if (auto started = watchdog.start(kill_descendants); !started) {
      throw std::system_error(started.error().code, std::generic_category(),
                              started.error().message());
    }
    if (!use_ptrace) {
      result =
          run_unotify_backend(command.policy, options, request, signal_fd.get(), audit.value());
      // The child found no ADDFD with SEND on its listener and ended before the program ran.
      use_ptrace = result.needs_ptrace && command.backend == BackendChoice::kAuto;
    }
    if (use_ptrace) {
      if (result.needs_ptrace) {
        spdlog::info("kernel lacks ADDFD with SEND: using the ptrace backend");
        auto built = build_filter(TrapAction::kTrace, traps);
        if (!built) {
          return fail("building the seccomp filter: " + built.error().message());
        }
        trace_filter.emplace(std::move(built.value()));
        request.filter = &*trace_filter;
      }
      result = run_ptrace_backend(command.policy, options, std::move(request), signal_fd.get(),
                                  audit.value());
    }
  } catch (const std::system_error& e) {
    // The backends make their threads before the program runs; RLIMIT_NPROC can refuse one.
    // The run still ends sealed, with the reason.
    std::string hint = e.code() == std::errc::resource_unavailable_try_again
                           ? " (this user's processes and threads are all in use: raise "
                             "RLIMIT_NPROC, ulimit -u)"
                           : "";
    return fail(std::string("starting the supervisor's thread: ") + e.what() + hint);
  } catch (const std::exception& e) {
    // Past that only memory can fail here; the summary then has no totals of the run.
    return fail(std::string("supervising the run: ") + e.what());
  }
  watchdog.stop();
  if (watchdog.fired()) {
    result.exit_code = kExitInternal;
    result.error = watchdog.failure();
  }
  audit->settle();
  if (result.error.empty() && audit->strict_failure()) {
    result.exit_code = kExitInternal;
    result.error = "the audit log was " + audit->tampering() +
                   " during the run (--audit-strict); the run was ended";
  }
  // Also when the target never ran: the run ends sealed, its summary saying why.
  audit->write_summary(result);
  if (!result.error.empty()) return exit_with_error(result.exit_code, result.error);
  // A dry run refuses some calls for real too (a bad name, an untraced clone): said apart.
  uint64_t would = audit->count(Decision::kWouldDeny) + audit->count(Decision::kWouldKill);
  uint64_t refused = audit->refusals() - would;
  if (command.fail_on_deny && refused + would > 0 && result.exit_code == 0) {
    std::string what;
    if (refused > 0) what = std::to_string(refused) + " calls were refused";
    if (refused > 0 && would > 0) what += " and " + std::to_string(would) + " would have been";
    if (refused == 0) what = std::to_string(would) + " calls would have been refused";
    return exit_with_error(kExitDenied, what + " (--fail-on-deny); the audit has each one");
  }
  return result.exit_code;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    auto logger = spdlog::stderr_color_st("memfd-warden");
    logger->set_pattern("memfd-warden: %l: %v");
    spdlog::set_default_logger(logger);
    warden::CliOutcome outcome = warden::parse_command_line(argc, argv);
    spdlog::set_level(spdlog::level::from_str(outcome.log_level));
    if (outcome.exit_code) return *outcome.exit_code;
    if (outcome.agent) {
      auto policies = warden::load_agent_policies(*outcome.agent);
      if (!policies) {
        return warden::exit_with_error(warden::kExitUsage, policies.error().message());
      }
      return warden::run_agent(*outcome.agent, std::move(policies.value()));
    }
    return run_target(*outcome.run);
  } catch (const std::exception& e) {
    return warden::exit_with_error(warden::kExitInternal,
                                   std::string("internal error: ") + e.what());
  }
}
