#include "supervisor/kernel/process_maps.h"

#include <fcntl.h>
#include <sys/sysmacros.h>

#include <cerrno>
#include <cstring>

#include "supervisor/kernel/unique_fd.h"

namespace warden {

ProcessMaps::ProcessMaps(pid_t tid) : tid_(tid) {
  char path[64];
  std::snprintf(path, sizeof(path), "/proc/%d/maps", tid);
  file_ = std::fopen(path, "re");
}

ProcessMaps::~ProcessMaps() {
  if (file_ != nullptr) std::fclose(file_);
}

std::optional<Mapping> ProcessMaps::next() {
  while (file_ != nullptr && std::fgets(line_, sizeof(line_), file_)) {
    size_t length = std::strlen(line_);
    bool whole = length > 0 && line_[length - 1] == '\n';
    if (whole) line_[length - 1] = '\0';
    for (int c = 0; !whole && (c = std::fgetc(file_)) != EOF && c != '\n';) {
    }
    unsigned long start = 0, end = 0, inode = 0;
    unsigned major = 0, minor = 0;
    int path_at = 0;
    char perms[8] = {};
    if (std::sscanf(line_, "%lx-%lx %7s %*s %x:%x %lu %n", &start, &end, perms, &major, &minor,
                    &inode, &path_at) != 6) {
      continue;
    }
    Mapping mapping;
    mapping.start = start;
    mapping.end = end;
    mapping.executable = perms[2] == 'x';
    mapping.dev = makedev(major, minor);
    mapping.ino = inode;
    if (whole) mapping.path = std::string_view(line_ + path_at);
    return mapping;
  }
  return std::nullopt;
}

MemoryFile ProcessMaps::file_of(const Mapping& mapping, char (&link)[512]) const {
  char path[96];
  std::snprintf(path, sizeof(path), "/proc/%d/map_files/%lx-%lx", tid_,
                static_cast<unsigned long>(mapping.start), static_cast<unsigned long>(mapping.end));
  UniqueFd file(::open(path, O_PATH | O_CLOEXEC));
  if (file.valid()) return classify_memory_file(file.get(), link, tid_);
  // Closed to us (map_files/ takes CAP_SYS_ADMIN), or not under that name any more: the process
  // is gone, or another thread split or merged the mapping meanwhile (an mprotect the filter
  // lets by). The line then stands for it.
  return classify_mapping_line(mapping.dev, mapping.ino, mapping.path, link);
}

}  // namespace warden
