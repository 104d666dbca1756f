#include "supervisor/kernel/inotify_limits.h"

#include <fcntl.h>
#include <sys/inotify.h>

#include <cerrno>

namespace warden {

Result<UniqueFd> open_inotify(const std::string& what) {
  UniqueFd fd(::inotify_init1(IN_NONBLOCK | IN_CLOEXEC));
  if (fd.valid()) return fd;
  // EMFILE is also a full fd table (RLIMIT_NOFILE): the instance limit only if an fd is left.
  if (errno == EMFILE && UniqueFd(::open("/", O_PATH | O_CLOEXEC)).valid()) {
    errno = EMFILE;
    return errno_error(what +
                       ": inotify_init1 (this user's inotify instances are all in use: raise "
                       "fs.inotify.max_user_instances, or user.max_inotify_instances in a user "
                       "namespace)");
  }
  return errno_error(what + ": inotify_init1");
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

}  // namespace warden
