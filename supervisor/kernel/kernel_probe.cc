#include "supervisor/kernel/kernel_probe.h"

#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
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

// Errors that say nothing about the kernel, only about what this process may have now.
bool out_of_resources(int err) {
  return err == EMFILE || err == ENFILE || err == ENOMEM || err == EAGAIN;
}

void mark_unknown(KernelFeatures& out, unsigned features, const std::string& what, int err) {
  out.unknown |= features;
  if (out.error.empty()) out.error = what + ": " + std::strerror(err);
}

// A filter without TSYNC applies to the one thread that loads it, and so does no_new_privs: a
// thread of ours loads the test filter and ends, and its listener stays ours to ask. No child
// process. (A run does not do this: a thread costs about a millisecond to start here, and the
// target's own listener is asked instead, see probe_before_run.)
void probe_notify(KernelFeatures& out) {
  constexpr unsigned kAsked = kProbedAddfdSend | kProbedSyncWakeUp | kProbedWaitKillableRecv;
  long listener = -1;
  int error = 0;
  bool killable_refused = false;
  try {
    std::thread loader([&] {
      sock_fprog prog{static_cast<unsigned short>(std::size(kNotifyGetppid)), kNotifyGetppid};
      ::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
      listener = sys::seccomp(
          SECCOMP_SET_MODE_FILTER,
          SECCOMP_FILTER_FLAG_NEW_LISTENER | SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV, &prog);
      if (listener < 0 && errno == EINVAL) {
        killable_refused = true;
        listener = sys::seccomp(SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER, &prog);
      }
      error = errno;
    });
    loader.join();
  } catch (const std::system_error& e) {
    mark_unknown(out, kAsked, "starting the probe's thread", e.code().value());
    return;
  }
  if (listener < 0) {
    if (error == EBUSY) {
      // A listener is already in our own filter chain: what ours could do cannot be asked.
      out.under_listener = true;
      out.unknown |= kAsked;
    } else if (out_of_resources(error)) {
      mark_unknown(out, kAsked, "loading a test filter with a listener", error);
    }
    return;
  }
  UniqueFd fd(static_cast<int>(listener));
  out.wait_killable_recv = !killable_refused;
  out.sync_wake_up =
      ::ioctl(fd.get(), SECCOMP_IOCTL_NOTIF_SET_FLAGS, SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP) == 0;
  out.addfd_send = kernel_takes_addfd_flags(fd.get(), SECCOMP_ADDFD_FLAG_SEND);
}

void probe_ptrace(KernelFeatures& out) {
  pid_t child = ::fork();
  if (child < 0) {
    // Never on to kill(-1, ...): that is every process we may signal.
    mark_unknown(out, kProbedPtrace, "starting a child to trace", errno);
    return;
  }
  if (child == 0) {
    for (;;) ::pause();
  }
  out.ptrace = ::ptrace(PTRACE_SEIZE, child, nullptr, nullptr) == 0;
  ::kill(child, SIGKILL);
  ::waitpid(child, nullptr, 0);
}

// memfd_create and memfd_secret, each tried for real: ENOSYS or EINVAL is a no, running out of
// fds or memory an unknown.
void probe_created(KernelFeatures& out, bool& found, ProbedFeature feature, const char* what,
                   long fd) {
  if (fd >= 0) {
    found = true;
    ::close(static_cast<int>(fd));
  } else if (out_of_resources(errno)) {
    mark_unknown(out, feature, what, errno);
  }
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
  if (!out.pidfd_getfd && out_of_resources(errno)) {
    mark_unknown(out, kProbedPidfdGetfd, "probing pidfd_getfd", errno);
  }
  return out;
}

KernelFeatures probe_kernel() {
  KernelFeatures out = probe_before_run();
  if (out.user_notification) probe_notify(out);
  probe_created(out, out.noexec_seal, kProbedNoexecSeal, "probing MFD_NOEXEC_SEAL",
                ::memfd_create("memfd-warden-probe", MFD_CLOEXEC | kMfdNoexecSeal));
  probe_created(out, out.memfd_secret, kProbedMemfdSecret, "probing memfd_secret",
                ::syscall(SYS_memfd_secret, O_CLOEXEC));
  probe_ptrace(out);
  out.x32 = kernel_runs_x32();
  return out;
}

const char* KernelFeatures::auto_backend() const {
  if (under_listener) return "none";
  if (unotify_usable()) return "unotify";
  // Not usable as far as is known: still unknown while a feature it lacks might be there.
  bool might = (user_notification || !known(kProbedUserNotification)) &&
               (addfd_send || !known(kProbedAddfdSend)) &&
               (pidfd_getfd || !known(kProbedPidfdGetfd));
  if (might || !known(kProbedPtrace)) return "unknown";
  return ptrace ? "ptrace" : "none";
}

std::string describe_features(const KernelFeatures& f) {
  std::ostringstream out;
  if (!f.error.empty()) {
    out << "probe error: " << f.error << " (the answers marked unknown could not be found out)\n";
  }
  auto line = [&](const char* name, bool value, unsigned feature = 0) {
    out << name << ": " << ((f.unknown & feature) ? "unknown" : value ? "yes" : "no") << "\n";
  };
  out << "kernel: " << f.release << "\n";
  line("user notification (5.0)", f.user_notification, kProbedUserNotification);
  line("ADDFD with SEND (5.14)", f.addfd_send, kProbedAddfdSend);
  line("SYNC_WAKE_UP (6.6)", f.sync_wake_up, kProbedSyncWakeUp);
  line("WAIT_KILLABLE_RECV (5.19)", f.wait_killable_recv, kProbedWaitKillableRecv);
  line("MFD_NOEXEC_SEAL (6.3)", f.noexec_seal, kProbedNoexecSeal);
  line("memfd_secret (5.14)", f.memfd_secret, kProbedMemfdSecret);
  line("pidfd_getfd (5.6)", f.pidfd_getfd, kProbedPidfdGetfd);
  line("ptrace", f.ptrace, kProbedPtrace);
  line("x32 ABI", f.x32);
  std::string chosen = f.auto_backend();
  out << "auto backend: " << chosen << "\n";
  out << "guarantees:\n";
  if (f.under_listener) {
    out << "  - none: memfd-warden itself runs under a seccomp listener (another memfd-warden, or "
           "a container's seccomp agent), which would see memfd_create before either backend; "
           "memfd-warden refuses to start here (run it outside, or as the container's agent)\n";
    return out.str();
  }
  if (chosen == "unknown") {
    out << "  - unknown: the probe could not find out (probe error, above)\n";
    return out.str();
  }
  if (chosen == "none") {
    out << "  - none: neither backend can run here; memfd-warden refuses to start\n";
    return out.str();
  }
  bool unotify = chosen == "unotify";
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
