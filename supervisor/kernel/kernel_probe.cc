#include "supervisor/kernel/kernel_probe.h"

#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstddef>
#include <cstring>
#include <sstream>
#include <thread>

#include "policy/memfd_flags.h"
#include "supervisor/kernel/kernel_abi.h"
#include "supervisor/kernel/unique_fd.h"

namespace warden {
namespace {

// A one-rule filter: getppid -> user notification, all else allowed. Hand-written BPF keeps
// the probe independent of the filter it is checking the kernel for.
sock_filter kNotifyGetppid[] = {
    BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)),
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_getppid, 0, 1),
    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_USER_NOTIF),
    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
};

void reap(pid_t pid) {
  ::kill(pid, SIGKILL);
  ::waitpid(pid, nullptr, 0);
}

// A filter without TSYNC applies to the one thread that loads it, and so does no_new_privs: a
// thread of ours loads the test filter and ends, and its listener stays ours to ask. No child
// process. (A run does not do this: a thread costs about a millisecond to start here, and the
// target's own listener is asked instead, see probe_before_run.)
void probe_notify(KernelFeatures& out) {
  long listener = -1;
  int error = 0;
  std::thread loader([&] {
    sock_fprog prog{static_cast<unsigned short>(std::size(kNotifyGetppid)), kNotifyGetppid};
    ::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
    listener = sys::seccomp(SECCOMP_SET_MODE_FILTER,
                            SECCOMP_FILTER_FLAG_NEW_LISTENER |
                                SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV,
                            &prog);
    out.wait_killable_recv = listener >= 0;
    if (listener < 0 && errno == EINVAL) {
      listener = sys::seccomp(SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER, &prog);
    }
    error = errno;
  });
  loader.join();
  if (listener < 0) {
    // EBUSY: a listener is already in our own filter chain (we run under user notification).
    out.error = std::string("loading a test filter with a listener: ") + std::strerror(error);
    return;
  }
  UniqueFd fd(static_cast<int>(listener));
  out.sync_wake_up = ::ioctl(fd.get(), SECCOMP_IOCTL_NOTIF_SET_FLAGS,
                             SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP) == 0;
  out.addfd_send = kernel_takes_addfd_flags(fd.get(), SECCOMP_ADDFD_FLAG_SEND);
}

bool probe_ptrace() {
  pid_t child = ::fork();
  if (child == 0) {
    for (;;) ::pause();
  }
  bool seized = ::ptrace(PTRACE_SEIZE, child, nullptr, nullptr) == 0;
  reap(child);
  return seized;
}

}  // namespace

bool kernel_takes_addfd_flags(int listener, uint32_t flags) {
  // The kernel checks the flags, then the source fd, then looks for the notification: with no
  // call pending, a flag it knows ends in ENOENT and one it does not in EINVAL.
  seccomp_notif_addfd addfd{};
  addfd.id = 0;
  addfd.flags = flags;
  addfd.srcfd = static_cast<uint32_t>(listener);
  return ::ioctl(listener, SECCOMP_IOCTL_NOTIF_ADDFD, &addfd) < 0 && errno == ENOENT;
}

bool kernel_runs_x32() {
  constexpr long kX32Getpid = 0x40000000 | 39;  // __X32_SYSCALL_BIT | __NR_getpid
  static const bool runs = ::syscall(kX32Getpid) >= 0 || errno != ENOSYS;
  return runs;
}

KernelFeatures probe_before_run() {
  KernelFeatures out;
  utsname names{};
  ::uname(&names);
  out.release = names.release;
  uint32_t action = SECCOMP_RET_USER_NOTIF;
  out.user_notification = sys::seccomp(SECCOMP_GET_ACTION_AVAIL, 0, &action) == 0;
  UniqueFd self(sys::pidfd_open(::getpid()));
  UniqueFd copy(self.valid() ? sys::pidfd_getfd(self.get(), STDIN_FILENO) : -1);
  // EBADF (no stdin) still proves the call exists; EMFILE proves nothing.
  out.pidfd_getfd = copy.valid() || (self.valid() && errno == EBADF);
  if (!out.pidfd_getfd && (errno == EMFILE || errno == ENFILE) && out.error.empty()) {
    out.error = std::string("probing pidfd_getfd: ") + std::strerror(errno);
  }
  return out;
}

