#include "supervisor/tree_init.h"

#include <sched.h>
#include <sys/mount.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <initializer_list>

namespace warden {

void run_tree_init(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "memfd-warden: error: __init needs a program\n");
    _exit(125);
  }
  sigset_t handled, original;
  sigemptyset(&handled);
  for (int sig : {SIGCHLD, SIGINT, SIGTERM, SIGHUP}) sigaddset(&handled, sig);
  sigprocmask(SIG_BLOCK, &handled, &original);
  int signals = ::signalfd(-1, &handled, SFD_CLOEXEC);

  // getpid() in the tree answers with namespace pids; give the tree a /proc that agrees (as a
  // container would), in a mount namespace of its own, so paths built as /proc/<getpid()>/...
  // name the right process. memfd-warden keeps reading the host's /proc. Without the
  // privilege for it the tree keeps the host's /proc, and says so.
  if (::unshare(CLONE_NEWNS) != 0 || ::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) ||
      ::mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr) != 0) {
    std::fprintf(stderr,
                 "memfd-warden: warning: cannot mount a /proc for the target's PID namespace "
                 "(%s); /proc/<pid> paths built from getpid() will not match\n",
                 std::strerror(errno));
  }

  pid_t target = ::fork();
  if (target < 0) {
    std::fprintf(stderr, "memfd-warden: error: fork: %s\n", std::strerror(errno));
    _exit(125);
  }
  if (target == 0) {
    sigprocmask(SIG_SETMASK, &original, nullptr);
    ::execv(argv[2], argv + 2);
    int err = errno;
    if (err == ENOENT || err == ENOTDIR) {
      std::fprintf(stderr, "memfd-warden: error: %s: no such file or directory\n", argv[2]);
      _exit(127);
    }
    std::fprintf(stderr, "memfd-warden: error: %s: cannot execute: %s\n", argv[2],
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
