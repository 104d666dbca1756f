#include "supervisor/kernel/noexec_scope.h"

#include <fcntl.h>
#include <linux/capability.h>
#include <linux/nsfs.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdint>
#include <cstdio>
#include <cstring>

#include "policy/memfd_flags.h"
#include "supervisor/kernel/fd_message.h"
#include "supervisor/kernel/kernel_abi.h"
#include "supervisor/kernel/proc_status.h"
#include "supervisor/kernel/unique_fd.h"

namespace warden {
namespace {

ino_t namespace_inode(const char* path) {
  struct stat st {};
  return ::stat(path, &st) == 0 ? st.st_ino : 0;
}

// "0\n", "1\n" or "2\n", as the sysctl prints it.
std::optional<int> parse_scope(const char* text, ssize_t length) {
  if (length < 1 || text[0] < '0' || text[0] > '2') return std::nullopt;
  return text[0] - '0';
}

std::optional<int> read_scope(int sysctl) {
  char text[8];
  return parse_scope(text, ::pread(sysctl, text, sizeof(text), 0));
}

// fork() without the C library or a sanitizer runtime in the way: ThreadSanitizer restarts its
// own thread in a forked child, and setns() into a user namespace refuses a process with more
// than one thread. The children below make raw syscalls only.
pid_t fork_bare() {
  return static_cast<pid_t>(::syscall(SYS_clone, SIGCHLD, nullptr, nullptr, nullptr, nullptr));
}

[[noreturn]] void exit_bare(int status) {
  ::syscall(SYS_exit_group, status);
  __builtin_unreachable();
}

// The reader: a process in the caller's PID namespace that, for each byte memfd-warden sends,
// sends back what the sysctl says for its own namespace, until memfd-warden closes the socket.
[[noreturn]] void run_reader(int socket, int sysctl) {
  uint64_t none = 0;  // SIGTERM ends it, as it ends the rest of the tree
  ::syscall(SYS_rt_sigprocmask, SIG_SETMASK, &none, nullptr, sizeof(none));
  ::syscall(SYS_prctl, PR_SET_NAME, "warden-nsread", 0, 0, 0);
  // It holds nothing of memfd-warden's but these two (it stays non-dumpable as well).
  int low = std::min(socket, sysctl), high = std::max(socket, sysctl);
  if (low > 0) ::syscall(SYS_close_range, 0U, static_cast<unsigned>(low - 1), 0U);
  if (high > low + 1) ::syscall(SYS_close_range, low + 1U, high - 1U, 0U);
  ::syscall(SYS_close_range, high + 1U, UINT_MAX, 0U);
  for (;;) {
    char request = 0;
    long got = ::syscall(SYS_read, socket, &request, 1);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) exit_bare(0);
    char text[8] = {'?'};
    long length = ::syscall(SYS_pread64, sysctl, text, sizeof(text), 0);
    if (::syscall(SYS_sendto, socket, text, length > 0 ? length : 1, MSG_NOSIGNAL, nullptr, 0) <
        0) {
      exit_bare(0);
    }
  }
}

}  // namespace

NoexecScopes::NoexecScopes()
    : sysctl_(::open("/proc/sys/vm/memfd_noexec", O_RDONLY | O_CLOEXEC)),
      own_pid_ns_(namespace_inode("/proc/self/ns/pid")),
      own_user_ns_(namespace_inode("/proc/self/ns/user")) {}

