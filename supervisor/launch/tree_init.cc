#include "supervisor/launch/tree_init.h"

#include <fcntl.h>
#include <linux/mount.h>
#include <poll.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <csignal>
#include <cstring>
#include <initializer_list>

#include "supervisor/launch/inherited_signals.h"

namespace warden {
namespace {

// strerrordesc_np returns a static string: unlike strerror it neither allocates nor reads the
// locale, so it is safe in a fork.
const char* errno_text(int err) {
  const char* text = ::strerrordesc_np(err);
  return text != nullptr ? text : "unknown error";
}

// One line on stderr from pieces, in a single writev.
void say(std::initializer_list<const char*> parts) {
  iovec pieces[8];
  int count = 0;
  for (const char* part : parts) {
    if (count == 8) break;
    pieces[count++] = {const_cast<char*>(part), std::strlen(part)};
  }
  (void)::writev(STDERR_FILENO, pieces, count);
}

[[noreturn]] void fail(const char* what, int err) {
  say({"memfd-warden: error: ", what, ": ", errno_text(err), "\n"});
  _exit(125);
}

// Each directory entry of `dir_fd` in turn (getdents64 into a stack buffer).
template <typename Visit>
void for_each_entry(int dir_fd, Visit&& visit) {
  alignas(8) char buffer[4096];
  for (;;) {
    long got = ::syscall(SYS_getdents64, dir_fd, buffer, sizeof(buffer));
    if (got <= 0) return;
    for (long offset = 0; offset < got;) {
      struct Entry {
        uint64_t ino;
        int64_t off;
        unsigned short reclen;
        unsigned char type;
        char name[1];
      };
      auto* entry = reinterpret_cast<Entry*>(buffer + offset);
      visit(static_cast<const char*>(entry->name));
      offset += entry->reclen;
    }
  }
}

// A decimal name ("1234"), or -1.
long decimal(const char* name) {
  long value = 0;
  auto [end, ec] = std::from_chars(name, name + std::strlen(name), value);
  return ec == std::errc() && *end == '\0' && name[0] != '\0' ? value : -1;
}

// What an exec would have done to memfd-warden's own fds: they are all close-on-exec (the audit
// log, the listener hand-over socket, the signalfd, ...). `keep` stays open.
void close_supervisor_fds(int keep) {
  int dir = ::open("/proc/self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir < 0) fail("listing memfd-warden's fds (/proc/self/fd)", errno);
  for_each_entry(dir, [&](const char* name) {
    long fd = decimal(name);
    if (fd < 0 || fd == dir || fd == keep) return;
    int flags = ::fcntl(static_cast<int>(fd), F_GETFD);
    if (flags >= 0 && (flags & FD_CLOEXEC)) ::close(static_cast<int>(fd));
  });
  ::close(dir);
}

// getpid() in the tree answers with namespace pids; give the tree a /proc that agrees (as a
// container would), in a mount namespace of its own, so paths built as /proc/<getpid()>/...
// name the right process. memfd-warden keeps reading the host's /proc. With the reaching
// capabilities dropped, the cgroup tree becomes read-only too: a root target could otherwise
// write cgroup.freeze, freezer.state or cgroup.kill of the cgroup memfd-warden shares.
// True when /proc shows the namespace (it counts what is left running).
bool prepare_mounts(bool protect_cgroups, const char* hide) {
  if (::unshare(CLONE_NEWNS) != 0 || ::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) ||
      ::mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr) != 0) {
    say({"memfd-warden: warning: cannot mount a /proc for the target's PID namespace (",
         errno_text(errno), "); /proc/<pid> paths built from getpid() will not match\n"});
    return false;
  }
  if (hide != nullptr) {
    // The audit file: the target reaches a read-only /dev/null there instead. Unmounting it
    // needs CAP_SYS_ADMIN.
    if (::mount("/dev/null", hide, nullptr, MS_BIND, nullptr) != 0 ||
        ::mount(nullptr, hide, nullptr, MS_BIND | MS_REMOUNT | MS_RDONLY, nullptr) != 0) {
      fail("hiding the audit log from the target (bind mount)", errno);
    }
  }
  if (!protect_cgroups) return true;
  mount_attr attr{};
  attr.attr_set = MOUNT_ATTR_RDONLY;
  if (::syscall(SYS_mount_setattr, AT_FDCWD, "/sys/fs/cgroup", AT_RECURSIVE, &attr, sizeof(attr)) !=
          0 &&
      errno != ENOENT) {
    fail("making /sys/fs/cgroup read-only for the target (mount_setattr)", errno);
  }
  return true;
}

// The parent pid in /proc/PID/stat: field 4, after the last ')' (the comm may hold ')').
int parent_of(const char* pid) {
  char path[64] = "/proc/";
  size_t length = std::strlen(pid);
  if (length > 20) return 0;
  std::memcpy(path + 6, pid, length);
  std::memcpy(path + 6 + length, "/stat", 6);
  int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  char line[512];
  ssize_t got = ::read(fd, line, sizeof(line) - 1);
  ::close(fd);
  if (got <= 0) return 0;
  line[got] = '\0';
  const char* close = std::strrchr(line, ')');
  // ") S 1234 ...": skip ") ", the state and a space.
  if (close == nullptr || line + got - close < 5) return 0;
  const char* start = close + 4;
  int ppid = 0;
  std::from_chars(start, line + got, ppid);
  return ppid;
}

// Processes of the tree in the namespace but us, from our own /proc: what is still running when
// the program exits. Not counted: processes whose parent is outside the namespace (ppid 0 here),
// which memfd-warden put there itself (its vm.memfd_noexec reader, noexec_scope.h). -1 when
// /proc is not the namespace's.
long count_others(bool proc_is_ours) {
  if (!proc_is_ours) return -1;
  int proc = ::open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (proc < 0) return -1;
  long count = 0;
  for_each_entry(proc, [&](const char* name) {
    if (decimal(name) > 1 && parent_of(name) != 0) ++count;
  });
  ::close(proc);
  return count;
}

// The program's process: made with CLONE_VM | CLONE_VFORK, so it runs on our memory (and this
// stack) until its execve, and we wait until then. No copy of our address space is made: on a
// virtual machine a fork costs about a millisecond, this about 20 us.
struct ProgramStart {
  const TreeInitConfig* config;
  const InheritedSignals* signals;
  // Set by the child when the program could not be run: shared memory, since the sanitizer
  // builds' child is a fork. The program never ran, so no orphans of it are counted.
  volatile int* exec_failed;
};
[[maybe_unused]] alignas(16) char program_stack[64 * 1024];

int start_program(void* argument) {
  const auto& start = *static_cast<ProgramStart*>(argument);
  const TreeInitConfig& config = *start.config;
  const char* step = "";
  if (int err = apply_target_privileges(config.privileges, &step); err != 0) fail(step, err);
  restore_inherited_signals(*start.signals);
  ::execv(config.program[0], config.program);
  int err = errno;
  *start.exec_failed = 1;
  if (err == ENOENT || err == ENOTDIR) {
    say({"memfd-warden: error: ", config.program[0], ": no such file or directory\n"});
    _exit(127);
  }
  say({"memfd-warden: error: ", config.program[0], ": cannot execute: ", errno_text(err), "\n"});
  _exit(126);
}

void report(int fd, long ended) {
  if (fd < 0) return;
  char text[24];
  auto [end, ec] = std::to_chars(text, text + sizeof(text) - 1, ended);
  *end = '\n';
  (void)::write(fd, text, static_cast<size_t>(end + 1 - text));
}

}  // namespace

