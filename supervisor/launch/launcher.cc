#include "supervisor/launch/launcher.h"

#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <spdlog/spdlog.h>
#include <sys/prctl.h>
#include <sys/socket.h>

#include <boost/process/args.hpp>
#include <boost/process/child.hpp>
#include <boost/process/exe.hpp>
#include <boost/process/extend.hpp>
#include <boost/process/search_path.hpp>
#include <cstdio>
#include <cstring>
#include <optional>
#include <system_error>

#include "supervisor/kernel/fd_message.h"
#include "supervisor/kernel/kernel_abi.h"
#include "supervisor/launch/tree_init.h"

namespace warden {
namespace {

// Boost carries only an int from the child's setup back to us, so a setup failure is sent as
// (step << 16) | errno: a value no execve errno can take, and one that names the step.
enum class SetupStep {
  kSigmask = 1,
  kNoNewPrivs,
  kSeccomp,
  kSendListener,
  kTracerHandshake,
  kDeathSignal,
  kPrivileges,
};
constexpr int kStepShift = 16;

const char* setup_step_name(int step) {
  switch (static_cast<SetupStep>(step)) {
    case SetupStep::kSigmask:
      return "restoring the signal mask";
    case SetupStep::kNoNewPrivs:
      return "prctl(PR_SET_NO_NEW_PRIVS)";
    case SetupStep::kSeccomp:
      return "loading the seccomp filter (seccomp(2) with NEW_LISTENER)";
    case SetupStep::kSendListener:
      return "sending the seccomp listener to the supervisor";
    case SetupStep::kTracerHandshake:
      return "waiting for the ptrace tracer to attach";
    case SetupStep::kDeathSignal:
      return "tying the target's life to memfd-warden's (PR_SET_PDEATHSIG)";
    case SetupStep::kPrivileges:
      return "dropping the target's privileges (capabilities, --user)";
  }
  return "setting up the child";
}

// Runs in the child right before execve. Raw syscalls only: the parent may have had threads,
// so nothing here may allocate, lock or log.
struct FilterInstaller : boost::process::extend::handler {
  sock_fprog* program;
  int socket_fd;
  const sigset_t* sigmask;
  bool tracer_handshake = false;
  bool die_with_supervisor = false;
  int lifeline_fd = -1;
  int lifeline_write_fd = -1;
  const TargetPrivileges* privileges = nullptr;  // applied here when no tree_init does it
  int inherited_fd = -1;  // kept open across the execve (tree_init's report pipe)

  template <typename Executor>
  void fail(Executor& exec, SetupStep step) const {
    int code = (static_cast<int>(step) << kStepShift) | errno;
    exec.set_error(std::error_code(code, std::system_category()), "child setup");
    ::_exit(125);  // Boost would go on to execve after set_error; a half-set-up child must not
  }

