// What the kernel's mount tables say about the mount a file is on, for the exec checks
// (memory_file.h): the type of filesystem it holds, and whether it is a caller's namespace's root
// mount. Found without asking the filesystem, since an fstatfs asks a FUSE server, which may
// be the target's own, stopped in a ptrace freeze or holding its answer back.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string_view>

#include "supervisor/kernel/caller_namespace.h"

namespace warden {

struct FilesystemType {
  char name[32] = {};  // "tmpfs", "overlay", "fuse.sshfs" (cut at 31 bytes)

  std::string_view view() const { return name; }
  bool is_fuse() const;    // fuse, fuse.*: a server's, which answers what it likes
  bool is_memory() const;  // tmpfs, devtmpfs, ramfs, rootfs, hugetlbfs: pages only in memory
};

// The id of the mount `fd` is on, of one kind: STATX_MNT_ID (the one mountinfo lists, 5.8+) or
// STATX_MNT_ID_UNIQUE (6.8+, never reused); nullopt when the kernel does not give that kind.
std::optional<uint64_t> mount_id(int fd, unsigned int kind);

// The type of the mount that `fd` (ours; O_PATH is enough) is on: as the kernel names its
// superblock in `caller`'s mount namespace (statmount, 6.11+), or else by the mount's id in the
// caller's /proc/TID/mountinfo, then in memfd-warden's own (a mount id is the kernel's, the same
// in every namespace: a chrooted caller's table leaves out the mounts above its root). nullopt
// when neither lists it: a mount never attached (fsmount) or detached (MNT_DETACH), a
// kernel-internal one (hugetlbfs and secretmem files), or the kernel names no mount (before 5.8).
// Remembered by the mount's unique id (Linux 6.8+, never reused; our fd holds the mount, so its
// listed id cannot be reused meanwhile either): a container's program loads read the tables once,
// not once per library.
std::optional<FilesystemType> listed_filesystem_type(int fd, CallerNamespace& caller);

// Whether `fd` (ours) is a file of a FUSE filesystem, as the mount tables above say: no server is
// asked (one that answers no statfs would hide its mount from fstatfs). A mount no table lists is
// taken for one: a caller of it is then refused rather than let in.
bool on_fuse_mount(int fd, pid_t caller);

}  // namespace warden