int NoexecScopes::scope_of(pid_t tid, ino_t pid_ns) {
  if (!sysctl_.valid()) return kNoexecScopeExec;  // before 6.3: no such sysctl, no exec seal
  if (pid_ns == 0) pid_ns = pid_namespace_of(tid);
  if (pid_ns == 0) return kNoexecScopeEnforced;  // the caller is gone: nothing is made for it
  auto fixed = fixed_.find(pid_ns);
  if (pid_ns == own_pid_ns_ || fixed != fixed_.end()) {
    auto scope = own_scope();
    if (!scope) {
      spdlog::error("reading vm.memfd_noexec: {}; taking the strictest value, 2",
                    std::strerror(errno));
      return kNoexecScopeEnforced;
    }
    return fixed == fixed_.end() ? *scope : std::max(*scope, fixed->second);
  }
  for (int attempt = 0; attempt < 2; ++attempt) {
    auto it = readers_.find(pid_ns);
    if (it == readers_.end()) {
      auto reader = start_reader(tid, pid_ns);
      if (!reader) break;
      if (readers_.size() >= kMaxReaders) end_least_recent_reader();
      it = readers_.emplace(pid_ns, std::move(*reader)).first;
      spdlog::debug("started a vm.memfd_noexec reader in PID namespace {} (thread {})", pid_ns,
                    tid);
    }
    it->second.last_asked = ++asks_;
    if (auto scope = ask(it->second)) return *scope;
    // Dead with its namespace (whose inode was then reused), or stopped by the target: replace it.
    spdlog::warn("the vm.memfd_noexec reader in PID namespace {} did not answer; replacing it",
                 pid_ns);
    sys::pidfd_send_signal(it->second.pidfd.get(), SIGKILL);
    readers_.erase(it);
  }
  spdlog::error(
      "cannot read vm.memfd_noexec in the PID namespace of thread {}; taking the strictest "
      "value, 2",
      tid);
  return kNoexecScopeEnforced;
}

void NoexecScopes::end_least_recent_reader() {
  auto oldest = readers_.begin();
  for (auto it = readers_.begin(); it != readers_.end(); ++it) {
    if (it->second.last_asked < oldest->second.last_asked) oldest = it;
  }
  if (oldest == readers_.end()) return;
  spdlog::debug("{} vm.memfd_noexec readers: ending the one of PID namespace {}", readers_.size(),
                oldest->first);
  sys::pidfd_send_signal(oldest->second.pidfd.get(), SIGKILL);
  readers_.erase(oldest);
}

bool NoexecScopes::fix_if_unwritable(pid_t pid) {
  if (!sysctl_.valid()) return false;
  char path[64];
  std::snprintf(path, sizeof(path), "/proc/%d/ns/pid", pid);
  UniqueFd pid_ns(::open(path, O_RDONLY | O_CLOEXEC));
  if (!pid_ns.valid()) return false;
  // Writing the sysctl takes CAP_SYS_ADMIN over the user namespace that owns the PID namespace.
  UniqueFd owner(::ioctl(pid_ns.get(), NS_GET_USERNS));
  struct stat owner_st {
  }, ns_st{};
  if (!owner.valid() || ::fstat(owner.get(), &owner_st) != 0 || owner_st.st_ino != own_user_ns_ ||
      ::fstat(pid_ns.get(), &ns_st) != 0) {
    return false;
  }
  std::optional<uint64_t> bounding = status_number(pid, "CapBnd:", 16);
  if (!bounding || (*bounding & (uint64_t{1} << CAP_SYS_ADMIN)) != 0) return false;
  if (ns_st.st_ino == own_pid_ns_ || fixed_.count(ns_st.st_ino)) return true;
  int scope = scope_of(pid);
  // Still the same process in the same namespace (a pid reused meanwhile would be another).
  if (pid_namespace_of(pid) != ns_st.st_ino) return false;
  fixed_[ns_st.st_ino] = scope;
  if (auto it = readers_.find(ns_st.st_ino); it != readers_.end()) {
    sys::pidfd_send_signal(it->second.pidfd.get(), SIGKILL);  // even if its target stopped it
    readers_.erase(it);
  }
  return true;
}

std::optional<int> NoexecScopes::own_scope() const {
  if (!sysctl_.valid()) return std::nullopt;
  return read_scope(sysctl_.get());
}

