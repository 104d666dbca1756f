#include "supervisor/launch/launcher.h"

#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <spdlog/spdlog.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <boost/process/args.hpp>
#include <boost/process/child.hpp>
#include <boost/process/exe.hpp>
#include <boost/process/extend.hpp>
#include <boost/process/search_path.hpp>
#include <cstdio>
#include <cstring>
#include <optional>
#include <system_error>
#include <utility>

#include "supervisor/kernel/fd_message.h"
#include "supervisor/kernel/kernel_abi.h"
#include "supervisor/kernel/kernel_probe.h"
#include "supervisor/launch/tree_init.h"

namespace warden {
namespace {

// The child's setup reports a failure as one int, (step << 16) | errno: through Boost's error
// channel before an execve, or through a pipe of our own before tree_init.
enum class SetupStep {
  kNoNewPrivs = 1,
  kSeccomp,
  kSendListener,
  kTracerHandshake,
  kDeathSignal,
  kPrivileges,
  kAddfdSend,
};
constexpr int kStepShift = 16;

const char* setup_step_name(int step) {
  switch (static_cast<SetupStep>(step)) {
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
    case SetupStep::kAddfdSend:
      return "asking the listener for SECCOMP_IOCTL_NOTIF_ADDFD with SECCOMP_ADDFD_FLAG_SEND";
  }
  return "setting up the child";
}

// What the launched child does before it runs anything of the target's: restore the signal
// mask, tie its life to ours, set no_new_privs, load the filter and pass the listener (or wait
// for the tracer). Raw syscalls only: the parent may have had threads, so nothing here may
// allocate, lock or log.
struct ChildSetup {
  sock_fprog* program = nullptr;
  int socket_fd = -1;
  const InheritedSignals* signals = nullptr;
  bool tracer_handshake = false;
  bool die_with_supervisor = false;
  int lifeline_fd = -1;
  int lifeline_write_fd = -1;
  const TargetPrivileges* privileges = nullptr;  // applied here when no tree_init does it
};

// 0, or (step << kStepShift) | errno: a value no execve errno can take, and one that names the
// step. A child for which the lifeline says memfd-warden is gone exits here.
int set_up_child(const ChildSetup& setup) {
  auto failed = [](SetupStep step) { return (static_cast<int>(step) << kStepShift) | errno; };
  restore_inherited_signals(*setup.signals);  // the init takes SIGCHLD back for itself
  if (setup.die_with_supervisor) {
    if (::prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) != 0) return failed(SetupStep::kDeathSignal);
    // If memfd-warden died before the prctl, the signal will never come: the lifeline's write
    // end (held only by memfd-warden once ours is closed) tells.
    ::close(setup.lifeline_write_fd);
    pollfd lifeline{setup.lifeline_fd, POLLIN, 0};
    if (::poll(&lifeline, 1, 0) != 0) ::_exit(128 + SIGKILL);
  }
  if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return failed(SetupStep::kNoNewPrivs);
  // memfd-warden is not dumpable, and we are its fork: become dumpable again so that a tracer
  // without CAP_SYS_PTRACE may seize us (execve would reset it anyway).
  ::prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
  if (setup.privileges != nullptr) {
    const char* step = "";
    if (int err = apply_target_privileges(*setup.privileges, &step); err != 0) {
      errno = err;
      return failed(SetupStep::kPrivileges);
    }
  }
  if (setup.tracer_handshake) {
    // RET_TRACE with no tracer fails the call with ENOSYS, so nothing trapped may run before
    // the tracer has seized us: tell it we are here and wait for its answer first (with
    // strict_writes even this write would be trapped), then load the filter. The tracer learns
    // our pid from the credentials the kernel attaches (SO_PASSCRED), in its own PID
    // namespace: in a new namespace we would call ourselves 1.
    char hello = 'H', go = 0;
    if (::write(setup.socket_fd, &hello, 1) != 1 || ::read(setup.socket_fd, &go, 1) != 1) {
      return failed(SetupStep::kTracerHandshake);
    }
    ::close(setup.socket_fd);
    // Loaded with a listener, which is closed at once (RET_TRACE never notifies it): a listener
    // already in our chain (another memfd-warden, a container's seccomp agent) makes that EBUSY.
    // Such a listener's USER_NOTIF outranks RET_TRACE, so it would see memfd_create first and
    // could let it through: the policy could not be enforced. Before 5.0 (EINVAL) there are no
    // listeners.
    long listener =
        sys::seccomp(SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER, setup.program);
    if (listener < 0 && errno == EINVAL) {
      if (sys::seccomp(SECCOMP_SET_MODE_FILTER, 0, setup.program) != 0) {
        return failed(SetupStep::kSeccomp);
      }
      return 0;
    }
    if (listener < 0) return failed(SetupStep::kSeccomp);
    ::close(static_cast<int>(listener));
    return 0;
  }
  // WAIT_KILLABLE_RECV (5.19+): once we have received a call, only a fatal signal interrupts
  // the caller's wait, so a call we carry out ourselves is never also restarted (SA_RESTART)
  // behind our back. Older kernels refuse the flag; then we go without it.
  long listener = sys::seccomp(
      SECCOMP_SET_MODE_FILTER,
      SECCOMP_FILTER_FLAG_NEW_LISTENER | SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV, setup.program);
  if (listener < 0 && errno == EINVAL) {
    listener =
        sys::seccomp(SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER, setup.program);
  }
  if (listener < 0) return failed(SetupStep::kSeccomp);
  int fd = static_cast<int>(listener);
  // The backend hands every allowed memfd over with ADDFD and SEND (5.14). Asked here, of the
  // listener itself, before anything of the target's has run: without it the child ends and
  // --backend auto starts the target afresh under ptrace. One ioctl, where a probe of our own
  // before the launch would cost a thread (about a millisecond).
  // EINVAL is the kernel's answer for a flag it does not know. That is also said on the
  // handshake socket (send, which no policy traps): with strict_writes the failure's write(2)
  // below is itself a trapped call, to a listener nobody holds, and fails.
  if (!kernel_takes_addfd_flags(fd, SECCOMP_ADDFD_FLAG_SEND)) {
    int err = errno;
    ::close(fd);
    if (err == EINVAL) ::send(setup.socket_fd, &kLacksAddfdSend, 1, MSG_NOSIGNAL);
    errno = err;
    return failed(SetupStep::kAddfdSend);
  }
  FdMessage message;
  message.set_fd(fd);
  if (::sendmsg(setup.socket_fd, &message.msg, MSG_NOSIGNAL) != 1) {
    return failed(SetupStep::kSendListener);
  }
  ::close(fd);
  ::close(setup.socket_fd);
  return 0;
}

// Boost.Process runs this in the child right before execve (the launch without tree_init).
struct SetupBeforeExec : boost::process::extend::handler {
  const ChildSetup* setup = nullptr;

