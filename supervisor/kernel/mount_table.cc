#include "supervisor/kernel/mount_table.h"

#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>

namespace warden {
namespace {

#ifndef STATX_MNT_ID_UNIQUE
#define STATX_MNT_ID_UNIQUE 0x00004000U
#endif
#ifndef SYS_statmount
#define SYS_statmount 457
#endif
constexpr unsigned long kNsGetMntnsId = 0x8008b705;  // NS_GET_MNTNS_ID: _IOR(0xb7, 0x5, __u64)
constexpr uint64_t kStatmountMntBasic = 0x2;         // STATMOUNT_MNT_BASIC

// statmount(2)'s request, with the namespace to look in (version 1, Linux 6.11).
struct MountIdRequest {
  uint32_t size;
  uint32_t spare;
  uint64_t mnt_id;
  uint64_t param;
  uint64_t mnt_ns_id;
};

// A mount's id of one kind (STATX_MNT_ID: the one mountinfo lists; STATX_MNT_ID_UNIQUE), or
// nullopt when the kernel does not give that kind.
std::optional<uint64_t> mount_id(int fd, unsigned int kind) {
  struct statx sx {};
  if (::statx(fd, "", AT_EMPTY_PATH | AT_STATX_DONT_SYNC, kind, &sx) != 0 ||
      !(sx.stx_mask & kind)) {
    return std::nullopt;
  }
  return static_cast<uint64_t>(sx.stx_mnt_id);
}

// Whether the kernel finds mount `unique` in `caller`'s mount namespace as that namespace's root
// mount (its own parent); nullopt when it cannot say (before 6.11, or not allowed).
std::optional<bool> kernel_finds_root_mount(uint64_t unique, pid_t caller) {
  char path[64];
  std::snprintf(path, sizeof(path), "/proc/%d/ns/mnt", caller);
  int ns = ::open(path, O_RDONLY | O_CLOEXEC);
  if (ns < 0) return std::nullopt;
  uint64_t ns_id = 0;
  bool named = ::ioctl(ns, kNsGetMntnsId, &ns_id) == 0;
  ::close(ns);
  if (!named) return std::nullopt;
  MountIdRequest request{sizeof(MountIdRequest), 0, unique, kStatmountMntBasic, ns_id};
  alignas(8) char answer[4096];  // struct statmount, with room for what it grows
  if (::syscall(SYS_statmount, &request, answer, sizeof(answer), 0) != 0) {
    if (errno == ENOENT) return false;  // not in that namespace
    return std::nullopt;
  }
  // struct statmount: size (4), spare (4), mask (8), sb_dev (8), sb_magic (8), sb_flags (4),
  // fs_type (4), mnt_id (8), mnt_parent_id (8).
  uint64_t mask = 0, id = 0, parent = 0;
  std::memcpy(&mask, answer + 8, sizeof(mask));
  std::memcpy(&id, answer + 40, sizeof(id));
  std::memcpy(&parent, answer + 48, sizeof(parent));
  if (!(mask & kStatmountMntBasic)) return std::nullopt;
  return id == unique && parent == id;
}

// The type field (after " - ") of mount `id`'s line in the table at `path`.
std::optional<FilesystemType> type_in_table(const char* path, uint64_t id) {
  std::FILE* table = std::fopen(path, "re");
  if (table == nullptr) return std::nullopt;
  std::optional<FilesystemType> found;
  char* line = nullptr;
  size_t capacity = 0;
  while (!found && ::getline(&line, &capacity, table) > 0) {
    unsigned long long listed = 0;
    if (std::sscanf(line, "%llu", &listed) != 1 || listed != id) continue;
    // A mount point's spaces are escaped (\040): the first " - " ends the optional fields.
    const char* fields = std::strstr(line, " - ");
    FilesystemType type;
    if (fields != nullptr && std::sscanf(fields + 3, "%31s", type.name) == 1) found = type;
  }
  std::free(line);
  std::fclose(table);
  return found;
}

// The types of the mounts seen last, by unique id: a few suffice for a program's libraries.
class RecentTypes {
 public:
  std::optional<FilesystemType> find(uint64_t unique) {
    std::lock_guard lock(mutex_);
    for (const Entry& entry : entries_) {
      if (entry.unique == unique) return entry.type;
    }
    return std::nullopt;
  }
  void remember(uint64_t unique, const FilesystemType& type) {
    std::lock_guard lock(mutex_);
    entries_[next_] = {unique, type};
    next_ = (next_ + 1) % entries_.size();
  }

 private:
  struct Entry {
    uint64_t unique = 0;  // 0: no mount has it
    FilesystemType type;
  };
  std::mutex mutex_;
  std::array<Entry, 16> entries_{};
  size_t next_ = 0;
};

RecentTypes& recent_types() {
  static RecentTypes types;
  return types;
}

}  // namespace

bool FilesystemType::is_fuse() const { return view() == "fuse" || view().starts_with("fuse."); }

bool FilesystemType::is_memory() const {
  std::string_view type = view();
  return type == "tmpfs" || type == "devtmpfs" || type == "ramfs" || type == "rootfs" ||
         type == "hugetlbfs";
}

std::optional<FilesystemType> listed_filesystem_type(int fd, pid_t caller) {
  std::optional<uint64_t> unique = mount_id(fd, STATX_MNT_ID_UNIQUE);
  if (unique) {
    if (auto known = recent_types().find(*unique)) return known;
  }
  std::optional<uint64_t> id = mount_id(fd, STATX_MNT_ID);
  if (!id) return std::nullopt;
  char path[64];
  std::snprintf(path, sizeof(path), "/proc/%d/mountinfo", caller);
  std::optional<FilesystemType> type = type_in_table(path, *id);
  if (!type) type = type_in_table("/proc/self/mountinfo", *id);
  if (type && unique) recent_types().remember(*unique, *type);
  return type;
}

bool is_namespace_root_mount(int fd, pid_t caller) {
  std::optional<uint64_t> unique = mount_id(fd, STATX_MNT_ID_UNIQUE);
  if (!unique) return false;
  return kernel_finds_root_mount(*unique, caller).value_or(false);
}

}  // namespace warden
