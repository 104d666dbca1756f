#include "supervisor/kernel/mount_table.h"

#include <fcntl.h>
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
constexpr uint64_t kStatmountSbBasic = 0x1;          // STATMOUNT_SB_BASIC
constexpr uint64_t kFuseMagic = 0x65735546, kTmpfsMagic = 0x01021994, kRamfsMagic = 0x858458f6,
                   kHugetlbfsMagic = 0x958458f6;

// statmount(2)'s request, with the namespace to look in (version 1, Linux 6.11).
struct MountIdRequest {
  uint32_t size;
  uint32_t spare;
  uint64_t mnt_id;
  uint64_t param;
  uint64_t mnt_ns_id;
};

// The type of mount `unique` in mount namespace `namespace_id`, as the kernel names its
// superblock (statmount, 6.11+: no table to read, and one above a chrooted caller's root too):
// fuse, tmpfs (devtmpfs too), ramfs, hugetlbfs, or "other"; nullopt when it cannot say.
std::optional<FilesystemType> type_in_namespace(uint64_t unique, uint64_t namespace_id) {
  MountIdRequest request{sizeof(MountIdRequest), 0, unique, kStatmountSbBasic, namespace_id};
  alignas(8) char answer[4096];  // struct statmount, with room for what it grows
  if (::syscall(SYS_statmount, &request, answer, sizeof(answer), 0) != 0) return std::nullopt;
  // struct statmount: size (4), spare (4), mask (8), sb_dev_major (4), sb_dev_minor (4), sb_magic.
  uint64_t mask = 0, magic = 0;
  std::memcpy(&mask, answer + 8, sizeof(mask));
  std::memcpy(&magic, answer + 24, sizeof(magic));
  if (!(mask & kStatmountSbBasic)) return std::nullopt;
  FilesystemType type;
  const char* name = magic == kFuseMagic        ? "fuse"
                     : magic == kTmpfsMagic     ? "tmpfs"
                     : magic == kRamfsMagic     ? "ramfs"
                     : magic == kHugetlbfsMagic ? "hugetlbfs"
                                                : "other";
  std::snprintf(type.name, sizeof(type.name), "%s", name);
  return type;
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

std::optional<uint64_t> mount_id(int fd, unsigned int kind) {
  struct statx sx {};
  if (::statx(fd, "", AT_EMPTY_PATH | AT_STATX_DONT_SYNC, kind, &sx) != 0 ||
      !(sx.stx_mask & kind)) {
    return std::nullopt;
  }
  return static_cast<uint64_t>(sx.stx_mnt_id);
}

bool FilesystemType::is_fuse() const { return view() == "fuse" || view().starts_with("fuse."); }

bool FilesystemType::is_memory() const {
  std::string_view type = view();
  return type == "tmpfs" || type == "devtmpfs" || type == "ramfs" || type == "rootfs" ||
         type == "hugetlbfs";
}

std::optional<FilesystemType> listed_filesystem_type(int fd, CallerNamespace& caller) {
  std::optional<uint64_t> unique = mount_id(fd, STATX_MNT_ID_UNIQUE);
  if (unique) {
    if (auto known = recent_types().find(*unique)) return known;
  }
  std::optional<FilesystemType> type;
  if (unique) {
    if (std::optional<uint64_t> namespace_id = caller.id()) {
      type = type_in_namespace(*unique, *namespace_id);
    }
  }
  std::optional<uint64_t> id = mount_id(fd, STATX_MNT_ID);
  if (!type && !id) return std::nullopt;
  char path[64];
  std::snprintf(path, sizeof(path), "/proc/%d/mountinfo", caller.tid());
  if (!type) type = type_in_table(path, *id);
  if (!type) type = type_in_table("/proc/self/mountinfo", *id);
  if (type && unique) recent_types().remember(*unique, *type);
  return type;
}

bool on_fuse_mount(int fd, pid_t caller) {
  CallerNamespace caller_namespace(caller);
  std::optional<FilesystemType> type = listed_filesystem_type(fd, caller_namespace);
  return !type || type->is_fuse();
}

}  // namespace warden
