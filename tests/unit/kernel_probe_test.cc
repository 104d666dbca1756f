// The run's probe (probe_before_run) decides the backend without a thread or a child; the launched
// child then asks its own listener for ADDFD with SEND (kernel_takes_addfd_flags), which must tell
// a flag the kernel knows from one it does not, on a listener with no call pending. The full
// probe (memfd-warden probe) must find what the kernel does, checked here on a listener of a
// child.
#include "supervisor/kernel/kernel_probe.h"

#include <doctest/doctest.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <cstddef>

#include "supervisor/kernel/kernel_abi.h"
#include "supervisor/kernel/unique_fd.h"

namespace warden {
namespace {

// A child with a listener filter (memfd_create trapped), and our copy of its listener.
struct ListenerChild {
  ListenerChild() {
    int fds[2];
    REQUIRE(::pipe(fds) == 0);
    child = ::fork();
    if (child == 0) {
      sock_filter filter[] = {
          BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)),
          BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_memfd_create, 0, 1),
          BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_USER_NOTIF),
          BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
      };
      sock_fprog prog{4, filter};
      ::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
      int fd = static_cast<int>(
          ::syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER, &prog));
      (void)::write(fds[1], &fd, sizeof(fd));
      ::pause();
      _exit(0);
    }
    ::close(fds[1]);
    int number = -1;
    REQUIRE(::read(fds[0], &number, sizeof(number)) == sizeof(number));
    ::close(fds[0]);
    REQUIRE(number >= 0);
    UniqueFd pidfd(static_cast<int>(::syscall(SYS_pidfd_open, child, 0)));
    listener = UniqueFd(static_cast<int>(::syscall(SYS_pidfd_getfd, pidfd.get(), number, 0)));
    REQUIRE(listener.valid());
  }
  ~ListenerChild() {
    ::kill(child, SIGKILL);
    ::waitpid(child, nullptr, 0);
  }
  pid_t child = -1;
  UniqueFd listener;
};

}  // namespace

TEST_CASE("the ADDFD flag check answers yes for SEND and no for a flag the kernel lacks") {
  ListenerChild child;
  CHECK(kernel_takes_addfd_flags(child.listener.get(), SECCOMP_ADDFD_FLAG_SEND));
  CHECK(kernel_takes_addfd_flags(child.listener.get(), SECCOMP_ADDFD_FLAG_SETFD));
  // Bit 31 is no ADDFD flag on any kernel: the stand-in for SEND on a kernel before 5.14.
  CHECK_FALSE(kernel_takes_addfd_flags(child.listener.get(), 1u << 31));
}

TEST_CASE("the run's probe asks only what it needs: the action and pidfd_getfd") {
  KernelFeatures found = probe_before_run();
  CHECK(found.error.empty());
  CHECK_FALSE(found.release.empty());
  uint32_t action = SECCOMP_RET_USER_NOTIF;
  bool user_notification = ::syscall(SYS_seccomp, SECCOMP_GET_ACTION_AVAIL, 0, &action) == 0;
  CHECK(found.user_notification == user_notification);
  UniqueFd self(static_cast<int>(::syscall(SYS_pidfd_open, ::getpid(), 0)));
  UniqueFd copy(static_cast<int>(::syscall(SYS_pidfd_getfd, self.get(), STDERR_FILENO, 0)));
  CHECK(found.pidfd_getfd == copy.valid());
  // Not asked: the launched child asks its listener for ADDFD with SEND.
  CHECK_FALSE(found.addfd_send);
  CHECK_FALSE(found.sync_wake_up);
  CHECK_FALSE(found.ptrace);
}

TEST_CASE("the full probe finds what the kernel does, and its filter stays with its thread") {
  KernelFeatures found = probe_kernel();
  CHECK(found.error.empty());
  ListenerChild child;
  CHECK(found.addfd_send ==
        kernel_takes_addfd_flags(child.listener.get(), SECCOMP_ADDFD_FLAG_SEND));
  CHECK(found.sync_wake_up == (::ioctl(child.listener.get(), SECCOMP_IOCTL_NOTIF_SET_FLAGS,
                                       SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP) == 0));
  // The probe thread's filter stayed with it: this thread can still make memfds unwatched.
  UniqueFd own(static_cast<int>(::syscall(SYS_memfd_create, "after-probe", 0)));
  CHECK(own.valid());
  CHECK(::getppid() > 0);  // getppid was the probe filter's trapped call: not trapped here
}

TEST_CASE("auto names a backend only from what the probe could find out") {
  KernelFeatures all;
  all.user_notification = all.addfd_send = all.pidfd_getfd = all.ptrace = true;
  CHECK(std::string(all.auto_backend()) == "unotify");
  KernelFeatures listened = all;
  listened.under_listener = true;  // another listener outranks both backends' filters
  CHECK(std::string(listened.auto_backend()) == "none");
  KernelFeatures no_getfd = all;
  no_getfd.pidfd_getfd = false;
  CHECK(std::string(no_getfd.auto_backend()) == "ptrace");
  no_getfd.unknown = kProbedPidfdGetfd;  // not "no": out of fds when it was tried
  CHECK(std::string(no_getfd.auto_backend()) == "unknown");
  KernelFeatures old_kernel;  // no user notification at all: ADDFD unknown does not matter
  old_kernel.ptrace = true;
  old_kernel.unknown = kProbedAddfdSend;
  CHECK(std::string(old_kernel.auto_backend()) == "ptrace");
  old_kernel.ptrace = false;
  old_kernel.unknown |= kProbedPtrace;
  CHECK(std::string(old_kernel.auto_backend()) == "unknown");
  old_kernel.unknown = 0;
  CHECK(std::string(old_kernel.auto_backend()) == "none");
}

}  // namespace warden
