#include "supervisor/kernel/memory_file.h"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>

#include "supervisor/kernel/mount_table.h"
#include "supervisor/kernel/namespace_root.h"
#include "supervisor/kernel/self_fd.h"
#include "supervisor/kernel/unique_fd.h"

namespace warden {
namespace {

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
    if (fd.valid()) found.mount = mount_id(fd.get(), STATX_MNT_ID);
    if (fd.valid() && ::fstat(fd.get(), &st) == 0) found.dev = st.st_dev;
    return found;
  }();
  return shmem;
}

std::optional<uint64_t> internal_shmem_mount() { return internal_shmem().mount; }

constexpr std::string_view kMemfdPrefix = "/memfd:", kDeletedSuffix = " (deleted)";

// Whether this very file (`st`) is reached by the name the kernel gives it (its /proc/self/fd
// link: a path from the root of the mount namespace the file's mount is in) from the root of
// `caller`'s mount namespace. A file on a mount that a later mount covers, or in a directory that
// one covers, keeps a name that nobody can use; so does one on a mount outside the namespace
// (never attached, or detached). The caller's own root does not count: chrooted into such a
// tree (the covered mount, a detached tmpfs), a name reaches from there what nobody else's does.
// The name is walked one directory at a time, following no symlink (the kernel's name has none;
// one there now was put there since, and may lead through /proc/self/fd into a mount nobody
// reaches) and entering no FUSE directory (its server may be the target's own, stopped in a
// ptrace freeze, keep memfd-warden out, or answer it otherwise): a name that passes through one
// is not shown to reach the file, which a mount covering it there would hide (too strict rather
// than too lenient).
bool reachable_by_name(CallerNamespace& caller, int fd, const struct stat& st) {
  UniqueFd root = open_namespace_root(caller);
  if (!root.valid()) return false;
  char link[4096];
  std::string_view path = self_fd_link(fd, link);
  if (path.empty() || path.size() == sizeof(link) || path.front() != '/') return false;
  std::optional<FilesystemType> root_type = listed_filesystem_type(root.get(), caller);
  if (root_type && root_type->is_fuse()) return false;
  // Most names (a container's libraries) stay on the root's own mount: one openat2 walks them,
  // kept on that mount and off every symlink. Crossing a mount (EXDEV), the walk below goes on.
  std::string rest(path.substr(path.find_first_not_of('/') == std::string_view::npos
                                   ? path.size()
                                   : path.find_first_not_of('/')));
  open_how how{};
  how.flags = O_PATH | O_NOFOLLOW | O_CLOEXEC;
  how.resolve = RESOLVE_NO_XDEV | RESOLVE_NO_SYMLINKS | RESOLVE_BENEATH;
  UniqueFd current(rest.empty() ? ::dup(root.get())
                                : static_cast<int>(::syscall(SYS_openat2, root.get(), rest.c_str(),
                                                             &how, sizeof(how))));
  if (current.valid() || errno != EXDEV) {
    path = {};  // walked whole, or failed where any lookup from that root fails too
  } else {
    current = UniqueFd(::dup(root.get()));  // a mount on the way: one directory at a time
  }
  while (current.valid()) {
    while (path.starts_with('/')) path.remove_prefix(1);
    if (path.empty()) break;
    std::string component(path.substr(0, path.find('/')));
    path.remove_prefix(component.size());
    std::optional<FilesystemType> type = listed_filesystem_type(current.get(), caller);
    if (type && type->is_fuse()) return false;
    current = UniqueFd(::openat(current.get(), component.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
  }
  struct stat there {};
  return current.valid() && cached_fstat(current.get(), there) && there.st_dev == st.st_dev &&
         there.st_ino == st.st_ino;
}

// A file of the kernel's own shmem mount, which is tmpfs: a memfd, the file behind a shared
// anonymous mapping, or another unlinked shmem file (a SysV segment's).
void classify_kernel_shmem(int fd, char (&link)[512], MemoryFile& out) {
  out.kind = MemoryFileKind::kUnlinkedShmem;
  std::string_view text = self_fd_link(fd, link);
  if (text.starts_with(kMemfdPrefix) && text.ends_with(kDeletedSuffix)) {
    text.remove_prefix(kMemfdPrefix.size());
    text.remove_suffix(kDeletedSuffix.size());
    out.kind = MemoryFileKind::kMemfd;
    out.name = text;
  } else if (text == "/dev/zero (deleted)") {
    // Only on the kernel's mount: an unlinked tmpfs file that someone named /dev/zero is not
    // anonymous memory.
    out.kind = MemoryFileKind::kAnonymousShared;
  }
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
    case MemoryFileKind::kUnreachable:
      return "unreachable-file";
    case MemoryFileKind::kFuse:
      return "fuse-file";
    case MemoryFileKind::kUnknown:
      return "unknown";
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
  return internal_shmem_mount() && mount_id(fd, STATX_MNT_ID) == internal_shmem_mount();
}

MemoryFile classify_memory_file(int fd, char (&link)[512], pid_t caller) {
  MemoryFile out;
  if (!cached_fstat(fd, out.st)) {
    out.kind = MemoryFileKind::kUnknown;  // a FUSE file that keeps memfd-warden out
    return out;
  }
  if (S_ISBLK(out.st.st_mode)) {
    out.kind = MemoryFileKind::kBlockDevice;
    return out;
  }
  // A file on a disk (a device with a major number) is what its path says it is. Memory
  // filesystems have no disk (major 0), nor have overlayfs, btrfs, FUSE or NFS.
  if (!S_ISREG(out.st.st_mode) || major(out.st.st_dev) != 0) return out;
  if (on_kernel_shmem_mount(fd)) {
    classify_kernel_shmem(fd, link, out);
    return out;
  }
  // FUSE serves whatever its server reads from, named or not: the policy says what that is
  // (fuse_exec). Nothing is asked of it here.
  CallerNamespace caller_namespace(caller);
  std::optional<FilesystemType> type = listed_filesystem_type(fd, caller_namespace);
  if (type && type->is_fuse()) {
    out.kind = MemoryFileKind::kFuse;
    return out;
  }
  // A named file is a file when the caller reaches this very file by its name.
  if (out.st.st_nlink != 0 && reachable_by_name(caller_namespace, fd, out.st)) return out;
  // Nobody can use its name. On a mount that no table lists: one never attached (fsmount) or
  // detached, whatever its type (an overlay over such a tmpfs too), or a kernel-internal one,
  // where the name says what it is (a hugetlbfs memfd, secretmem). Not asked either way: its type
  // would be a FUSE server's answer.
  std::string_view text = self_fd_link(fd, link);
  if (!type) {
    out.kind = MemoryFileKind::kUnreachable;
    if (text.starts_with(kMemfdPrefix) && text.ends_with(kDeletedSuffix)) {
      out.kind = MemoryFileKind::kMemfd;
      out.name = text.substr(kMemfdPrefix.size(),
                             text.size() - kMemfdPrefix.size() - kDeletedSuffix.size());
    } else if (text == "/secretmem (deleted)") {
      out.kind = MemoryFileKind::kSecretmem;
    }
    return out;
  }
  // On a listed mount: named, but covered by a later mount or outside the caller's root; or
  // unlinked, which only a memory filesystem makes memory (an unlinked file on btrfs or an
  // overlay is left alone: hardening.md).
  if (out.st.st_nlink != 0) {
    out.kind = MemoryFileKind::kUnreachable;
  } else if (type->is_memory()) {
    out.kind = MemoryFileKind::kUnlinkedShmem;
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

bool runs_from_memory(MemoryFileKind kind, CodeUse use, bool fuse_counts) {
  switch (kind) {
    case MemoryFileKind::kNone:
      return false;
    case MemoryFileKind::kFuse:
    case MemoryFileKind::kUnknown:  // a FUSE file, as far as it lets anyone see
      return fuse_counts;
    case MemoryFileKind::kAnonymousShared:
      return use != CodeUse::kProtectRange;
    case MemoryFileKind::kBlockDevice:
      return use != CodeUse::kExec;
    default:
      return true;
  }
}

}  // namespace warden
