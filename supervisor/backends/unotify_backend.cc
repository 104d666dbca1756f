#include "supervisor/backends/unotify_backend.h"

#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <spdlog/spdlog.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <cstring>
#include <optional>
#include <thread>

#include "supervisor/backends/notify_session.h"
#include "supervisor/calls/memfd_ledger.h"
#include "supervisor/kernel/fd_message.h"
#include "supervisor/kernel/notify_fd.h"
#include "supervisor/launch/launcher.h"
#include "supervisor/launch/process_tree.h"
#include "supervisor/launch/tree_init.h"

namespace warden {
namespace {

enum Source : size_t { kNotify, kSignals, kLedger, kAuditWatch };

// Reads every pending signal; returns true when a SIGCHLD was among them.
bool handle_signals(int signal_fd, ProcessTree& tree) {
  bool child_changed = false;
  signalfd_siginfo info{};
  while (::read(signal_fd, &info, sizeof(info)) == sizeof(info)) {
    if (info.ssi_signo == SIGCHLD) {
      child_changed = true;
    } else {
      spdlog::info("forwarding signal {} to the target", info.ssi_signo);
      tree.forward(static_cast<int>(info.ssi_signo));
    }
  }
  return child_changed;
}

// What the child sent on the handshake socket: its listener, word that the listener lacks ADDFD
// with SEND (kLacksAddfdSend), or nothing (it died first).
enum class Handshake { kNothing, kListener, kLacksAddfdSend };

Handshake receive_listener(int handshake, std::optional<NotifyFd>& notify, std::string& error) {
  FdMessage message;
  if (::recvmsg(handshake, &message.msg, MSG_CMSG_CLOEXEC) != 1) return Handshake::kNothing;
  if (message.fd() < 0) {
    return message.payload == kLacksAddfdSend ? Handshake::kLacksAddfdSend : Handshake::kNothing;
  }
  auto adopted = NotifyFd::adopt(UniqueFd(message.fd()));
  if (!adopted) {
    error = adopted.error().message();
    return Handshake::kNothing;
  }
  notify.emplace(std::move(adopted.value()));
  return Handshake::kListener;
}

// Runs on its own thread while launch() waits for a child that execs the program itself:
// receives the listener, then answers calls (the child's own execve is one, when exec is
// trapped) until `stop` fires. The main thread touches none of this state until it has joined
// this thread.
void serve_during_launch(int handshake, int stop, std::optional<NotifyFd>& notify,
                         NotifySession& session, Handshake& received, std::string& error) {
  received = receive_listener(handshake, notify, error);
  if (received != Handshake::kListener) return;
  for (;;) {
    pollfd fds[2] = {{notify->fd(), POLLIN, 0}, {stop, POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0 && errno != EINTR) return;
    if (fds[1].revents & POLLIN) return;
    if (fds[0].revents & POLLIN) {
      if (int err = session.serve_one(*notify); err != 0) {
        error = std::string("SECCOMP_IOCTL_NOTIF_RECV: ") + std::strerror(err);
        return;
      }
    } else if (fds[0].revents & (POLLHUP | POLLERR)) {
      return;  // the child died before it exec'd
    }
  }
}

}  // namespace

SuperviseResult run_unotify_backend(const Policy& policy, const SuperviseOptions& options,
                                    LaunchRequest request, int signal_fd, AuditLog& audit) {
  SuperviseResult result;
  auto ledger = MemfdLedger::open(policy.rules.size(), options.count_live);
  if (!ledger) {
    result.error = ledger.error().message();
    return result;
  }
  NotifySession session(policy, options, *ledger, audit);
  NoexecScopes& scopes = session.scopes();
  int sockets[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sockets) != 0) {
    result.error = std::string("socketpair: ") + std::strerror(errno);
    return result;
  }
  UniqueFd ours(sockets[0]), theirs(sockets[1]);
  // The child passes its listener, then becomes the init, which starts the program once launch
  // has returned: nothing needs answering before, and the listener waits in the socket. Without
  // a PID namespace the child execs the program itself, and its execve may be a trapped call,
  // which must be answered while launch() (Boost.Process) still waits for that exec: then a
  // thread serves the notify fd until launch() returns, and hands it back.
  std::optional<NotifyFd> notify;
  Handshake received = Handshake::kNothing;
  std::string serve_error;
  UniqueFd stop(::eventfd(0, EFD_CLOEXEC));  // ends the serving thread, if there is one
  if (!stop.valid()) {
    result.error = std::string("eventfd: ") + std::strerror(errno);
    return result;
  }
  std::optional<std::thread> server;
  auto serve_while_launching = [&] {
    server.emplace([&] {
      serve_during_launch(ours.get(), stop.get(), notify, session, received, serve_error);
    });
  };
  request.mode = LaunchMode::kUnotify;
  request.handshake_fd = theirs.get();
  // The tree's namespace takes our vm.memfd_noexec as its own when launch makes it. If nothing in
  // it can write the sysctl, that is its value for good (a target without CAP_SYS_ADMIN over it,
  // and no_new_privs keeps it so): no reader needed. Our value is read on both sides of the
  // launch; if it changed meanwhile, the namespace is asked like any other.
  auto scope_before = scopes.own_scope();
  LaunchResult launched = launch_in_namespace(request, serve_while_launching);
  auto scope_after = scopes.own_scope();

