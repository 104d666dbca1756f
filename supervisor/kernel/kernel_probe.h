// Finds out what this kernel can do by doing it: each feature memfd-warden relies on is tried,
// not inferred from the version number. `memfd-warden probe` tries them all. A run tries, in this
// process and with no thread or child, the user-notification action and pidfd_getfd; ADDFD with
// SEND is then asked of the target's own listener by the launched child, before anything of the
// target's runs (launcher.h); ptrace fails, if it must, when the tracer seizes the target.
#pragma once

#include <cstdint>
#include <string>

namespace warden {

struct KernelFeatures {
  std::string release;              // uname -r
  bool user_notification = false;   // SECCOMP_RET_USER_NOTIF (5.0)
  bool addfd_send = false;          // SECCOMP_IOCTL_NOTIF_ADDFD + SECCOMP_ADDFD_FLAG_SEND (5.14)
  bool sync_wake_up = false;        // SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP (6.6)
  bool wait_killable_recv = false;  // SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV (5.19)
  bool noexec_seal = false;         // MFD_NOEXEC_SEAL (6.3)
  bool memfd_secret = false;        // memfd_secret(2) (5.14, when secretmem is enabled)
  bool pidfd_getfd = false;         // pidfd_getfd(2) (5.6)
  bool ptrace = false;              // PTRACE_SEIZE of our own child
  bool x32 = false;                 // the x32 ABI (CONFIG_X86_X32_ABI): absent on most kernels

  // Set when a feature could not be tried (out of fds, fork failed, ...): then a "no" above may
  // mean "unknown", and nothing should be concluded from it.
  std::string error;

  // What --backend auto picks: user notification when it has what a sound decision needs.
  bool unotify_usable() const { return user_notification && addfd_send && pidfd_getfd; }
};

KernelFeatures probe_kernel();

// What a run checks before it launches: the release, user notification and pidfd_getfd (every
// other field stays false: not asked). No thread, no child process.
KernelFeatures probe_before_run();

// Whether the kernel knows every flag in `flags` for SECCOMP_IOCTL_NOTIF_ADDFD, asked of a
// listener with no call pending (ENOENT: known; EINVAL: not).
bool kernel_takes_addfd_flags(int listener, uint32_t flags);

// Whether this kernel runs x32 system calls: one x32 getpid, no child needed. Without x32 the
// kernel answers every x32 call with ENOSYS, and the filter leaves them to it.
bool kernel_runs_x32();

// The text `memfd-warden probe` prints: one "feature: yes|no" line each, the backend auto
// would choose, and the guarantees in force with it.
std::string describe_features(const KernelFeatures& features);

}  // namespace warden