KernelFeatures probe_kernel() {
  KernelFeatures out = probe_before_run();
  if (out.user_notification) probe_notify(out);
  UniqueFd sealed(::memfd_create("memfd-warden-probe", MFD_CLOEXEC | kMfdNoexecSeal));
  out.noexec_seal = sealed.valid();
  UniqueFd secret(static_cast<int>(::syscall(SYS_memfd_secret, O_CLOEXEC)));
  out.memfd_secret = secret.valid();
  out.ptrace = probe_ptrace();
  out.x32 = kernel_runs_x32();
  return out;
}

std::string describe_features(const KernelFeatures& f) {
  std::ostringstream out;
  if (!f.error.empty()) out << "probe error: " << f.error << " (some answers below are unknown)\n";
  auto line = [&](const char* name, bool value) {
    out << name << ": " << (value ? "yes" : "no") << "\n";
  };
  out << "kernel: " << f.release << "\n";
  line("user notification (5.0)", f.user_notification);
  line("ADDFD with SEND (5.14)", f.addfd_send);
  line("SYNC_WAKE_UP (6.6)", f.sync_wake_up);
  line("WAIT_KILLABLE_RECV (5.19)", f.wait_killable_recv);
  line("MFD_NOEXEC_SEAL (6.3)", f.noexec_seal);
  line("memfd_secret (5.14)", f.memfd_secret);
  line("pidfd_getfd (5.6)", f.pidfd_getfd);
  line("ptrace", f.ptrace);
  line("x32 ABI", f.x32);
  bool unotify = f.unotify_usable();
  out << "auto backend: " << (unotify ? "unotify" : f.ptrace ? "ptrace" : "none") << "\n";
  out << "guarantees:\n";
  if (!unotify && !f.ptrace) {
    out << "  - none: neither backend can run here; memfd-warden refuses to start\n";
    return out.str();
  }
  out << "  - every memfd_create in the tree is decided before the kernel acts\n";
  if (unotify) {
    out << "  - an allowed memfd is made by memfd-warden from the checked name and installed "
           "atomically (ADDFD+SEND): no name race, no fd leak into an interrupted caller\n";
    out << (f.wait_killable_recv
                ? "  - a received call is interrupted only by a fatal signal "
                  "(WAIT_KILLABLE_RECV): calls memfd-warden carries out are never replayed\n"
                : "  - without WAIT_KILLABLE_RECV a signal can interrupt a received call; an "
                  "emulated write may then be replayed by SA_RESTART\n");
    out << (f.sync_wake_up ? "  - round trips use SYNC_WAKE_UP\n"
                           : "  - round trips without SYNC_WAKE_UP (slower)\n");
    out << "  - exec and executable-mapping checks judge the file a call reaches; a racing "
           "thread can still swap the path or fd before the kernel looks again "
           "(docs/hardening.md; --backend ptrace has no such window)\n";
  } else {
    out << "  - ptrace: no other thread of the tree runs while an allowed name is created "
           "(each is stopped, or parked in a futex wait it cannot leave without a stop), and "
           "the created memfd's name is verified\n";
    out << "  - ptrace: executable mappings run with the rest of the tree stopped, and every new "
           "program is checked again at its exec event, before it runs\n";
  }
  out << (f.pidfd_getfd ? "  - byte quotas act on the caller's own file description "
                          "(pidfd_getfd): no fd-swap race\n"
                        : "  - byte quotas unavailable: pidfd_getfd is missing\n");
  out << (f.memfd_secret ? "  - memfd_secret is decided and counted like memfd_create\n"
                         : "  - memfd_secret is not available here\n");
  return out.str();
}

}  // namespace warden
