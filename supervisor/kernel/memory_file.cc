#include "supervisor/kernel/memory_file.h"

#include <fcntl.h>
#include <linux/magic.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <optional>

#include "supervisor/kernel/self_fd.h"
#include "supervisor/kernel/unique_fd.h"

namespace warden {
namespace {

#ifndef SECRETMEM_MAGIC
#define SECRETMEM_MAGIC 0x5345434d
#endif

// A mount's id, or nullopt when the kernel does not say (before 5.8).
std::optional<uint64_t> mount_of(int fd) {
  struct statx sx {};
  if (::statx(fd, "", AT_EMPTY_PATH | AT_STATX_DONT_SYNC, STATX_MNT_ID, &sx) != 0 ||
      !(sx.stx_mask & STATX_MNT_ID)) {
    return std::nullopt;
  }
  return static_cast<uint64_t>(sx.stx_mnt_id);
}

// The kernel's internal shmem mount (shm_mnt), which holds every memfd and the file behind every
// shared anonymous mapping: a memfd of ours tells its id (0 here: the mount is in no namespace)
// and its device.
struct InternalShmem {
  std::optional<uint64_t> mount;
  std::optional<dev_t> dev;
};
const InternalShmem& internal_shmem() {
  static const InternalShmem shmem = [] {
    InternalShmem found;
    UniqueFd fd(::memfd_create("memfd-warden-mount-probe", MFD_CLOEXEC));
    struct stat st {};
    if (fd.valid()) found.mount = mount_of(fd.get());
    if (fd.valid() && ::fstat(fd.get(), &st) == 0) found.dev = st.st_dev;
    return found;
  }();
  return shmem;
}

std::optional<uint64_t> internal_shmem_mount() { return internal_shmem().mount; }

constexpr std::string_view kMemfdPrefix = "/memfd:", kDeletedSuffix = " (deleted)";

}  // namespace

const char* memory_file_kind_name(MemoryFileKind kind) {
  switch (kind) {
    case MemoryFileKind::kNone:
      return "file";
    case MemoryFileKind::kMemfd:
      return "memfd";
    case MemoryFileKind::kSecretmem:
      return "secretmem";
    case MemoryFileKind::kUnlinkedShmem:
      return "unlinked-shmem";
    case MemoryFileKind::kAnonymousShared:
      return "anonymous-shared";
  }
  return "?";
}

bool cached_stat(int dirfd, const char* path, int flags, struct stat& out) {
  struct statx sx {};
  if (::statx(dirfd, path, flags | AT_STATX_DONT_SYNC, STATX_BASIC_STATS, &sx) != 0) return false;
  out = {};
  out.st_dev = makedev(sx.stx_dev_major, sx.stx_dev_minor);
  out.st_ino = sx.stx_ino;
  out.st_mode = sx.stx_mode;
  out.st_nlink = sx.stx_nlink;
  out.st_uid = sx.stx_uid;
  out.st_gid = sx.stx_gid;
  out.st_rdev = makedev(sx.stx_rdev_major, sx.stx_rdev_minor);
  out.st_size = static_cast<off_t>(sx.stx_size);
  out.st_blksize = static_cast<blksize_t>(sx.stx_blksize);
  out.st_blocks = static_cast<blkcnt_t>(sx.stx_blocks);
  return true;
}

bool on_kernel_shmem_mount(int fd) {
  return internal_shmem_mount() && mount_of(fd) == internal_shmem_mount();
}

MemoryFile classify_memory_file(int fd, char (&link)[512]) {
  MemoryFile out;
  if (!cached_fstat(fd, out.st)) return out;
  // Memory is unlinked and regular; anything else is what its path says it is, and its
  // filesystem is not asked (fstatfs would wait on a FUSE server, attributes come from the
  // cache). A memfd lives on the kernel's shmem mount, asked for nothing either.
  // (A secretmem file keeps its one link: its /proc/self/fd text, on a device with no disk,
  // says what it is.)
  bool on_shmem_mount = on_kernel_shmem_mount(fd);
  if (!on_shmem_mount && (!S_ISREG(out.st.st_mode) || out.st.st_nlink != 0)) {
    if (major(out.st.st_dev) != 0) return out;
    if (self_fd_link(fd, link) != "/secretmem (deleted)") return out;
  }
  struct statfs fs {};
  if (::fstatfs(fd, &fs) != 0) return out;
  auto type = static_cast<unsigned long>(fs.f_type);
  if (type == SECRETMEM_MAGIC) {
    out.kind = MemoryFileKind::kSecretmem;
    return out;
  }
  // ramfs is memory as tmpfs is, and any user namespace may mount one.
  if ((type != TMPFS_MAGIC && type != HUGETLBFS_MAGIC && type != RAMFS_MAGIC) ||
      !S_ISREG(out.st.st_mode) || out.st.st_nlink != 0) {
    return out;  // a file with a name in some filesystem: what the path says it is
  }
  out.kind = MemoryFileKind::kUnlinkedShmem;
  std::string_view text = self_fd_link(fd, link);
  if (text.starts_with(kMemfdPrefix) && text.ends_with(kDeletedSuffix)) {
    text.remove_prefix(kMemfdPrefix.size());
    text.remove_suffix(kDeletedSuffix.size());
    out.kind = MemoryFileKind::kMemfd;
    out.name = text;
  } else if (type == TMPFS_MAGIC && text == "/dev/zero (deleted)" && internal_shmem_mount() &&
             mount_of(fd) == internal_shmem_mount()) {
    // Only the kernel's own mount: an unlinked tmpfs file that someone named /dev/zero is not
    // anonymous memory.
    out.kind = MemoryFileKind::kAnonymousShared;
  }
  return out;
}

MemoryFile classify_mapping_line(dev_t dev, ino_t ino, std::optional<std::string_view> line_path,
                                 char (&link)[512]) {
  MemoryFile out;
  out.st.st_dev = dev;
  out.st.st_ino = ino;
  out.kind = MemoryFileKind::kUnlinkedShmem;
  if (!line_path) return out;
  std::string_view path = *line_path;
  if (!path.ends_with(kDeletedSuffix)) {
    // A name in some filesystem. A memfd's maps path always ends so: one that does not is a file
    // whose path someone chose to begin with "/memfd:", still taken for one (refused, not let go).
    if (!path.starts_with(kMemfdPrefix)) out.kind = MemoryFileKind::kNone;
    return out;
  }
  if (path.starts_with(kMemfdPrefix)) {
    std::string_view name =
        path.substr(kMemfdPrefix.size(), path.size() - kMemfdPrefix.size() - kDeletedSuffix.size());
    if (name.size() > sizeof(link)) name = name.substr(0, sizeof(link));
    std::memcpy(link, name.data(), name.size());
    out.kind = MemoryFileKind::kMemfd;
    out.name = std::string_view(link, name.size());
  } else if (path == "/secretmem (deleted)") {
    out.kind = MemoryFileKind::kSecretmem;
  } else if (path == "/dev/zero (deleted)" && internal_shmem().dev == dev) {
    out.kind = MemoryFileKind::kAnonymousShared;  // only on the kernel's own mount, as above
  }
  return out;
}

bool runs_from_memory(MemoryFileKind kind, bool as_mapping) {
  switch (kind) {
    case MemoryFileKind::kNone:
      return false;
    case MemoryFileKind::kAnonymousShared:
      return !as_mapping;
    default:
      return true;
  }
}

}  // namespace warden
