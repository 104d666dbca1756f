#include "supervisor/agent/agent.h"

#include <poll.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <vector>

#include "policy/default_policy.h"
#include "policy/policy_parse.h"
#include "supervisor/agent/agent_socket.h"
#include "supervisor/agent/oci_profile.h"
#include "supervisor/agent/oci_state.h"
#include "supervisor/agent/session_handoff.h"
#include "supervisor/backends/notify_session.h"
#include "supervisor/backends/stall_watchdog.h"
#include "supervisor/calls/memfd_ledger.h"
#include "supervisor/cli.h"
#include "supervisor/kernel/kernel_abi.h"
#include "supervisor/kernel/notify_fd.h"
#include "supervisor/launch/inherited_signals.h"

namespace warden {
namespace {

using Clock = std::chrono::steady_clock;
constexpr std::chrono::seconds kClientDeadline{5};       // to send the whole state message
constexpr size_t kMaxClients = 64;                       // connections still sending, at once
constexpr std::chrono::milliseconds kReleaseGrace{500};  // see run_session

// A connection still sending its state message.
struct Client {
  UniqueFd socket;
  std::string data;
  std::vector<UniqueFd> fds;
  Clock::time_point deadline;
};

// Reads what is there. Returns false when the client is done (EOF) or must be dropped (`why`).
bool receive(Client& client, bool& complete, std::string& why) {
  char buffer[16384];
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * kMaxContainerStateFds)];
  for (;;) {
    iovec io{buffer, sizeof(buffer)};
    msghdr message{};
    message.msg_iov = &io;
    message.msg_iovlen = 1;
    message.msg_control = control;
    message.msg_controllen = sizeof(control);
    ssize_t got = ::recvmsg(client.socket.get(), &message, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
    if (got < 0) {
      if (errno == EAGAIN || errno == EINTR) return true;
      why = std::string("receiving: ") + std::strerror(errno);
      return false;
    }
    for (cmsghdr* c = CMSG_FIRSTHDR(&message); c != nullptr; c = CMSG_NXTHDR(&message, c)) {
      if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
      size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
      for (size_t i = 0; i < count; ++i) {
        int fd;
        std::memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
        client.fds.emplace_back(fd);
      }
    }
    if (message.msg_flags & MSG_CTRUNC || client.fds.size() > kMaxContainerStateFds) {
      why = "more fds than a state message carries";
      return false;
    }
    if (got == 0) {
      complete = true;
      return false;
    }
    client.data.append(buffer, static_cast<size_t>(got));
    if (client.data.size() > kMaxContainerStateBytes) {
      why = "a state message over 64 KiB";
      return false;
    }
  }
}

// Empty when the peer of `socket` may hand us a container: root, or the user we run as (a
// rootless runtime's agent). Whatever mode the socket has, nobody else may: a listener comes with
// a pid that the session may end (stall_watchdog.h). Otherwise, why not.
std::string unauthorised(int socket) {
  ucred peer{};
  socklen_t size = sizeof(peer);
  if (::getsockopt(socket, SOL_SOCKET, SO_PEERCRED, &peer, &size) != 0) {
    return std::string("SO_PEERCRED: ") + std::strerror(errno);
  }
  if (peer.uid == 0 || peer.uid == ::geteuid()) return {};
  return "process " + std::to_string(peer.pid) + " runs as uid " + std::to_string(peer.uid) +
         "; only root and uid " + std::to_string(::geteuid()) + " may hand over a container";
}

// For a container whose policy cannot be had: every memfd refused (EPERM), nothing run from
// memory; programs from files still run (exec = "deny" checks only what is memory).
Policy deny_everything(const Policy& base) {
  Policy policy = base;
  policy.rules.clear();
  policy.default_action = Action::kDeny;
  policy.default_errno = EPERM;
  policy.exec_allowed = false;
  return policy;
}

// Which container a listener's process is in, for handing the listeners of processes started
// in a container later (runc exec) to its session: the container's id, which is unique only
// within one runtime's state directory (containerd has one per namespace), and the process's
// mount namespace, which runc exec joins and no two containers share (runc makes one for each).
// Empty when the process cannot be told apart: it then gets a session of its own.
std::string session_key(const ContainerState& state) {
  if (state.pid <= 0) return {};
  UniqueFd pidfd(sys::pidfd_open(state.pid));
  struct stat ns {};
  std::string path = "/proc/" + std::to_string(state.pid) + "/ns/mnt";
  if (!pidfd.valid() || ::stat(path.c_str(), &ns) != 0) return {};
  // Still alive after the look: the pid was its own, not reused, when /proc was read.
  if (sys::pidfd_send_signal(pidfd.get(), 0) != 0) return {};
  return state.id + '\0' + std::to_string(ns.st_dev) + ':' + std::to_string(ns.st_ino);
}

// The forked session: serves one container's listener, and those the agent hands over on
// `control` for processes started in it later (runc exec), until the last task of each is gone.
// Dies with the agent (PR_SET_PDEATHSIG): the runtime's filter then fails the container's
// trapped calls with ENOSYS, never lets them through unchecked.
[[noreturn]] void run_session(pid_t agent, const Policy& policy, const ContainerState& state,
                              UniqueFd listener, UniqueFd control,
                              const AuditDestination& destination, bool record_exe,
                              const std::string& refusal) {
  ::prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
  if (::getppid() != agent) ::_exit(1);
  std::string who = "container " + state.id;
  auto audit = AuditLog::open(destination, policy.quota);
  if (!audit) {
    spdlog::error("{}: {}; its calls fail (ENOSYS) from now on", who, audit.error().message());
    // Its run is recorded all the same, sealed, with the reason, where the file opens unwatched.
    record_unopened_run(destination, policy.quota, kVersion, who, audit.error(),
                        container_identity(state));
    ::_exit(1);
  }
  audit->set_container(container_identity(state));
  audit->write_start(kVersion, who);
  auto ledger = MemfdLedger::open(policy.rules.size(), policy.counts_live());
  auto first = NotifyFd::adopt(std::move(listener));
  if (!ledger || !first) {
    std::string failure = !ledger ? ledger.error().message() : first.error().message();
    spdlog::error("{}: {}; its calls fail (ENOSYS) from now on", who, failure);
    audit->write_failure_summary(failure);  // the run ends sealed, with the reason
    ::_exit(1);
  }
  if (state.pid > 0) ledger->set_tree(state.pid);
  // A container that holds back a read of its memory or files (backends/stall_watchdog.h) is
  // ended through its init: with the PID namespace of its own that runtimes give it, everything
  // in it goes too. Held from the start, so that the signal cannot reach another process.
  UniqueFd init_pidfd(state.pid > 0 ? sys::pidfd_open(state.pid) : -1);
  StallWatchdog watchdog;
  auto watched = watchdog.start([&init_pidfd] {
    if (init_pidfd.valid()) sys::pidfd_send_signal(init_pidfd.get(), SIGKILL);
  });
  if (!watched) spdlog::warn("{}: {}", who, watched.error().message());
  std::vector<NotifyFd> listeners;
  listeners.push_back(std::move(first.value()));
  listeners.back().enable_sync_wakeup();
  if (!refusal.empty())
    spdlog::error(
        "{}: {}: every memfd it asks for is refused (EPERM), and nothing runs from memory", who,
        refusal);
  SuperviseOptions options;
  options.check_exec_images = traps_for(policy).exec;
  options.count_live = policy.counts_live();
  options.record_names = record_exe || policy.matches_exe();
  NotifySession session(policy, options, *ledger, *audit);
  // Most containers cannot change their vm.memfd_noexec: then it is read once, not at each call.
  if (state.pid > 0 && session.scopes().fix_if_unwritable(state.pid)) {
    spdlog::debug("{}: its vm.memfd_noexec cannot change; read once", who);
  }
  // A listener handed over: served from now on, by the same ledger, quotas and audit run.
  // Returns 0 when one was taken, else receive_listener()'s errno.
  auto take_handed_over = [&]() -> int {
    UniqueFd handed;
    pid_t pid = 0;
    if (int err = receive_listener(control.get(), handed, pid); err != 0) return err;
    auto adopted = NotifyFd::adopt(std::move(handed));
    if (!adopted) {  // its calls fail (ENOSYS) with the fd closed
      spdlog::error("{}: process {}: {}", who, pid, adopted.error().message());
      return 0;
    }
    adopted->enable_sync_wakeup();
    listeners.push_back(std::move(adopted.value()));
    spdlog::info("{}: process {} started in it is served by this session", who, pid);
    return 0;
  };
  std::vector<pollfd> sources;
  std::string failure;  // ours, when the session ends before its container
  for (;;) {
    if (listeners.empty()) {
      // The last task is gone. Whatever the agent sent before this is still served; a later
      // send fails, and the agent starts a new session for it.
      if (control.valid()) ::shutdown(control.get(), SHUT_RD);
      while (control.valid() && take_handed_over() == 0) {
      }
      control.reset();
      if (listeners.empty()) break;
    }
    sources.assign({{control.get(), POLLIN, 0},
                    {ledger->event_fd(), POLLIN, 0},
                    {audit->watch_fd(), POLLIN, 0}});
    for (const auto& notify : listeners) sources.push_back({notify.fd(), POLLIN, 0});
    if (::poll(sources.data(), sources.size(), -1) < 0) {
      if (errno == EINTR) continue;
      failure = std::string("poll: ") + std::strerror(errno);
      break;
    }
    for (size_t i = listeners.size(); i-- > 0;) {
      short events = sources[3 + i].revents;
      if (events & POLLIN) {
        if (int err = session.serve_one(listeners[i]); err != 0) {
          failure = std::string("SECCOMP_IOCTL_NOTIF_RECV: ") + std::strerror(err);
          break;
        }
      } else if (events & (POLLHUP | POLLERR)) {
        listeners.erase(listeners.begin() + static_cast<long>(i));  // no task uses its filter
      }
    }
    if (!failure.empty()) break;
    if (sources[0].revents & POLLIN) {
      int err = take_handed_over();
      if (err != 0 && err != EAGAIN && err != EINTR) control.reset();  // the agent is gone
    } else if (sources[0].revents & (POLLHUP | POLLERR)) {
      control.reset();
    }
    if (sources[1].revents & POLLIN) ledger->drain();
    if (sources[2].revents & POLLIN) audit->check_watch();
  }
  // The filter lets go (POLLHUP) a little before the kernel has released the last task's files
  // and queued their IN_IGNORED: give the releases up to 500 ms, so that the summary counts only
  // what something still holds (a memfd passed out of the container, say).
  auto until = Clock::now() + kReleaseGrace;
  for (ledger->drain(); ledger->state().live > 0 && Clock::now() < until; ledger->drain()) {
    pollfd releases{ledger->event_fd(), POLLIN, 0};
    auto left = std::chrono::ceil<std::chrono::milliseconds>(until - Clock::now()).count();
    ::poll(&releases, 1, static_cast<int>(std::max<long long>(left, 0)));
  }
  watchdog.stop();
  if (watchdog.fired()) failure = watchdog.failure();
  SuperviseResult result;
  result.exit_code = failure.empty() ? 0 : 125;
  result.error = failure;
  result.orphans_ended = 0;
  fill_totals(result, *ledger, policy);
  if (!failure.empty()) {
    spdlog::error("{}: {}; its calls fail (ENOSYS) from now on", who, failure);
  }
  audit->write_summary(result);
  ::_exit(failure.empty() ? 0 : 1);
}

}  // namespace