std::optional<int> NoexecScopes::ask(Reader& reader) const {
  char request = '?';
  if (::send(reader.socket.get(), &request, 1, MSG_NOSIGNAL) != 1) return std::nullopt;
  pollfd answer{reader.socket.get(), POLLIN, 0};
  int ready = 0;
  do {
    ready = ::poll(&answer, 1, static_cast<int>(kAnswerTimeout.count()));
  } while (ready < 0 && errno == EINTR);
  if (ready != 1) return std::nullopt;
  char text[8];
  return parse_scope(text, ::recv(reader.socket.get(), text, sizeof(text), MSG_DONTWAIT));
}

std::optional<NoexecScopes::Reader> NoexecScopes::start_reader(pid_t tid, ino_t pid_ns) const {
  char path[64];
  std::snprintf(path, sizeof(path), "/proc/%d/ns/pid", tid);
  UniqueFd pid_ns_fd(::open(path, O_RDONLY | O_CLOEXEC));
  struct stat st {};
  // The thread's number may have been taken over since its namespace was read: a reader started
  // in another namespace would answer for this one, so the namespace is the one asked about or
  // none is started.
  if (!pid_ns_fd.valid() || ::fstat(pid_ns_fd.get(), &st) != 0 || st.st_ino != pid_ns) {
    return std::nullopt;
  }
  // setns() into a PID namespace takes CAP_SYS_ADMIN over the user namespace that owns it, not
  // over the caller's (which may be a child of the owner, where that capability counts for
  // nothing): the owner is joined when it is not ours. Outside our scope (EPERM), none is.
  UniqueFd owner(::ioctl(pid_ns_fd.get(), NS_GET_USERNS));
  bool join_user = owner.valid() && ::fstat(owner.get(), &st) == 0 && st.st_ino != own_user_ns_;
  int sockets[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sockets) != 0) return std::nullopt;
  UniqueFd ours(sockets[0]), theirs(sockets[1]);
  // A task's PID namespace is fixed for life: setns() only places its later children. So a
  // middle process joins, forks the reader into the namespace with a pidfd for it, passes the
  // pidfd back, and leaves. The reader's number alone would not do: once the middle is gone the
  // reader is re-parented (to us in `run`, a subreaper; in the agent to the host's reaper, which
  // may reap it and let its number be reused before we could open a pidfd by number).
  pid_t middle = fork_bare();
  if (middle < 0) return std::nullopt;
  if (middle == 0) {
    if (join_user && ::syscall(SYS_setns, owner.get(), CLONE_NEWUSER) != 0) exit_bare(1);
    if (::syscall(SYS_setns, pid_ns_fd.get(), CLONE_NEWPID) != 0) exit_bare(2);
    int reader_pidfd = -1;
    pid_t reader = static_cast<pid_t>(
        ::syscall(SYS_clone, CLONE_PIDFD | SIGCHLD, nullptr, &reader_pidfd, nullptr, nullptr));
    if (reader < 0) exit_bare(3);
    if (reader == 0) run_reader(theirs.get(), sysctl_.get());
    FdMessage message;
    message.set_fd(reader_pidfd);
    exit_bare(::syscall(SYS_sendmsg, theirs.get(), &message.msg, MSG_NOSIGNAL) == 1 ? 0 : 4);
  }
  theirs.reset();
  int status = 0;
  while (::waitpid(middle, &status, 0) < 0 && errno == EINTR) {
  }
  UniqueFd pidfd;
  FdMessage message;
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0 &&
      ::recvmsg(ours.get(), &message.msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC) == 1) {
    pidfd = UniqueFd(message.fd());
  }
  if (!pidfd.valid()) {
    spdlog::warn("starting a vm.memfd_noexec reader for thread {}: step {} failed", tid,
                 WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    return std::nullopt;
  }
  return Reader{std::move(ours), std::move(pidfd)};
}

}  // namespace warden
