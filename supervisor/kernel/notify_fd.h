// The seccomp user-notification listener and its ioctls (see seccomp_unotify(2)). Owned by the
// supervisor loop's thread alone. Hot-path calls return 0 or an errno rather than a Result: an
// ENOENT (target died, or its call was interrupted) is an ordinary answer, not a failure.
#pragma once

#include <linux/seccomp.h>

#include <cstdint>
#include <memory>
#include <string>

#include "policy/result.h"
#include "supervisor/kernel/unique_fd.h"

namespace warden {

// Empty when `fd` is a seccomp user-notification listener; otherwise what it is instead, for an
// error message ("pipe:[1234]", from /proc/self/fd). Asked of the kernel: a listener answers
// SECCOMP_IOCTL_NOTIF_ID_VALID for an id it does not hold with ENOENT, anything else (pipe, file,
// socket) with ENOTTY. For fds that someone else hands us (the agent's clients).
std::string not_a_listener(int fd);

class NotifyFd {
 public:
  // Sizes the receive buffer from SECCOMP_GET_NOTIF_SIZES (the kernel may know a larger struct
  // than our headers do). Fails when `listener` is not one (not_a_listener()).
  static Result<NotifyFd> adopt(UniqueFd listener);

  int fd() const { return fd_.get(); }

  // Receives one notification into an internal buffer (zeroed first: the kernel rejects a dirty
  // one with EINVAL). Returns 0 or errno; `out` points into the buffer until the next receive.
  int receive(const seccomp_notif*& out);

  // True while the notification `id` is still pending: its caller is alive and still waiting.
  bool id_valid(uint64_t id) const;

  // Fails the call with `error` (a positive errno). Returns 0 or errno.
  int respond_error(uint64_t id, int error) const;

  // Completes the call with return value `value` (we carried it out ourselves).
  int respond_value(uint64_t id, int64_t value) const;

  // Lets the kernel run the call as the target made it. Only for calls whose decision read no
  // target memory that could change afterwards (seccomp_unotify(2): CONTINUE is not a policy
  // tool). Returns 0 or errno.
  int respond_continue(uint64_t id) const;

  // Installs `fd` in the caller and makes it the call's return value in one atomic step
  // (ADDFD_FLAG_SEND, 5.14+): a caller interrupted in between never receives the fd. Returns the
  // fd number in the target, or -errno.
  int install_and_respond(uint64_t id, int fd, bool cloexec) const;

  // SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP (6.6+): the kernel wakes us on the caller's CPU. Returns 0
  // or errno (EINVAL/ENOTTY on kernels without it).
  int enable_sync_wakeup() const;

 private:
  NotifyFd(UniqueFd fd, size_t notif_size)
      : fd_(std::move(fd)),
        notif_size_(notif_size),
        buffer_(std::make_unique<unsigned char[]>(notif_size)) {}

  UniqueFd fd_;
  size_t notif_size_;
  std::unique_ptr<unsigned char[]> buffer_;
};

}  // namespace warden
