// The file mappings of a thread's process, read from /proc/TID/maps, and the memory file behind
// each (memory_file.h): through /proc/TID/map_files/ where memfd-warden may open it, else from
// the maps line itself (map_files/ takes CAP_SYS_ADMIN), which is then only ever used to refuse.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <cstdio>
#include <optional>
#include <string_view>

#include "supervisor/kernel/memory_file.h"

namespace warden {

struct Mapping {
  uint64_t start = 0;
  uint64_t end = 0;
  bool executable = false;
  dev_t dev = 0;
  ino_t ino = 0;  // 0: anonymous memory
  // The kernel's path text; nullopt when it did not fit in the line read (PATH_MAX, newlines
  // escaped fourfold), and with it the " (deleted)" that tells an unlinked file.
  std::optional<std::string_view> path;
};

class ProcessMaps {
 public:
  // Opens /proc/TID/maps; valid() is false (errno set) when it cannot be.
  explicit ProcessMaps(pid_t tid);
  ~ProcessMaps();
  ProcessMaps(const ProcessMaps&) = delete;
  ProcessMaps& operator=(const ProcessMaps&) = delete;

  bool valid() const { return file_ != nullptr; }
  // The next mapping in address order, or nullopt at the end. Its path views a buffer of ours,
  // good until the next call.
  std::optional<Mapping> next();
  // The memory file behind a file mapping (one next() returned, ino != 0), from the file itself
  // where memfd-warden can open it, else from the line. A memfd's name is a view into `link`.
  MemoryFile file_of(const Mapping& mapping, char (&link)[512]) const;

 private:
  pid_t tid_;
  FILE* file_;
  char line_[1024];
};

}  // namespace warden
