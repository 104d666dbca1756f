// Finds out what this kernel can do by doing it: each feature memfd-warden relies on is tried,
// not inferred from the version number. `memfd-warden probe` tries them all. A run tries, in this
// process and with no thread or child, the user-notification action and pidfd_getfd; ADDFD with
// SEND is then asked of the target's own listener by the launched child, before anything of the
// target's runs (launcher.h); ptrace fails, if it must, when the tracer seizes the target.
#pragma once

#include <cstdint>
#include <string>

namespace warden {

// One bit per feature, for KernelFeatures::unknown.
enum ProbedFeature : unsigned {
  kProbedUserNotification = 1u << 0,
  kProbedAddfdSend = 1u << 1,
  kProbedSyncWakeUp = 1u << 2,
  kProbedWaitKillableRecv = 1u << 3,
  kProbedNoexecSeal = 1u << 4,
  kProbedMemfdSecret = 1u << 5,
  kProbedPidfdGetfd = 1u << 6,
  kProbedPtrace = 1u << 7,
};

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

  // memfd-warden itself runs under a seccomp filter with a listener (another memfd-warden, a
  // container's seccomp agent). No listener of ours can be loaded, and that listener's
  // USER_NOTIF outranks the ptrace backend's RET_TRACE: it would see memfd_create first and
  // could let it through. Neither backend can enforce a policy here.
  bool under_listener = false;

  // ProbedFeature bits of the features that could not be tried (out of fds, no thread or child):
  // their "no" means unknown. `error` then says why.
  unsigned unknown = 0;
  std::string error;

  bool known(ProbedFeature feature) const { return (unknown & feature) == 0; }
  // What --backend auto picks: user notification when it has what a sound decision needs.
  bool unotify_usable() const {
    return !under_listener && user_notification && addfd_send && pidfd_getfd;
  }
  // "unotify", "ptrace", "none", or "unknown" when the features that decide it could not be tried.
  const char* auto_backend() const;
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
