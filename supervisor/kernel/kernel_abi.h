// Thin wrappers for the syscalls glibc 2.36 does not wrap for C++ (pidfd_*, seccomp) and the
// seccomp uapi values newer than Debian 12's 6.1 headers. Each returns what the syscall returns
// and leaves errno as the kernel set it.
#pragma once

#include <fcntl.h>
#include <linux/seccomp.h>
#include <linux/types.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <csignal>

// 6.6: SECCOMP_IOCTL_NOTIF_SET_FLAGS takes the flag value itself, not a pointer to it.
#ifndef SECCOMP_IOCTL_NOTIF_SET_FLAGS
#define SECCOMP_IOCTL_NOTIF_SET_FLAGS SECCOMP_IOW(4, __u64)
#endif
#ifndef SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP
#define SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP (1UL << 0)
#endif

// 6.9: a pidfd for one thread rather than a thread group.
#ifndef PIDFD_THREAD
#define PIDFD_THREAD O_EXCL
#endif

namespace warden::sys {

// 6.13: PIDFD_GET_INFO, a task's ids and credentials from its pidfd (struct pidfd_info in
// linux/pidfd.h, which Debian 12's headers predate). Extensible: the kernel fills what it knows
// of the size passed.
struct PidfdInfo {
  __u64 mask;
  __u64 cgroupid;
  __u32 pid;
  __u32 tgid;
  __u32 ppid;
  __u32 ruid;
  __u32 rgid;
  __u32 euid;
  __u32 egid;
  __u32 suid;
  __u32 sgid;
  __u32 fsuid;
  __u32 fsgid;
  __s32 exit_code;
};
inline constexpr __u64 kPidfdInfoPid = 1u << 0;
inline constexpr __u64 kPidfdInfoCreds = 1u << 1;
inline constexpr unsigned long kPidfdGetInfo = _IOWR(0xFF, 11, PidfdInfo);

inline int pidfd_open(pid_t pid) { return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)); }

inline int pidfd_open_flags(pid_t pid, unsigned flags) {
  return static_cast<int>(::syscall(SYS_pidfd_open, pid, flags));
}

inline int pidfd_getfd(int pidfd, int fd) {
  return static_cast<int>(::syscall(SYS_pidfd_getfd, pidfd, fd, 0));
}

inline int pidfd_send_signal(int pidfd, int sig) {
  return static_cast<int>(::syscall(SYS_pidfd_send_signal, pidfd, sig, nullptr, 0));
}

inline long seccomp(unsigned int op, unsigned int flags, void* args) {
  return ::syscall(SYS_seccomp, op, flags, args);
}

}  // namespace warden::sys
