#include "supervisor/kernel/notify_fd.h"

#include <fcntl.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "policy/printable.h"
#include "supervisor/kernel/kernel_abi.h"

namespace warden {

std::string not_a_listener(int fd) {
  // Notification ids are random 64-bit numbers, so 0 is all but never pending; a listener that
  // did hold it would answer 0, and still be a listener.
  uint64_t id = 0;
  if (::ioctl(fd, SECCOMP_IOCTL_NOTIF_ID_VALID, &id) == 0 || errno == ENOENT) return {};
  if (errno == EBADF) return "no open fd";
  char link[256];
  std::string self = "/proc/self/fd/" + std::to_string(fd);
  ssize_t length = ::readlink(self.c_str(), link, sizeof(link) - 1);
  // A file's name is the client's choice: shown escaped.
  return length > 0 ? printable(std::string_view(link, static_cast<size_t>(length)))
                    : std::string("not one");
}

Result<NotifyFd> NotifyFd::adopt(UniqueFd listener) {
  if (std::string what = not_a_listener(listener.get()); !what.empty()) {
    return Error{0, "the fd given as the seccomp listener is " + what + ", not a listener"};
  }
  seccomp_notif_sizes sizes{};
  if (sys::seccomp(SECCOMP_GET_NOTIF_SIZES, 0, &sizes) != 0) {
    return errno_error("seccomp(SECCOMP_GET_NOTIF_SIZES)");
  }
  size_t size = std::max<size_t>(sizes.seccomp_notif, sizeof(seccomp_notif));
  return NotifyFd(std::move(listener), size);
}

int NotifyFd::receive(const seccomp_notif*& out) {
  std::memset(buffer_.get(), 0, notif_size_);
  if (::ioctl(fd_.get(), SECCOMP_IOCTL_NOTIF_RECV, buffer_.get()) != 0) return errno;
  out = reinterpret_cast<const seccomp_notif*>(buffer_.get());
  return 0;
}

bool NotifyFd::id_valid(uint64_t id) const {
  return ::ioctl(fd_.get(), SECCOMP_IOCTL_NOTIF_ID_VALID, &id) == 0;
}

int NotifyFd::respond_error(uint64_t id, int error) const {
  seccomp_notif_resp resp{};
  resp.id = id;
  resp.error = -error;
  if (::ioctl(fd_.get(), SECCOMP_IOCTL_NOTIF_SEND, &resp) != 0) return errno;
  return 0;
}

int NotifyFd::respond_value(uint64_t id, int64_t value) const {
  seccomp_notif_resp resp{};
  resp.id = id;
  resp.val = value;
  if (::ioctl(fd_.get(), SECCOMP_IOCTL_NOTIF_SEND, &resp) != 0) return errno;
  return 0;
}

int NotifyFd::respond_continue(uint64_t id) const {
  seccomp_notif_resp resp{};
  resp.id = id;
  resp.flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
  if (::ioctl(fd_.get(), SECCOMP_IOCTL_NOTIF_SEND, &resp) != 0) return errno;
  return 0;
}

int NotifyFd::install_and_respond(uint64_t id, int fd, bool cloexec) const {
  seccomp_notif_addfd addfd{};
  addfd.id = id;
  addfd.flags = SECCOMP_ADDFD_FLAG_SEND;
  addfd.srcfd = static_cast<uint32_t>(fd);
  addfd.newfd_flags = cloexec ? O_CLOEXEC : 0;
  int installed = ::ioctl(fd_.get(), SECCOMP_IOCTL_NOTIF_ADDFD, &addfd);
  return installed >= 0 ? installed : -errno;
}

int NotifyFd::enable_sync_wakeup() const {
  if (::ioctl(fd_.get(), SECCOMP_IOCTL_NOTIF_SET_FLAGS, SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP) != 0) {
    return errno;
  }
  return 0;
}

}  // namespace warden
