// Gives the calling thread, for as long as the scope lives, another process's root (an fd of its
// /proc/TID/root): the kernel then judges ".." against that root as it would for that process,
// where a lookup from outside it would climb past it (a mount over a chrooted caller's root: the
// kernel's choose_mountpoint stops there for the caller only). The thread's filesystem context
// is made its own the first time (unshare(CLONE_FS)), so no other thread ever sees that root.
// Needs CAP_SYS_CHROOT in effect.
#pragma once

namespace warden {

class ThreadRootScope {
 public:
  explicit ThreadRootScope(int root);
  ~ThreadRootScope();
  ThreadRootScope(const ThreadRootScope&) = delete;
  ThreadRootScope& operator=(const ThreadRootScope&) = delete;

  bool ok() const { return ok_; }

 private:
  bool ok_ = false;
};

// Whether `root` (a directory fd) is the calling thread's own root.
bool is_own_root(int root);

}  // namespace warden
