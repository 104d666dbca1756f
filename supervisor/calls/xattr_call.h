// Handles the calls that set an extended attribute, trapped when a byte limit is set: a memfd's
// attributes are kernel memory that no charge counts (each value up to 64 KiB, as many as the
// target likes), so a memfd gets none, nor any other file of the kernel's shmem mount (behind a
// shared anonymous mapping or a System V segment). There setxattr, lsetxattr and fsetxattr fail
// with EOPNOTSUPP, what tmpfs answered for user.* attributes before Linux 6.6, with an audit
// record; setxattrat (6.13, which libc's setxattr family does not use) fails with ENOSYS, as
// before 6.13.
//
// A file named by an fd number or a path can be swapped for a memfd by a second thread after a
// check, and a name rewritten, so the call is never left to the kernel to read again: memfd-warden
// reads the arguments once, takes its own reference to the file (pidfd_getfd, or the caller's
// path resolved as the caller would: kernel/path_resolver.h), and sets the attribute itself, on
// that reference, with the caller's credentials (kernel/caller_creds.h); a POSIX ACL's ids are
// mapped from the caller's user namespace first (kernel/posix_acl_ids.h).
#pragma once

#include <linux/limits.h>

#include <array>
#include <optional>
#include <string_view>
#include <vector>

#include "supervisor/calls/call_channel.h"
#include "supervisor/calls/handler_context.h"
#include "supervisor/kernel/caller_info.h"

namespace warden {

class XattrCallHandler : CallHandler {
 public:
  explicit XattrCallHandler(const HandlerContext& context);

  void handle(const TrappedRequest& request, CallChannel& channel);

 private:
  struct Call;  // one call's arguments and state while it is handled
  // Reads the attribute's name and value from the caller as the kernel copies them, before it
  // looks at the file: 0 or -errno.
  int read_attribute(Call& call);
  // setxattr, lsetxattr: the path, as the kernel copies it after the attribute: 0 or -errno.
  int read_path(Call& call);
  // Our reference to the file the call names: 0 or -errno.
  int reach_file(Call& call);
  // The call made by memfd-warden on its reference, as the caller: 0 or -errno.
  int set_as_caller(Call& call);
  // By a path, in a tree that asked for a Landlock domain: see CallHandler's.
  bool answered_in_landlock(Call& call);
  // A memfd (named in the record), or another file of the kernel's shmem mount.
  void refuse_on_memfd(Call& call, std::optional<std::string_view> memfd_name);
  void respond(Call& call, int result);

  CallerInfo caller_;
  std::array<char, XATTR_NAME_MAX + 1> name_{};
  std::vector<char> value_;  // XATTR_SIZE_MAX, reserved once: no allocation per call
};

}  // namespace warden
