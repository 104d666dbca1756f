#include "supervisor/kernel/thread_root.h"

#include <fcntl.h>
#include <sched.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "supervisor/kernel/file_identity.h"

namespace warden {
namespace {

// The thread's own root and working directory, kept from its first scope on.
struct OwnFs {
  bool unshared = false;
  int root = -1;
  int cwd = -1;
};
thread_local OwnFs own;

}  // namespace

bool is_own_root(int root) {
  int mine = ::open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
  bool same = mine >= 0 && same_place(mine, root);
  if (mine >= 0) ::close(mine);
  return same;
}

ThreadRootScope::ThreadRootScope(int root) {
  if (!own.unshared) {
    if (::unshare(CLONE_FS) != 0) return;
    own.root = ::open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
    own.cwd = ::open(".", O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (own.root < 0 || own.cwd < 0) return;
    own.unshared = true;
  }
  if (::fchdir(root) != 0 || ::chroot(".") != 0) {
    (void)::fchdir(own.cwd);
    return;
  }
  ok_ = true;
}

ThreadRootScope::~ThreadRootScope() {
  if (!ok_) return;
  if (::fchdir(own.root) != 0 || ::chroot(".") != 0 || ::fchdir(own.cwd) != 0) {
    // Serving on from inside a target's root would judge every later path from there.
    spdlog::critical("cannot give this thread its own root back: {}", std::strerror(errno));
    std::abort();
  }
}

}  // namespace warden