  template <typename Executor>
  void on_exec_setup(Executor& exec) const {
    if (int code = set_up_child(*setup); code != 0) {
      exec.set_error(std::error_code(code, std::system_category()), "child setup");
      ::_exit(125);  // Boost would go on to execve after set_error; a half-set-up child must not
    }
  }

  // In the parent, when the child failed before or at its execve: Boost leaves it unreaped, and
  // a launch that is retried (under ptrace) must not find it among its children.
  // (Not under ptrace: the tracer thread owns that child, and a wait here could take its stops.)
  template <typename Executor>
  void on_error(Executor& exec, const std::error_code&) const {
    if (exec.pid > 0 && !setup->tracer_handshake) reap_child(exec.pid);
  }
};

}  // namespace

void reap_child(pid_t pid) {
  while (::waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
  }
}

namespace {

LaunchFailure exec_failure(const std::string& program, const std::error_code& ec) {
  int err = ec.value();
  if (err >> kStepShift != 0) {
    int cause = err & ((1 << kStepShift) - 1);
    std::string hint = (err >> kStepShift) == static_cast<int>(SetupStep::kSeccomp)
                           ? " (does this kernel have seccomp user notification, Linux 5.0+?)"
                           : "";
    if ((err >> kStepShift) == static_cast<int>(SetupStep::kAddfdSend) && cause == EINVAL) {
      return lacks_addfd_send();
    }
    if ((err >> kStepShift) == static_cast<int>(SetupStep::kSeccomp) && cause == EBUSY) {
      hint =
          " (memfd-warden already runs under a seccomp listener, of another memfd-warden or "
          "of a container's seccomp agent, which would see memfd_create before either "
          "backend and could let it through: the policy cannot be enforced here; run "
          "memfd-warden outside it, or as the container's agent)";
    }
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

LaunchFailure lacks_addfd_send() {
  return {125,
          "this kernel lacks SECCOMP_IOCTL_NOTIF_ADDFD with SECCOMP_ADDFD_FLAG_SEND (Linux 5.14), "
          "which the unotify backend needs; try --backend ptrace (memfd-warden probe shows what "
          "this kernel has)",
          true};
}

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

namespace {

// The launch without tree_init: Boost.Process forks, runs the setup and execs the program.
LaunchResult spawn_program(const std::string& program, const LaunchRequest& request,
                           const ChildSetup& setup, pid_t* pid) {
  namespace bp = boost::process;
  LaunchResult result;
  SetupBeforeExec handler;
  handler.setup = &setup;
  std::error_code ec;
  errno = 0;
  bp::child child(bp::exe = program, bp::args = request.args, ec, handler);
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
  *pid = child.id();
  child.detach();
  return result;
}

// The launch through tree_init: our own fork runs the setup and becomes the namespace's init
// (tree_init.h), which execs the program in a child of its own. No execve of memfd-warden: the
// init is this process's copy, so nothing is loaded twice. A pipe tells us how the setup went;
// its end in the child closes when the setup is done.
LaunchResult fork_tree_init(const std::string& program, const LaunchRequest& request,
                            const ChildSetup& setup, pid_t* pid) {
  LaunchResult result;
  // Everything the child uses is made here: after fork it may not allocate.
  std::vector<std::string> words{program};
  words.insert(words.end(), request.args.begin(), request.args.end());
  std::vector<char*> argv;
  for (auto& word : words) argv.push_back(word.data());
  argv.push_back(nullptr);
  TreeInitConfig config;
  config.program = argv.data();
  config.hide = request.hide_path.empty() ? nullptr : request.hide_path.c_str();
  config.end_orphans = request.orphans.end;
  config.grace_ms = static_cast<long>(request.orphans.grace.count());
  config.report_fd = request.report_fd;
  config.privileges = request.privileges;
  int status[2];
  if (::pipe2(status, O_CLOEXEC) != 0) {
    result.failure = LaunchFailure{125, std::string("pipe2: ") + std::strerror(errno)};
    return result;
  }
  UniqueFd status_read(status[0]), status_write(status[1]);
  pid_t child = ::fork();
  if (child < 0) {
    result.failure =
        LaunchFailure{125, "starting " + request.program + ": fork: " + std::strerror(errno)};
    return result;
  }
  if (child == 0) {
    if (int code = set_up_child(setup); code != 0) {
      (void)::write(status[1], &code, sizeof(code));
      ::_exit(125);
    }
    ::close(status[1]);
    run_tree_init(config);
  }
  status_write.reset();
  int code = 0;
  ssize_t got;
  do {
    got = ::read(status_read.get(), &code, sizeof(code));
  } while (got < 0 && errno == EINTR);
  if (got == sizeof(code)) {
    result.failure = exec_failure(request.program, std::error_code(code, std::system_category()));
    // It has exited or is about to: reaped here, so that a launch tried again (under ptrace)
    // does not find it among its children. Not under ptrace: the tracer thread owns it.
    if (!setup.tracer_handshake) reap_child(child);
    return result;
  }
  *pid = child;
  return result;
}

}  // namespace

LaunchResult launch(const LaunchRequest& request) {
  LaunchResult result;
  std::string program = request.program;
  if (program.find('/') == std::string::npos) {
    program = boost::process::search_path(request.program).string();
    if (program.empty()) {
      result.failure = LaunchFailure{127, request.program + ": command not found in PATH"};
      return result;
    }
  }

  bool ptrace_mode = request.mode == LaunchMode::kPtrace;
  sock_fprog fprog = request.filter->fprog();
  ChildSetup setup;
  setup.program = &fprog;
  setup.socket_fd = request.handshake_fd;
  setup.signals = request.child_signals;
  setup.tracer_handshake = ptrace_mode;
  setup.die_with_supervisor = request.die_with_supervisor;
  setup.lifeline_fd = request.lifeline_fd;
  setup.lifeline_write_fd = request.lifeline_write_fd;
  if (!request.through_tree_init) setup.privileges = &request.privileges;

  pid_t pid = -1;
  result = request.through_tree_init ? fork_tree_init(program, request, setup, &pid)
                                     : spawn_program(program, request, setup, &pid);
  if (result.failure) return result;

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

LaunchResult launch_in_namespace(LaunchRequest& request,
                                 const std::function<void()>& plain_launch) {
  if (!request.through_tree_init) {
    if (plain_launch) plain_launch();
    return launch(request);
  }
  PidNamespaceScope scope;
  static bool warned = false;  // once per run, though auto may launch twice
  if (!scope.ok() && !std::exchange(warned, true)) {
    spdlog::warn(
        "cannot make a PID namespace for the target ({}): it can see memfd-warden's pid, and "
        "if memfd-warden dies only the main process dies with it, not its descendants (run as "
        "root for both)",
        std::strerror(scope.error()));
  }
  if (!scope.ok()) {
    request.through_tree_init = false;
    if (plain_launch) plain_launch();
  }
  return launch(request);
}

}  // namespace warden
