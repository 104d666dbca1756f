#include "supervisor/kernel/inotify_queue.h"

#include <fcntl.h>
#include <sys/inotify.h>

#include <cerrno>
#include <climits>

namespace warden {

Result<UniqueFd> open_inotify(const std::string& what) {
  UniqueFd fd(::inotify_init1(IN_NONBLOCK | IN_CLOEXEC));
  if (fd.valid()) return fd;
  int code = errno;
  // EMFILE is also a full fd table (RLIMIT_NOFILE): the instance limit only if an fd is left.
  if (code == EMFILE && UniqueFd(::open("/", O_PATH | O_CLOEXEC)).valid()) {
    return Error{code, what +
                           ": inotify_init1 (this user's inotify instances are all in use: raise "
                           "fs.inotify.max_user_instances, or user.max_inotify_instances in a "
                           "user namespace)"};
  }
  return Error{code, what + ": inotify_init1"};
}

Error inotify_watch_error(const std::string& what) {
  if (errno == ENOSPC) {
    return errno_error(what +
                       ": inotify_add_watch (this user's inotify watches are all in use: raise "
                       "fs.inotify.max_user_watches, or user.max_inotify_watches in a user "
                       "namespace)");
  }
  return errno_error(what + ": inotify_add_watch");
}

Result<std::shared_ptr<InotifyQueue>> InotifyQueue::open(const std::string& what) {
  auto fd = open_inotify(what);
  if (!fd) return fd.error();
  return std::shared_ptr<InotifyQueue>(new InotifyQueue(std::move(fd.value())));
}

int InotifyQueue::watch_file(const char* path, uint32_t mask) {
  int watch = ::inotify_add_watch(fd_.get(), path, mask);
  if (watch < 0) return errno;
  file_watch_ = watch;
  return 0;
}

int InotifyQueue::watch_end(const char* path) {
  // IN_IGNORED comes with every watch when the inode dies, whatever the mask. The mask must name
  // some event: IN_MOVE_SELF, which a memfd (in no directory) never raises, so the queue carries
  // one event per memfd and nothing else.
  return ::inotify_add_watch(fd_.get(), path, IN_MOVE_SELF);
}

void InotifyQueue::read() {
  alignas(inotify_event) char buffer[16 * 1024];
  for (;;) {
    ssize_t got = ::read(fd_.get(), buffer, sizeof(buffer));
    if (got <= 0) break;  // EAGAIN: nothing queued
    for (char* p = buffer; p < buffer + got;) {
      const auto* event = reinterpret_cast<const inotify_event*>(p);
      if (event->mask & IN_Q_OVERFLOW) {
        ends_lost_ = true;
        if (file_watch_ >= 0) file_events_ |= kEventsLost;
      } else if (event->wd == file_watch_) {
        file_events_ |= event->mask;
      } else if (event->mask & IN_IGNORED) {
        ended_.push_back(event->wd);
      }
      p += sizeof(inotify_event) + event->len;
    }
    // A read returns every queued event that fits: room to spare means the queue is empty
    // (anything queued after the read happened after this read was asked for).
    if (static_cast<size_t>(got) + sizeof(inotify_event) + NAME_MAX + 1 <= sizeof(buffer)) break;
  }
}

}  // namespace warden
