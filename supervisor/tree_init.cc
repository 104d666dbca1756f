#include "supervisor/tree_init.h"

#include <linux/mount.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <initializer_list>

#include "supervisor/target_privileges.h"

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
void prepare_mounts(bool protect_cgroups, const char* hide) {
  if (::unshare(CLONE_NEWNS) != 0 || ::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) ||
      ::mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr) != 0) {
    std::fprintf(stderr,
                 "memfd-warden: warning: cannot mount a /proc for the target's PID namespace "
                 "(%s); /proc/<pid> paths built from getpid() will not match\n",
                 std::strerror(errno));
    return;
  }
  if (hide != nullptr) {
    // The audit file: the target reaches a read-only /dev/null there instead. Unmounting it
    // needs CAP_SYS_ADMIN.
    if (::mount("/dev/null", hide, nullptr, MS_BIND, nullptr) != 0 ||
        ::mount(nullptr, hide, nullptr, MS_BIND | MS_REMOUNT | MS_RDONLY, nullptr) != 0) {
      fail("hiding the audit log from the target (bind mount)");
    }
  }
  if (!protect_cgroups) return;
  mount_attr attr{};
  attr.attr_set = MOUNT_ATTR_RDONLY;
  if (::syscall(SYS_mount_setattr, AT_FDCWD, "/sys/fs/cgroup", AT_RECURSIVE, &attr, sizeof(attr)) !=
          0 &&
      errno != ENOENT) {
    fail("making /sys/fs/cgroup read-only for the target (mount_setattr)");
  }
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

  prepare_mounts(privileges.drop_caps, hide);

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
  for (;;) {
    signalfd_siginfo info{};
    if (::read(signals, &info, sizeof(info)) != sizeof(info)) {
      if (errno == EINTR) continue;
      break;
    }
    if (info.ssi_signo != SIGCHLD) {
      if (!target_done) ::kill(target, static_cast<int>(info.ssi_signo));
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
      }
      if (pid > 0) continue;
      if (pid < 0 && errno == ECHILD && target_done) {
        if (WIFSIGNALED(status)) _exit(128 + WTERMSIG(status));
        _exit(WIFEXITED(status) ? WEXITSTATUS(status) : 125);
      }
      break;
    }
  }
  _exit(125);
}

}  // namespace warden
