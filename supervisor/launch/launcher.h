// Starts the target under the filter. The filter is compiled before fork; after fork the child
// only makes raw syscalls: restore the signal mask, set no_new_privs, load the filter, pass the
// listener fd to us over SCM_RIGHTS and close its own copy (a target holding its own listener
// could answer its own notifications). Then it execs the program, or becomes the namespace's
// init (tree_init.h), which starts the program.
#pragma once

#include <signal.h>

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "policy/result.h"
#include "supervisor/kernel/seccomp_filter.h"
#include "supervisor/kernel/unique_fd.h"
#include "supervisor/launch/inherited_signals.h"
#include "supervisor/launch/process_tree.h"
#include "supervisor/launch/target_privileges.h"

namespace warden {

enum class LaunchMode {
  kUnotify,  // the child sends its seccomp listener (SCM_RIGHTS) over handshake_fd, then execs
  kPtrace,   // the child sends its pid over handshake_fd and waits until a tracer has seized it
};

struct LaunchRequest {
  std::string program;            // as typed: searched in PATH when it has no '/'
  std::vector<std::string> args;  // argv[1..]
  BpfProgram* filter = nullptr;
  const InheritedSignals* child_signals = nullptr;  // what the target starts with
  LaunchMode mode = LaunchMode::kUnotify;
  // The child's end of a socketpair. Another thread must serve the other end while launch()
  // waits for the exec: receive the listener and answer the calls it traps (kUnotify), or read
  // the pid, PTRACE_SEIZE the child and send one byte (kPtrace).
  int handshake_fd = -1;
  // Fail closed when memfd-warden dies: the child gets PR_SET_PDEATHSIG(SIGKILL), checked against
  // `lifeline_fd` (the read end of a pipe whose write end only memfd-warden holds) so that a
  // supervisor dying before the prctl is not missed.
  bool die_with_supervisor = false;
  int lifeline_fd = -1;
  int lifeline_write_fd = -1;  // closed in the child before the check
  // Run the program under memfd-warden's init (tree_init.h): the first process of a new PID
  // namespace, which the caller has already unshared (PidNamespaceScope).
  bool through_tree_init = false;
  // A path tree_init makes unreachable for the target (the audit file): a read-only /dev/null
  // is mounted over it in the target's mount namespace.
  std::string hide_path;
  // What tree_init does with the rest of the namespace when the program exits, and the write end
  // of the pipe it reports the count of ended processes on (kept open by tree_init only).
  OrphanRule orphans;
  int report_fd = -1;
  int report_read_fd = -1;  // memfd-warden's end (non-blocking): read_init_report()
  // Capabilities to drop and ids to take on, right before the program's own execve (by
  // tree_init when there is one, else by the launched child).
  TargetPrivileges privileges;
};

// Makes the next child forked by this thread the first process of a new PID namespace, and puts
// this thread's later children back in its own namespace when it goes. Threads must be created
// before: clone(CLONE_THREAD) fails once a thread's children would land in another namespace.
class PidNamespaceScope {
 public:
  // Tries to unshare(CLONE_NEWPID); ok() says whether it worked (it needs CAP_SYS_ADMIN).
  PidNamespaceScope();
  ~PidNamespaceScope();
  PidNamespaceScope(const PidNamespaceScope&) = delete;
  PidNamespaceScope& operator=(const PidNamespaceScope&) = delete;
  bool ok() const { return ok_; }
  int error() const { return error_; }

 private:
  UniqueFd own_;
  bool ok_ = false;
  int error_ = 0;
};

struct Target {
  pid_t pid = -1;
  UniqueFd pidfd;
  UniqueFd listener;  // the seccomp notify fd (kUnotify only)
};

// Why a launch failed, mapped to the exit codes a shell would use.
struct LaunchFailure {
  int exit_code;  // 127 not found, 126 not executable, 125 our own failure
  std::string message;
  // The child's listener lacks ADDFD with SEND: user notification cannot serve this target, and
  // nothing of the target's has run (--backend auto then launches it under ptrace).
  bool needs_ptrace = false;
};

// The failure of a launch whose child found no ADDFD with SEND on its listener (needs_ptrace).
LaunchFailure lacks_addfd_send();

// What the child sends on the handshake socket instead of its listener in that case (one byte,
// no fd): it reaches us even where the child's report through a pipe, a write(2), is a trapped
// call (strict_writes) and fails.
inline constexpr char kLacksAddfdSend = 'N';

// Waits until child `pid` has ended, through EINTR: a launched child that failed before anything
// of the target's ran, reaped so that a launch tried again (under ptrace) does not find it.
void reap_child(pid_t pid);

struct LaunchResult {
  std::optional<Target> target;
  std::optional<LaunchFailure> failure;
};

LaunchResult launch(const LaunchRequest& request);

// launch(), in a PID namespace of the target's own when request.through_tree_init asks for one
// (call it from the thread that forks, once every other thread has been started). Without the
// privilege to make a namespace it warns and launches without tree_init: then only the main
// process dies with memfd-warden, and the target can see memfd-warden's pid. `plain_launch`, if
// given, runs right before a launch without tree_init, whose child execs the program itself
// while launch() waits: what must serve that child meanwhile starts there (a thread may be
// started then; it could not be while the namespace is being made).
LaunchResult launch_in_namespace(LaunchRequest& request,
                                 const std::function<void()>& plain_launch = {});

}  // namespace warden