  theirs.reset();
  if (server) {
    ::shutdown(ours.get(), SHUT_RDWR);  // wakes a server still waiting for the listener
    uint64_t one = 1;
    (void)::write(stop.get(), &one, sizeof(one));
    server->join();
  } else if (launched.target) {
    received = receive_listener(ours.get(), notify, serve_error);
  }
  if (launched.target && received == Handshake::kLacksAddfdSend) {
    // Said on the socket only (its report through the pipe was a trapped write): the child has
    // ended before anything of the target's ran. Ours to reap, so that a launch under ptrace
    // does not find it.
    reap_child(launched.target->pid);
    launched.target.reset();
    launched.failure = lacks_addfd_send();
  }
  bool tree_cannot_write =
      request.privileges.drop_caps || (request.privileges.set_ids && request.privileges.uid != 0);
  if (launched.target && request.through_tree_init && tree_cannot_write && scope_before &&
      scope_before == scope_after) {
    scopes.fix_namespace(pid_namespace_of(launched.target->pid), *scope_before);
  }
  if (!launched.target) {
    result.exit_code = launched.failure->exit_code;
    result.error = launched.failure->message;
    result.needs_ptrace = launched.failure->needs_ptrace;
    return result;
  }

  ledger->set_tree(launched.target->pid);
  ProcessTree tree(launched.target->pid, std::move(launched.target->pidfd), request.orphans);
  auto fail = [&](const std::string& what) {
    tree.forward(SIGKILL);
    while (!tree.reap()) ::usleep(1000);
    result.exit_code = 125;  // our own failure
    result.error = what + "; the target was killed";
    return result;
  };
  if (!serve_error.empty()) return fail(serve_error);
  if (!notify) return fail("the child exec'd without passing its seccomp listener");
  if (int err = notify->enable_sync_wakeup(); err != 0) {
    spdlog::debug("SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP unavailable ({}): Linux 6.6+ has it",
                  std::strerror(err));
  }

  // poll, not epoll: with SYNC_WAKE_UP the kernel wakes the waiter on the caller's CPU, and
  // poll passes that hint on while epoll drops it. Measured on the benchmark's floor: 14 us per
  // call with poll, 27 us with epoll (docs/performance.md).
  pollfd sources[4] = {};
  sources[kNotify] = {notify->fd(), POLLIN, 0};
  sources[kSignals] = {signal_fd, POLLIN, 0};
  sources[kLedger] = {ledger->event_fd(), POLLIN, 0};
  sources[kAuditWatch] = {audit.watch_fd(), POLLIN, 0};  // -1: ignored by poll

  bool tree_gone = tree.reap();
  while (!tree_gone) {
    int ready_count = ::poll(sources, 4, audit.wait_ms(tree.wait_timeout_ms()));
    if (ready_count < 0) {
      if (errno == EINTR) continue;
      return fail(std::string("poll: ") + std::strerror(errno));
    }
    if (ready_count == 0) {
      tree.tend();  // the orphans' grace period may be over
      audit.check_size_now();
    }
    bool child_changed = false;
    if (short ready = sources[kNotify].revents; ready != 0) {
      if (!(ready & POLLIN)) {
        // POLLHUP: no task uses the filter any more. Stop watching; reaping ends the loop.
        sources[kNotify].fd = -1;
      } else if (int err = session.serve_one(*notify); err != 0) {
        return fail(std::string("SECCOMP_IOCTL_NOTIF_RECV: ") + std::strerror(err));
      }
    }
    if (sources[kSignals].revents & POLLIN) child_changed = handle_signals(signal_fd, tree);
    if (sources[kLedger].revents & POLLIN) ledger->drain();
    if (sources[kAuditWatch].revents & POLLIN) audit.check_watch();
    if (audit.strict_failure()) {
      return fail("the audit log was " + audit.tampering() + " during the run (--audit-strict)");
    }
    if (child_changed) tree_gone = tree.reap();
  }
  ledger->drain();
  result.exit_code = tree.exit_code();
  result.orphans_ended =
      request.through_tree_init ? read_init_report(request.report_read_fd) : tree.ended();
  fill_totals(result, *ledger, policy);
  return result;
}

}  // namespace warden