Result<AgentPolicies> load_agent_policies(const AgentCommand& command) {
  AgentPolicies policies;
  auto fallback = command.policy_path ? load_policy_file(*command.policy_path)
                                      : parse_policy(default_policy_text(), "<default policy>");
  if (!fallback) return fallback.error();
  auto fits = check_container_policy(*fallback, command.policy_path.value_or("<default policy>"));
  if (!fits) return fits.error();
  policies.fallback = std::move(fallback.value());
  if (!command.policy_dir) return policies;
  std::error_code ec;
  std::filesystem::directory_iterator entries(*command.policy_dir, ec);
  if (ec) return Error{ec.value(), "reading the policy directory " + *command.policy_dir};
  for (const auto& entry : entries) {
    if (entry.path().extension() != ".toml") continue;
    auto policy = load_policy_file(entry.path().string());
    if (!policy) return policy.error();
    if (auto fit = check_container_policy(*policy, entry.path().string()); !fit) return fit.error();
    policies.named.emplace(entry.path().stem().string(), std::move(policy.value()));
  }
  return policies;
}

int run_agent(const AgentCommand& command, AgentPolicies policies) {
  // Each container's session opens the destination for itself; one that cannot be opened fails
  // here, before anything is served, not in every session (whose calls would then fail).
  if (auto audit = AuditLog::open(command.audit, policies.fallback.quota); !audit) {
    return exit_with_error(
        audit_open_failure_is_usage(audit.error().code) ? kExitUsage : kExitInternal,
        audit.error().message());
  }
  sigset_t handled;
  sigemptyset(&handled);
  for (int sig : {SIGCHLD, SIGINT, SIGTERM, SIGHUP, SIGPIPE}) sigaddset(&handled, sig);
  InheritedSignals inherited;  // SIGCHLD taken back: the sessions are our children
  take_over_signals(handled, inherited);
  UniqueFd signals(::signalfd(-1, &handled, SFD_NONBLOCK | SFD_CLOEXEC));
  // Past an RLIMIT_FSIZE we inherited, our own writes and the growth calls we carry out fail with
  // EFBIG rather than kill us: SIGXFSZ stays blocked, and pending, for good.
  sigset_t file_size;
  sigemptyset(&file_size);
  sigaddset(&file_size, SIGXFSZ);
  sigprocmask(SIG_BLOCK, &file_size, nullptr);
  auto socket = agent_socket(command.socket_path);
  if (!socket) return exit_with_error(kExitInternal, socket.error().message());
  UniqueFd* listener = &socket->listener;
  ::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);  // containers must not reach into us
  spdlog::info("serving containers on {}{}", command.socket_path,
               socket->from_systemd ? " (from systemd)" : "");
  pid_t self = ::getpid();
  // The sessions running, by container (session_key), with our end of each one's handoff
  // channel.
  struct Session {
    pid_t pid;
    UniqueFd control;
  };
  std::map<std::string, Session> sessions;
  std::vector<Client> clients;
  std::vector<pollfd> sources;
  bool stopping = false;
  while (!stopping) {
    sources.assign({{listener->get(), POLLIN, 0}, {signals.get(), POLLIN, 0}});
    auto now = Clock::now();
    int timeout = -1;
    for (const auto& client : clients) {
      sources.push_back({client.socket.get(), POLLIN, 0});
      auto left = std::chrono::ceil<std::chrono::milliseconds>(client.deadline - now).count();
      timeout = timeout < 0 ? static_cast<int>(std::max<long long>(left, 0))
                            : std::min(timeout, static_cast<int>(std::max<long long>(left, 0)));
    }
    if (::poll(sources.data(), sources.size(), timeout) < 0 && errno != EINTR) {
      return exit_with_error(kExitInternal, std::string("poll: ") + std::strerror(errno));
    }
    if (sources[1].revents & POLLIN) {
      signalfd_siginfo info{};
      while (::read(signals.get(), &info, sizeof(info)) == sizeof(info)) {
        if (info.ssi_signo == SIGCHLD) {
          for (pid_t ended; (ended = ::waitpid(-1, nullptr, WNOHANG)) > 0;) {
            std::erase_if(sessions,
                          [ended](const auto& entry) { return entry.second.pid == ended; });
          }
        } else if (info.ssi_signo == SIGHUP) {
          auto reloaded = load_agent_policies(command);
          if (reloaded) {
            policies = std::move(reloaded.value());
            spdlog::info("policies reloaded: {} named, for containers that start from now on",
                         policies.named.size());
          } else {
            spdlog::error("reload refused, the previous policies stay: {}",
                          reloaded.error().message());
          }
        } else if (info.ssi_signo != SIGPIPE) {
          stopping = true;
        }
      }
    }
    // Clients first (their fds are in `sources` by position), then new connections.
    now = Clock::now();
    for (size_t i = clients.size(); i-- > 0;) {
      Client& client = clients[i];
      bool complete = false;
      std::string why;
      bool keep = true;
      if (sources[2 + i].revents != 0) keep = receive(client, complete, why);
      // Runtimes keep the connection open after the message (runc waits for nothing, but does
      // not close it either): a message is complete when it parses. Until the peer closes or
      // the deadline passes, one that does not parse yet may still be arriving.
      std::optional<Result<ContainerState>> parsed;
      if (why.empty() && !client.data.empty()) {
        parsed.emplace(parse_container_state(client.data, client.fds.size()));
        if (*parsed || complete || !keep) {
          keep = false;
          complete = true;
        }
      }
      if (keep && now >= client.deadline) {
        keep = false;
        why = "no complete state message within 5 s";
      }
      if (keep) continue;
      if (complete && why.empty() && !parsed) why = "it closed without a message";
      if (complete && why.empty()) {
        auto& state = *parsed;
        if (!state) {
          why = state.error().message();
        } else if (std::string what = not_a_listener(client.fds[state->seccomp_fd_index].get());
                   !what.empty()) {
          why = "its seccompFd is " + what + ", not a seccomp listener";
        } else {
          std::string refusal;
          const Policy* policy = &policies.fallback;
          Policy denying;
          auto requested = requested_policy(*state);
          if (!requested) {
            refusal = requested.error().message();
          } else if (const auto& request = requested.value()) {
            if (request->by_annotation && !command.policy_annotation) {
              refusal = "it asks for policy \"" + request->name +
                        "\" by the annotation io.memfd-warden.policy, which this agent does not "
                        "honour (name it in the profile's listenerMetadata, or start the agent "
                        "with --policy-annotation)";
            } else if (auto it = policies.named.find(request->name); it == policies.named.end()) {
              refusal = "it asks for policy \"" + request->name + "\", which the agent has not";
            } else {
              policy = &it->second;
            }
          }
          if (!refusal.empty()) {
            denying = deny_everything(policies.fallback);
            policy = &denying;
          }
          UniqueFd seccomp = std::move(client.fds[state->seccomp_fd_index]);
          client.fds.clear();  // any other fd it sent is closed, never used
          // A process started in a container already served (runc exec) joins its session: one
          // ledger, one set of quotas, one audit run per container (review: four execs held
          // four times the container's max_live). A session that is ending refuses it (EPIPE).
          std::string key = session_key(*state);
          auto start_session = [&](UniqueFd container_listener) {
            int ends[2] = {-1, -1};
            if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, ends) != 0) {
              spdlog::error("container {}: socketpair: {}; its calls fail (ENOSYS)", state->id,
                            std::strerror(errno));
              return;
            }
            UniqueFd ours(ends[0]), theirs(ends[1]);
            pid_t session = ::fork();
            if (session == 0) {
              listener->reset();
              ours.reset();
              // Nothing of the other clients or sessions stays open in the session: their
              // sockets, the fds a client part-way through its message has sent (another
              // container's listener), and the other sessions' channels.
              for (auto& other : clients) {
                other.socket.reset();
                other.fds.clear();
              }
              for (auto& [id, other] : sessions) other.control.reset();
              run_session(self, *policy, *state, std::move(container_listener), std::move(theirs),
                          command.audit, command.record_exe, refusal);
            }
            if (session < 0) {
              spdlog::error("container {}: fork: {}; its calls fail (ENOSYS)", state->id,
                            std::strerror(errno));
              return;
            }
            spdlog::info("container {}: session {}", state->id, session);
            if (key.empty()) return;  // not one an exec can be told to belong to
            sessions[key] = Session{session, std::move(ours)};
          };
          auto running = key.empty() ? sessions.end() : sessions.find(key);
          if (running != sessions.end()) {
            int err = send_listener(running->second.control.get(), seccomp.get(), state->pid);
            if (err == 0) {
              spdlog::info("container {}: process {} handed to its session {}", state->id,
                           state->pid, running->second.pid);
              seccomp.reset();
            } else {
              spdlog::info("container {}: its session {} is ending ({}); a new one serves {}",
                           state->id, running->second.pid, std::strerror(err), state->pid);
              sessions.erase(running);
            }
          }
          if (seccomp.valid()) start_session(std::move(seccomp));
        }
      }
      if (!why.empty()) spdlog::warn("dropped a client: {}", why);
      clients.erase(clients.begin() + static_cast<long>(i));
    }
    if (sources[0].revents & POLLIN) {
      for (;;) {
        UniqueFd accepted(
            ::accept4(listener->get(), nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK));
        if (!accepted.valid()) break;
        if (std::string why = unauthorised(accepted.get()); !why.empty()) {
          spdlog::warn("dropped a client: {}", why);
          continue;
        }
        if (clients.size() >= kMaxClients) {
          spdlog::warn("dropped a client: {} connections are already sending", kMaxClients);
          continue;
        }
        clients.push_back({std::move(accepted), {}, {}, Clock::now() + kClientDeadline});
      }
    }
  }
  spdlog::info("stopping; running sessions end with the agent");
  if (!socket->from_systemd) ::unlink(command.socket_path.c_str());  // systemd's is its own
  return 0;
}

}  // namespace warden
