// Acting as the caller for a permission check: while a CallerCredsScope lives, this thread's
// effective and filesystem uid and gid, supplementary groups and effective capabilities are the
// calling thread's (its real and saved ids stay memfd-warden's), so an open() memfd-warden makes on
// the caller's behalf (an emulated truncate) is allowed or refused exactly as the caller's own
// would be. Raw per-thread syscalls: glibc's wrappers would change every thread of memfd-warden.
//
// Where memfd-warden cannot take on other credentials (it is not root), the scope changes
// nothing: the target then runs as memfd-warden's own user.
#pragma once

#include <linux/capability.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <vector>

namespace warden {

class CallerCredsScope {
 public:
  // Switches to `tid`'s credentials; ok() is false (and nothing changed) when they could not be
  // read or taken on.
  explicit CallerCredsScope(pid_t tid);
  ~CallerCredsScope();
  CallerCredsScope(const CallerCredsScope&) = delete;
  CallerCredsScope& operator=(const CallerCredsScope&) = delete;

  bool ok() const { return ok_; }
  // The caller's effective uid and gid are 0 but a real or saved one is not (a set-user-ID
  // program of root's). This thread keeps its own real and saved ids 0, so a check that takes
  // them too (FUSE without allow_other lets in only the mount's owner) would let it in.
  bool root_in_effect_only() const { return root_in_effect_only_; }

 private:
  bool ok_ = false;
  bool switched_ = false;
  bool root_in_effect_only_ = false;
  gid_t old_egid_ = 0;
  std::vector<gid_t> old_groups_;
  __user_cap_data_struct old_caps_[2] = {};
};

// Whether TID's user namespace is memfd-warden's own (false when that cannot be told).
bool in_our_user_namespace(pid_t tid);

// Whether the kernel may clear set-ID bits of this file when it is truncated, grown or written
// (a regular file with S_ISUID or S_ISGID): it clears them unless the writer holds CAP_FSETID,
// and a set-group-ID bit without group execute only for a writer outside the file's group
// (fs/attr.c, setattr_should_drop_suidgid). memfd-warden holds CAP_FSETID, so it makes such
// calls on such a file in a CallerCredsScope, and the kernel decides as for the caller's own.
inline bool clears_setid_bits(const struct stat& st) {
  return S_ISREG(st.st_mode) && (st.st_mode & (S_ISUID | S_ISGID)) != 0;
}

}  // namespace warden