  template <typename Executor>
  void on_exec_setup(Executor& exec) const {
    if (::sigprocmask(SIG_SETMASK, sigmask, nullptr) != 0) fail(exec, SetupStep::kSigmask);
    if (die_with_supervisor) {
      if (::prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) != 0) fail(exec, SetupStep::kDeathSignal);
      // If memfd-warden died before the prctl, the signal will never come: the lifeline's write
      // end (held only by memfd-warden once ours is closed) tells.
      ::close(lifeline_write_fd);
      pollfd lifeline{lifeline_fd, POLLIN, 0};
      if (::poll(&lifeline, 1, 0) != 0) ::_exit(128 + SIGKILL);
    }
    if (inherited_fd >= 0) ::fcntl(inherited_fd, F_SETFD, 0);
    if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) fail(exec, SetupStep::kNoNewPrivs);
    // memfd-warden is not dumpable, and we are its fork: become dumpable again so that a tracer
    // without CAP_SYS_PTRACE may seize us (execve would reset it anyway).
    ::prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
    if (privileges != nullptr) {
      const char* step = "";
      if (int err = apply_target_privileges(*privileges, &step); err != 0) {
        errno = err;
        fail(exec, SetupStep::kPrivileges);
      }
    }
    if (tracer_handshake) {
      // RET_TRACE with no tracer fails the call with ENOSYS, so nothing trapped may run before
      // the tracer has seized us: tell it we are here and wait for its answer first (with
      // strict_writes even this write would be trapped), then load the filter, then exec. The
      // tracer learns our pid from the credentials the kernel attaches (SO_PASSCRED), in its
      // own PID namespace: in a new namespace we would call ourselves 1.
      char hello = 'H', go = 0;
      if (::write(socket_fd, &hello, 1) != 1 || ::read(socket_fd, &go, 1) != 1) {
        fail(exec, SetupStep::kTracerHandshake);
      }
      ::close(socket_fd);
      if (sys::seccomp(SECCOMP_SET_MODE_FILTER, 0, program) != 0) {
        fail(exec, SetupStep::kSeccomp);
      }
      return;
    }
    // WAIT_KILLABLE_RECV (5.19+): once we have received a call, only a fatal signal interrupts
    // the caller's wait, so a call we carry out ourselves is never also restarted (SA_RESTART)
    // behind our back. Older kernels refuse the flag; then we go without it.
    long listener = sys::seccomp(
        SECCOMP_SET_MODE_FILTER,
        SECCOMP_FILTER_FLAG_NEW_LISTENER | SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV, program);
    if (listener < 0 && errno == EINVAL) {
      listener = sys::seccomp(SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER, program);
    }
    if (listener < 0) fail(exec, SetupStep::kSeccomp);

    int fd = static_cast<int>(listener);
    FdMessage message;
    message.set_fd(fd);
    if (::sendmsg(socket_fd, &message.msg, MSG_NOSIGNAL) != 1) {
      fail(exec, SetupStep::kSendListener);
    }
    ::close(fd);
    ::close(socket_fd);
  }
};

LaunchFailure exec_failure(const std::string& program, const std::error_code& ec) {
  int err = ec.value();
  if (err >> kStepShift != 0) {
    int cause = err & ((1 << kStepShift) - 1);
    std::string hint = (err >> kStepShift) == static_cast<int>(SetupStep::kSeccomp)
                           ? " (does this kernel have seccomp user notification, Linux 5.0+?)"
                           : "";
    return {125,
            std::string(setup_step_name(err >> kStepShift)) + ": " + std::strerror(cause) + hint};
  }
  if (err == ENOENT || err == ENOTDIR) {
    return {127, program + ": no such file or directory"};
  }
  if (err == EACCES || err == ENOEXEC || err == EISDIR || err == EPERM || err == ETXTBSY) {
    return {126, program + ": cannot execute: " + std::strerror(err)};
  }
  return {125, "starting " + program + ": " + ec.message()};
}

}  // namespace

PidNamespaceScope::PidNamespaceScope()
    : own_(::open("/proc/thread-self/ns/pid", O_RDONLY | O_CLOEXEC)) {
  ok_ = own_.valid() && ::unshare(CLONE_NEWPID) == 0;
  error_ = ok_ ? 0 : errno;
}

PidNamespaceScope::~PidNamespaceScope() {
  // pid_ns_for_children is per thread: after unshare every later fork of this thread would land
  // in the target's namespace (and fail once it is gone).
  if (ok_ && ::setns(own_.get(), CLONE_NEWPID) != 0) {
    std::fprintf(stderr, "memfd-warden: warning: returning to our own PID namespace: %s\n",
                 std::strerror(errno));
  }
}

