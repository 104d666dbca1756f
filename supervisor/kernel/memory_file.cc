#include "supervisor/kernel/memory_file.h"

#include <fcntl.h>
#include <linux/magic.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <cstdio>
#include <optional>

#include "supervisor/kernel/unique_fd.h"

namespace warden {
namespace {

#ifndef SECRETMEM_MAGIC
#define SECRETMEM_MAGIC 0x5345434d
#endif

// A mount's id, or nullopt when the kernel does not say (before 5.8).
std::optional<uint64_t> mount_of(int fd) {
  struct statx sx {};
  if (::statx(fd, "", AT_EMPTY_PATH, STATX_MNT_ID, &sx) != 0 || !(sx.stx_mask & STATX_MNT_ID)) {
    return std::nullopt;
  }
  return static_cast<uint64_t>(sx.stx_mnt_id);
}

// The kernel's internal shmem mount (shm_mnt), which holds every memfd and the file behind every
// shared anonymous mapping: a memfd of ours tells its id (0 here: the mount is in no namespace).
std::optional<uint64_t> internal_shmem_mount() {
  static const std::optional<uint64_t> id = [] {
    UniqueFd fd(::memfd_create("memfd-warden-mount-probe", MFD_CLOEXEC));
    return fd.valid() ? mount_of(fd.get()) : std::nullopt;
  }();
  return id;
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
    case MemoryFileKind::kAnonymousShared:
      return "anonymous-shared";
  }
  return "?";
}

MemoryFile classify_memory_file(int fd, char (&link)[512]) {
  MemoryFile out;
  struct statfs fs {};
  if (::fstat(fd, &out.st) != 0 || ::fstatfs(fd, &fs) != 0) return out;
  auto type = static_cast<unsigned long>(fs.f_type);
  if (type == SECRETMEM_MAGIC) {
    out.kind = MemoryFileKind::kSecretmem;
    return out;
  }
  if ((type != TMPFS_MAGIC && type != HUGETLBFS_MAGIC) || !S_ISREG(out.st.st_mode) ||
      out.st.st_nlink != 0) {
    return out;  // a file with a name in some filesystem: what the path says it is
  }
  out.kind = MemoryFileKind::kUnlinkedShmem;
  char path[64];
  std::snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
  ssize_t n = ::readlink(path, link, sizeof(link));
  std::string_view text(link, n > 0 ? static_cast<size_t>(n) : 0);
  constexpr std::string_view kPrefix = "/memfd:", kSuffix = " (deleted)";
  if (text.starts_with(kPrefix) && text.ends_with(kSuffix)) {
    text.remove_prefix(kPrefix.size());
    text.remove_suffix(kSuffix.size());
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
