#include "supervisor/kernel/namespace_root.h"

#include <fcntl.h>
#include <sched.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace warden {
namespace {

// This thread's own namespace, root and working directory, kept to come back to.
struct Home {
  bool ready = false;
  UniqueFd ns, root, cwd;
};

bool make_home(Home& home) {
  if (home.ready) return true;
  // setns(CLONE_NEWNS) refuses a thread that shares its root and working directory.
  if (::unshare(CLONE_FS) != 0) return false;
  home.ns = UniqueFd(::open("/proc/thread-self/ns/mnt", O_RDONLY | O_CLOEXEC));
  home.root = UniqueFd(::open("/", O_PATH | O_DIRECTORY | O_CLOEXEC));
  home.cwd = UniqueFd(::open(".", O_PATH | O_DIRECTORY | O_CLOEXEC));
  home.ready = home.ns.valid() && home.root.valid() && home.cwd.valid();
  return home.ready;
}

void go_home(const Home& home) {
  if (::setns(home.ns.get(), CLONE_NEWNS) == 0 && ::fchdir(home.root.get()) == 0 &&
      ::chroot(".") == 0 && ::fchdir(home.cwd.get()) == 0) {
    return;
  }
  spdlog::critical("returning to memfd-warden's own mount namespace: {}; stopping",
                   std::strerror(errno));
  std::abort();
}

}  // namespace

UniqueFd open_namespace_root(CallerNamespace& caller) {
  struct stat theirs {
  }, ours{};
  if (caller.fd() < 0 || ::fstat(caller.fd(), &theirs) != 0) return {};
  if (::stat("/proc/thread-self/ns/mnt", &ours) == 0 && ours.st_ino == theirs.st_ino &&
      ours.st_dev == theirs.st_dev) {
    return UniqueFd(::open("/", O_PATH | O_DIRECTORY | O_CLOEXEC));  // our own namespace
  }
  thread_local Home home;
  if (make_home(home) && ::setns(caller.fd(), CLONE_NEWNS) == 0) {
    UniqueFd root(::open("/", O_PATH | O_DIRECTORY | O_CLOEXEC));
    go_home(home);
    return root;
  }
  // Not allowed in (memfd-warden without root): the caller's own root, which a chroot into a
  // covered or detached tree can fool.
  char path[64];
  std::snprintf(path, sizeof(path), "/proc/%d/root", caller.tid());
  return UniqueFd(::open(path, O_PATH | O_DIRECTORY | O_CLOEXEC));
}

}  // namespace warden
