#include "supervisor/kernel/mount_type.h"

#include <fcntl.h>
#include <sys/stat.h>
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

}  // namespace warden