void run_tree_init(const TreeInitConfig& config) {
  // Nothing in the namespace may read or trace us: a root target keeps uid 0. The name tells
  // us from the supervisor in ps.
  ::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
  ::prctl(PR_SET_NAME, "warden-init", 0, 0, 0);
  close_supervisor_fds(config.report_fd);  // the report pipe stays close-on-exec: ours only
  sigset_t handled;
  sigemptyset(&handled);
  for (int sig : {SIGCHLD, SIGINT, SIGTERM, SIGHUP}) sigaddset(&handled, sig);
  InheritedSignals inherited;  // what the program starts with
  take_over_signals(handled, inherited);
  int signals = ::signalfd(-1, &handled, SFD_CLOEXEC);
  if (signals < 0) fail("signalfd", errno);

  bool proc_is_ours = prepare_mounts(config.privileges.drop_caps, config.hide);
  int grace_timer = ::timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
  if (grace_timer < 0) fail("timerfd_create", errno);

  void* shared =
      ::mmap(nullptr, sizeof(int), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (shared == MAP_FAILED) fail("mmap", errno);
  auto* exec_failed = static_cast<volatile int*>(shared);
  ProgramStart start{&config, &inherited, exec_failed};
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  // A sanitizer's runtime keeps its state per thread and cannot follow a child that runs on our
  // memory and stack: the sanitizer builds copy the address space instead.
  pid_t target = ::fork();
  if (target == 0) start_program(&start);
  if (target < 0) fail("fork", errno);
#else
  pid_t target = ::clone(start_program, program_stack + sizeof(program_stack),
                         CLONE_VM | CLONE_VFORK | SIGCHLD, &start);
  if (target < 0) fail("clone", errno);
#endif

  int status = 0;
  bool target_done = false;
  long ended = 0;  // still running when the program exited
  auto leave = [&]() {
    if (*exec_failed == 0) report(config.report_fd, ended);  // else null: nothing of it ran
    if (WIFSIGNALED(status)) _exit(128 + WTERMSIG(status));
    _exit(WIFEXITED(status) ? WEXITSTATUS(status) : 125);
  };
  for (;;) {
    pollfd sources[2] = {{signals, POLLIN, 0}, {grace_timer, POLLIN, 0}};
    if (::poll(sources, 2, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (sources[1].revents & POLLIN) {
      // The grace period is over: whatever is left is killed.
      uint64_t expirations = 0;
      if (::read(grace_timer, &expirations, sizeof(expirations)) < 0) expirations = 0;
      ::kill(-1, SIGKILL);
    }
    if (!(sources[0].revents & POLLIN)) continue;
    signalfd_siginfo info{};
    if (::read(signals, &info, sizeof(info)) != sizeof(info)) {
      if (errno == EINTR) continue;
      break;
    }
    if (info.ssi_signo != SIGCHLD) {
      // To the program; once it is gone, to everything left in the namespace.
      if (!target_done) {
        ::kill(target, static_cast<int>(info.ssi_signo));
      } else {
        ::kill(-1, static_cast<int>(info.ssi_signo));
      }
      continue;
    }
    // As PID 1 we inherit every orphan in the namespace: reap them all, and leave when the
    // target is gone and nothing is left.
    for (;;) {
      int child_status = 0;
      pid_t pid = ::waitpid(-1, &child_status, WNOHANG | __WALL);
      if (pid == target) {
        status = child_status;
        target_done = true;
        if (config.end_orphans && (ended = count_others(proc_is_ours)) != 0) {
          // kill(-1) from a namespace's init reaches every process in it but the init.
          ::kill(-1, SIGTERM);
          ::kill(-1, SIGCONT);  // a stopped process acts on SIGTERM only once it runs
          itimerspec grace{};
          grace.it_value.tv_sec = config.grace_ms / 1000;
          grace.it_value.tv_nsec = (config.grace_ms % 1000) * 1000000L;
          if (config.grace_ms <= 0) grace.it_value.tv_nsec = 1;  // 0 would disarm the timer
          if (::timerfd_settime(grace_timer, 0, &grace, nullptr) != 0) ::kill(-1, SIGKILL);
        }
      }
      if (pid > 0) continue;
      if (pid < 0 && errno == ECHILD && target_done) leave();
      break;
    }
  }
  _exit(125);
}

std::optional<uint64_t> read_init_report(int fd) {
  char text[32] = {};
  ssize_t got = ::read(fd, text, sizeof(text) - 1);
  uint64_t count = 0;
  if (got <= 0 || std::from_chars(text, text + got, count).ec != std::errc()) return std::nullopt;
  return count;
}

}  // namespace warden