LaunchResult launch(const LaunchRequest& request) {
  namespace bp = boost::process;
  LaunchResult result;
  boost::filesystem::path exe;
  if (request.program.find('/') != std::string::npos) {
    exe = request.program;
  } else {
    exe = bp::search_path(request.program);
    if (exe.empty()) {
      result.failure = LaunchFailure{127, request.program + ": command not found in PATH"};
      return result;
    }
  }

  bool ptrace_mode = request.mode == LaunchMode::kPtrace;

  sock_fprog fprog = request.filter->fprog();
  FilterInstaller installer;
  installer.program = &fprog;
  installer.socket_fd = request.handshake_fd;
  installer.sigmask = request.child_sigmask;
  installer.tracer_handshake = ptrace_mode;
  installer.die_with_supervisor = request.die_with_supervisor;
  installer.lifeline_fd = request.lifeline_fd;
  installer.lifeline_write_fd = request.lifeline_write_fd;
  if (!request.through_tree_init) installer.privileges = &request.privileges;
  if (request.through_tree_init) installer.inherited_fd = request.report_fd;

  std::error_code ec;
  errno = 0;
  // Boost.Process v1 passes the resolved path as argv[0].
  std::string program = exe.string();
  std::vector<std::string> args = request.args;
  if (request.through_tree_init) {
    // The child becomes PID 1 of the new namespace as `memfd-warden __init ... -- PROGRAM ARGS`.
    std::vector<std::string> init_args{kInitCommand};
    if (!request.hide_path.empty()) init_args.insert(init_args.end(), {"--hide", request.hide_path});
    init_args.insert(init_args.end(),
                     {"--orphans", request.orphans.end ? "end" : "wait", "--grace-ms",
                      std::to_string(request.orphans.grace.count()), "--report-fd",
                      std::to_string(request.report_fd)});
    for (auto& arg : privileges_to_args(request.privileges)) init_args.push_back(std::move(arg));
    init_args.insert(init_args.end(), {"--", program});
    args.insert(args.begin(), init_args.begin(), init_args.end());
    program = "/proc/self/exe";
  }
  bp::child child(bp::exe = program, bp::args = args, ec, installer);
  int spawn_errno = errno;
  if (ec) {
    // A setup failure in the child reports through `ec` too; its message names the step.
    result.failure = exec_failure(request.program, ec);
    return result;
  }
  // Boost 1.74 loses its own pipe(2)/fork(2) failures in the parent: it returns an invalid child
  // (pid -1) and leaves `ec` clear. A pid of -1 must never reach kill(2): kill(-1, SIGKILL) is
  // every process we may signal.
  if (!child.valid() || child.id() <= 0) {
    child.detach();
    result.failure = LaunchFailure{
        125, "starting " + request.program + ": Boost.Process could not create the process" +
                 (spawn_errno != 0 ? std::string(": ") + std::strerror(spawn_errno) : "")};
    return result;
  }
  // We reap with waitpid(-1) ourselves; Boost must never wait on (or terminate) the child.
  pid_t pid = child.id();
  child.detach();

  Target target;
  target.pid = pid;
  if (ptrace_mode) {
    // The tracer owns this child: it opened its pidfd while the child waited for it, and may
    // already have reaped it (a quick target), so its pid is not ours to use here.
    result.target = std::move(target);
    return result;
  }
  target.pidfd = UniqueFd(sys::pidfd_open(pid));  // our unreaped child: its pid cannot be reused
  if (!target.pidfd.valid()) {
    ::kill(pid, SIGKILL);  // pid > 0 checked above
    result.failure = LaunchFailure{125, std::string("pidfd_open: ") + std::strerror(errno)};
    return result;
  }
  result.target = std::move(target);
  return result;
}

LaunchResult launch_in_namespace(LaunchRequest& request) {
  if (!request.through_tree_init) return launch(request);
  PidNamespaceScope scope;
  if (!scope.ok()) {
    spdlog::warn(
        "cannot make a PID namespace for the target ({}): it can see memfd-warden's pid, and "
        "if memfd-warden dies only the main process dies with it, not its descendants (run as "
        "root for both)",
        std::strerror(scope.error()));
    request.through_tree_init = false;
  }
  return launch(request);
}

}  // namespace warden
