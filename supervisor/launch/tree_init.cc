#include "supervisor/launch/tree_init.h"

#include <fcntl.h>
#include <linux/mount.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <dirent.h>
#include <poll.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <charconv>
#include <cstdlib>
#include <initializer_list>

#include "supervisor/launch/target_privileges.h"

namespace warden {
namespace {

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "memfd-warden: error: %s: %s\n", what, std::strerror(errno));
  _exit(125);
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
    std::fprintf(stderr,
                 "memfd-warden: warning: cannot mount a /proc for the target's PID namespace "
                 "(%s); /proc/<pid> paths built from getpid() will not match\n",
                 std::strerror(errno));
    return false;
  }
  if (hide != nullptr) {
    // The audit file: the target reaches a read-only /dev/null there instead. Unmounting it
    // needs CAP_SYS_ADMIN.
    if (::mount("/dev/null", hide, nullptr, MS_BIND, nullptr) != 0 ||
        ::mount(nullptr, hide, nullptr, MS_BIND | MS_REMOUNT | MS_RDONLY, nullptr) != 0) {
      fail("hiding the audit log from the target (bind mount)");
    }
  }
  if (!protect_cgroups) return true;
  mount_attr attr{};
  attr.attr_set = MOUNT_ATTR_RDONLY;
  if (::syscall(SYS_mount_setattr, AT_FDCWD, "/sys/fs/cgroup", AT_RECURSIVE, &attr, sizeof(attr)) !=
          0 &&
      errno != ENOENT) {
    fail("making /sys/fs/cgroup read-only for the target (mount_setattr)");
  }
  return true;
}

// Processes of the tree in the namespace but us, from our own /proc: what is still running when
// the program exits. Not counted: processes whose parent is outside the namespace (ppid 0 here),
// which memfd-warden put there itself (its vm.memfd_noexec reader, noexec_scope.h). -1 when
// /proc is not the namespace's.
long count_others(bool proc_is_ours) {
  if (!proc_is_ours) return -1;
  DIR* proc = ::opendir("/proc");
  if (proc == nullptr) return -1;
  long count = 0;
  while (dirent* entry = ::readdir(proc)) {
    char* end = nullptr;
    long pid = std::strtol(entry->d_name, &end, 10);
    if (pid <= 1 || *end != '\0') continue;
    char path[64], line[512] = {};
    std::snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
    FILE* stat = std::fopen(path, "re");
    if (stat == nullptr) continue;
    bool read_ok = std::fgets(line, sizeof(line), stat) != nullptr;
    std::fclose(stat);
    // Field 4 (ppid) follows the last ')' of the comm field, which may itself contain ')'.
    const char* close = read_ok ? std::strrchr(line, ')') : nullptr;
    int ppid = 0;
    if (close != nullptr && std::sscanf(close + 1, " %*c %d", &ppid) == 1 && ppid != 0) ++count;
  }
  ::closedir(proc);
  return count;
}

// `--orphans end|wait --grace-ms N --report-fd N`, as init_orphan_args() writes them.
bool orphans_from_args(int argc, char** argv, int* index, bool* end, long* grace_ms,
                       int* report_fd) {
  while (*index + 1 < argc) {
    const char* option = argv[*index];
    const char* value = argv[*index + 1];
    if (std::strcmp(option, "--orphans") == 0) {
      *end = std::strcmp(value, "end") == 0;
    } else if (std::strcmp(option, "--grace-ms") == 0) {
      *grace_ms = std::strtol(value, nullptr, 10);
    } else if (std::strcmp(option, "--report-fd") == 0) {
      *report_fd = static_cast<int>(std::strtol(value, nullptr, 10));
    } else {
      return true;
    }
    *index += 2;
  }
  return true;
}

}  // namespace

void run_tree_init(int argc, char** argv) {
  // Nothing in the namespace may read or trace us: a root target keeps uid 0. The name tells
  // us from the supervisor in ps.
  ::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
  ::prctl(PR_SET_NAME, "warden-init", 0, 0, 0);
  TargetPrivileges privileges;
  int index = 2;
  const char* hide = nullptr;
  if (index + 1 < argc && std::strcmp(argv[index], "--hide") == 0) {
    hide = argv[index + 1];
    index += 2;
  }
  bool end_orphans = true;
  long grace_ms = 2000;
  int report_fd = -1;
  orphans_from_args(argc, argv, &index, &end_orphans, &grace_ms, &report_fd);
  // memfd-warden's end of the count: never the target's.
  if (report_fd >= 0) ::fcntl(report_fd, F_SETFD, FD_CLOEXEC);
  if (!privileges_from_args(argc, argv, &index, &privileges) || index + 1 >= argc ||
      std::strcmp(argv[index], "--") != 0) {
    std::fprintf(stderr, "memfd-warden: error: __init: bad arguments\n");
    _exit(125);
  }
  char** program = argv + index + 1;
  sigset_t handled, original;
  sigemptyset(&handled);
  for (int sig : {SIGCHLD, SIGINT, SIGTERM, SIGHUP}) sigaddset(&handled, sig);
  sigprocmask(SIG_BLOCK, &handled, &original);
  int signals = ::signalfd(-1, &handled, SFD_CLOEXEC);

  bool proc_is_ours = prepare_mounts(privileges.drop_caps, hide);
  int grace_timer = ::timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);

  pid_t target = ::fork();
  if (target < 0) fail("fork");
  if (target == 0) {
    const char* step = "";
    if (int err = apply_target_privileges(privileges, &step); err != 0) {
      errno = err;
      fail(step);
    }
    sigprocmask(SIG_SETMASK, &original, nullptr);
    ::execv(program[0], program);
    int err = errno;
    if (err == ENOENT || err == ENOTDIR) {
      std::fprintf(stderr, "memfd-warden: error: %s: no such file or directory\n", program[0]);
      _exit(127);
    }
    std::fprintf(stderr, "memfd-warden: error: %s: cannot execute: %s\n", program[0],
                 std::strerror(err));
    _exit(126);
  }

  int status = 0;
  bool target_done = false;
  long ended = 0;  // still running when the program exited
  auto leave = [&]() {
    if (report_fd >= 0) ::dprintf(report_fd, "%ld\n", ended);
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
        if (end_orphans && (ended = count_others(proc_is_ours)) != 0) {
          // kill(-1) from a namespace's init reaches every process in it but the init.
          ::kill(-1, SIGTERM);
          ::kill(-1, SIGCONT);  // a stopped process acts on SIGTERM only once it runs
          itimerspec grace{};
          grace.it_value.tv_sec = grace_ms / 1000;
          grace.it_value.tv_nsec = (grace_ms % 1000) * 1000000L;
          if (grace_ms <= 0) grace.it_value.tv_nsec = 1;  // 0 would disarm the timer
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
