// Which directory entry an fd stands on, as the kernel tells entries apart: the inode (device
// and number) and the mount it was reached through. Two fds with one identity are one place in
// the tree of mounts, so a climb or a lookup that reaches the same identity has not moved; the
// same inode reached through another mount (a bind, or something mounted over it) is another
// place, because ".." from it leads elsewhere.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>

namespace warden {

struct FileIdentity {
  dev_t dev = 0;
  ino_t ino = 0;
  uint64_t mount = 0;
  bool operator==(const FileIdentity&) const = default;
};

// The identity of what `fd` refers to; nullopt when the kernel does not give all of it. Read
// from what the kernel holds (AT_STATX_DONT_SYNC): a FUSE server is never asked.
std::optional<FileIdentity> identity_of(int fd);

// The identity of the entry `name` in `dir` itself (a symlink is not followed, a mount over the
// name is what is seen).
std::optional<FileIdentity> identity_of(int dir, const char* name);

// Whether `a` and `b` are known to stand on one place: an identity that cannot be read is
// never the same as another.
bool same_place(int a, int b);

// Whether `a` and `b` are known to have been reached through one mount.
bool same_mount(int a, int b);

// Whether `name` in `dir` is the directory's own entry, not something mounted over it.
bool not_mounted_over(int dir, const char* name);

}  // namespace warden
