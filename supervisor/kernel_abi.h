// Thin wrappers for the syscalls glibc 2.36 does not wrap for C++ (pidfd_*, seccomp) and the
// seccomp uapi values newer than Debian 12's 6.1 headers. Each returns what the syscall returns
// and leaves errno as the kernel set it.
#pragma once

#include <linux/seccomp.h>
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

namespace warden::sys {

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
