#include "supervisor/kernel/memory_file.h"

#include <fcntl.h>
#include <linux/magic.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>

#include "supervisor/kernel/path_resolver.h"
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

bool is_memory_filesystem(unsigned long type) {
  // ramfs is memory as tmpfs is, and any user namespace may mount one.
  return type == TMPFS_MAGIC || type == HUGETLBFS_MAGIC || type == RAMFS_MAGIC;
}

// The filesystem type of the mount `fd` is on, as `caller`'s mount namespace lists it (the field
// after " - " in its /proc/CALLER/mountinfo line), without asking the filesystem: a FUSE server
// of the tree's, stopped in a ptrace freeze, would not answer an fstatfs. nullopt when the mount
// is not there (never attached, or detached; or the caller is gone); "" where the kernel does
// not say which mount it is (before 5.8).
std::optional<std::string> caller_mount_type(pid_t caller, int fd) {
  std::optional<uint64_t> mount = mount_of(fd);
  if (!mount) return std::string();
  char path[64];
  std::snprintf(path, sizeof(path), "/proc/%d/mountinfo", caller);
  std::FILE* file = std::fopen(path, "re");
  if (file == nullptr) return std::nullopt;
  std::optional<std::string> type;
  char* line = nullptr;
  size_t capacity = 0;
  while (!type && ::getline(&line, &capacity, file) > 0) {
    unsigned long long id = 0;
    if (std::sscanf(line, "%llu", &id) != 1 || id != *mount) continue;
    const char* fields = std::strstr(line, " - ");
    char name[64] = {};
    type = fields != nullptr && std::sscanf(fields + 3, "%63s", name) == 1 ? name : "";
  }
  std::free(line);
  std::fclose(file);
  return type;
}

// Whether `caller` reaches this very file (`st`) by the name the kernel gives it: the
// /proc/self/fd link, a path from the root of the mount namespace the file's mount is in
// (beneath the caller's root when the caller is chrooted there). A file on a mount that a later
// mount covers, or in a directory that one covers, keeps a name that nobody can use.
bool reachable_by_name(pid_t caller, int fd, const struct stat& st) {
  char link[4096];
  std::string path(self_fd_link(fd, link));
  if (path.empty() || path.front() != '/') return false;
  char root_link[64], root[4096];
  std::snprintf(root_link, sizeof(root_link), "/proc/%d/root", caller);
  ssize_t length = ::readlink(root_link, root, sizeof(root) - 1);
  if (length > 1) {  // chrooted: the name under its root
    std::string_view prefix(root, static_cast<size_t>(length));
    if (path.size() > prefix.size() && path.starts_with(prefix) && path[prefix.size()] == '/') {
      path.erase(0, prefix.size());
    }
  }
  PathLookup lookup;
  lookup.tid = caller;
  lookup.path = path;
  ResolvedPath reached = resolve_caller_path(lookup);
  struct stat there {};
  return reached.file.valid() && cached_fstat(reached.file.get(), there) &&
         there.st_dev == st.st_dev && there.st_ino == st.st_ino;
}

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
    case MemoryFileKind::kDetachedShmem:
      return "detached-shmem";
    case MemoryFileKind::kAnonymousShared:
      return "anonymous-shared";
    case MemoryFileKind::kBlockDevice:
      return "block-device";
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

MemoryFile classify_memory_file(int fd, char (&link)[512], pid_t caller) {
  MemoryFile out;
  if (!cached_fstat(fd, out.st)) return out;
  if (S_ISBLK(out.st.st_mode)) {
    out.kind = MemoryFileKind::kBlockDevice;
    return out;
  }
  // Memory is a regular file of a memory filesystem, unlinked or named where nobody can reach
  // the name. Memory filesystems have no disk (major 0): a file on a disk is what its path says
  // it is, and its filesystem is not asked. A memfd lives on the kernel's shmem mount, asked for
  // nothing either. (A secretmem file keeps its one link: its /proc/self/fd text says what it
  // is.)
  bool on_shmem_mount = on_kernel_shmem_mount(fd);
  bool named = false;
  if (!on_shmem_mount && (!S_ISREG(out.st.st_mode) || out.st.st_nlink != 0)) {
    if (major(out.st.st_dev) != 0) return out;
    named = self_fd_link(fd, link) != "/secretmem (deleted)";
    if (named && !S_ISREG(out.st.st_mode)) return out;
  }
  if (named) {
    // A named regular file on a device with no disk (tmpfs, FUSE, overlayfs, btrfs...): its
    // mount's type as the caller's namespace lists it. Only on a memory filesystem may its name
    // be one nobody can use: a mount the caller has not (never attached, or detached), or one
    // it has but whose name reaches another file (covered by another mount).
    std::optional<std::string> listed = caller_mount_type(caller, fd);
    if (listed && !listed->empty()) {
      if (*listed == "tmpfs" || *listed == "ramfs" || *listed == "hugetlbfs") {
        if (!reachable_by_name(caller, fd, out.st)) out.kind = MemoryFileKind::kDetachedShmem;
      }
      return out;
    }
    // Not in the caller's namespace (or no mount id): its filesystem says what it is (a FUSE
    // mount of the target's, detached, may hold this back: callers mark the wait).
  }
  struct statfs fs {};
  if (::fstatfs(fd, &fs) != 0) return out;
  auto type = static_cast<unsigned long>(fs.f_type);
  if (type == SECRETMEM_MAGIC) {
    out.kind = MemoryFileKind::kSecretmem;
    return out;
  }
  if (!is_memory_filesystem(type) || !S_ISREG(out.st.st_mode)) return out;
  if (named) {
    out.kind = MemoryFileKind::kDetachedShmem;  // a memory filesystem the caller's lacks
    return out;
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

bool runs_from_memory(MemoryFileKind kind, CodeUse use) {
  switch (kind) {
    case MemoryFileKind::kNone:
      return false;
    case MemoryFileKind::kAnonymousShared:
      return use != CodeUse::kProtectRange;
    case MemoryFileKind::kBlockDevice:
      return use != CodeUse::kExec;
    default:
      return true;
  }
}

}  // namespace warden
