#include "supervisor/kernel/kernel_probe.h"

#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstddef>
#include <cstring>
#include <sstream>

#include "policy/memfd_flags.h"
#include "supervisor/kernel/fd_message.h"
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

// Loads the filter with `flags` in a child and reports whether the kernel took them.
bool child_loads_filter(unsigned flags) {
  pid_t child = ::fork();
  if (child == 0) {
    sock_fprog prog{static_cast<unsigned short>(std::size(kNotifyGetppid)), kNotifyGetppid};
    ::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
    _exit(sys::seccomp(SECCOMP_SET_MODE_FILTER, flags, &prog) >= 0 ? 0 : 1);
  }
  int status = 0;
  ::waitpid(child, &status, 0);
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

// A child traps getppid; we answer with ADDFD+SEND (an fd for /dev/null) and try SET_FLAGS.
void probe_notify(KernelFeatures& out) {
  auto could_not = [&](const char* what) {
    if (out.error.empty()) {
      out.error = std::string("probing user notification: ") + what + ": " + std::strerror(errno);
    }
  };
  int sockets[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sockets) != 0) {
    could_not("socketpair");
    return;
  }
  UniqueFd ours(sockets[0]), theirs(sockets[1]);
  pid_t child = ::fork();
  if (child < 0) {
    could_not("fork");
    return;
  }
  if (child == 0) {
    sock_fprog prog{static_cast<unsigned short>(std::size(kNotifyGetppid)), kNotifyGetppid};
    ::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
    int listener = static_cast<int>(
        sys::seccomp(SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER, &prog));
    if (listener < 0) _exit(2);
    FdMessage message;
    message.set_fd(listener);
    if (::sendmsg(sockets[1], &message.msg, 0) != 1) _exit(3);
    ::close(listener);
    long fd = ::syscall(SYS_getppid);  // answered by the parent with an installed fd
    _exit(fd >= 0 && ::fcntl(static_cast<int>(fd), F_GETFD) >= 0 ? 0 : 4);
  }
  theirs.reset();
  FdMessage message;
  int raw = -1;
  if (::recvmsg(ours.get(), &message.msg, MSG_CMSG_CLOEXEC) != 1 || (raw = message.fd()) < 0) {
    // The child could not load a listener filter or pass it (EMFILE in the child, ...).
    errno = errno != 0 ? errno : EIO;
    could_not("receiving a listener from a test child");
    reap(child);
    return;
  }
  UniqueFd listener(raw);
  out.sync_wake_up = ::ioctl(listener.get(), SECCOMP_IOCTL_NOTIF_SET_FLAGS,
                             SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP) == 0;
  seccomp_notif_sizes sizes{};
  sys::seccomp(SECCOMP_GET_NOTIF_SIZES, 0, &sizes);
  std::string buffer(std::max<size_t>(sizes.seccomp_notif, sizeof(seccomp_notif)), '\0');
  auto* request = reinterpret_cast<seccomp_notif*>(buffer.data());
  if (::ioctl(listener.get(), SECCOMP_IOCTL_NOTIF_RECV, request) != 0) {
    reap(child);
    return;
  }
  UniqueFd null(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  if (!null.valid()) {
    could_not("opening /dev/null");
    reap(child);
    return;
  }
  seccomp_notif_addfd addfd{};
  addfd.id = request->id;
  addfd.flags = SECCOMP_ADDFD_FLAG_SEND;
  addfd.srcfd = static_cast<uint32_t>(null.get());
  bool sent = ::ioctl(listener.get(), SECCOMP_IOCTL_NOTIF_ADDFD, &addfd) >= 0;
  if (!sent && errno != EINVAL) could_not("SECCOMP_IOCTL_NOTIF_ADDFD");  // EINVAL: no SEND flag
  if (!sent) {
    seccomp_notif_resp resp{};
    resp.id = request->id;
    resp.error = -ENOSYS;
    ::ioctl(listener.get(), SECCOMP_IOCTL_NOTIF_SEND, &resp);
  }
  int status = 0;
  ::waitpid(child, &status, 0);
  out.addfd_send = sent && WIFEXITED(status) && WEXITSTATUS(status) == 0;
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

bool kernel_runs_x32() {
  constexpr long kX32Getpid = 0x40000000 | 39;  // __X32_SYSCALL_BIT | __NR_getpid
  static const bool runs = ::syscall(kX32Getpid) >= 0 || errno != ENOSYS;
  return runs;
}

KernelFeatures probe_kernel() {
  KernelFeatures out;
  utsname names{};
  ::uname(&names);
  out.release = names.release;
  uint32_t action = SECCOMP_RET_USER_NOTIF;
  out.user_notification = sys::seccomp(SECCOMP_GET_ACTION_AVAIL, 0, &action) == 0;
  if (out.user_notification) {
    probe_notify(out);
    out.wait_killable_recv = child_loads_filter(SECCOMP_FILTER_FLAG_NEW_LISTENER |
                                                SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV);
  }
  UniqueFd sealed(::memfd_create("memfd-warden-probe", MFD_CLOEXEC | kMfdNoexecSeal));
  out.noexec_seal = sealed.valid();
  UniqueFd secret(static_cast<int>(::syscall(SYS_memfd_secret, O_CLOEXEC)));
  out.memfd_secret = secret.valid();
  UniqueFd self(sys::pidfd_open(::getpid()));
  UniqueFd copy(self.valid() ? sys::pidfd_getfd(self.get(), STDIN_FILENO) : -1);
  // EBADF (no stdin) still proves the call exists; EMFILE proves nothing.
  out.pidfd_getfd = copy.valid() || (self.valid() && errno == EBADF);
  if (!out.pidfd_getfd && (errno == EMFILE || errno == ENFILE) && out.error.empty()) {
    out.error = std::string("probing pidfd_getfd: ") + std::strerror(errno);
  }
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
    out << "  - ptrace: the rest of the tree is stopped while an allowed name is created, and "
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
