// What kind of file an open file description is, for the exec checks: a file whose pages live
// only in memory (a memfd, a secretmem file, an unlinked tmpfs or hugetlbfs file, the shmem file
// behind a shared anonymous mapping) or anything else. Judged from the file itself (fstat,
// fstatfs, statx, the /proc/self/fd link), never from a path string.
#pragma once

#include <sys/stat.h>

#include <cstdint>
#include <string_view>

namespace warden {

enum class MemoryFileKind {
  kNone,            // a file in a filesystem (or not a regular file)
  kMemfd,           // memfd_create, tmpfs or hugetlbfs
  kSecretmem,       // memfd_secret
  kUnlinkedShmem,   // a tmpfs or hugetlbfs file with no name left (O_TMPFILE, deleted)
  kAnonymousShared  // the shmem file behind MAP_SHARED|MAP_ANONYMOUS (reachable via map_files)
};

const char* memory_file_kind_name(MemoryFileKind kind);

struct MemoryFile {
  MemoryFileKind kind = MemoryFileKind::kNone;
  struct stat st {};
  std::string_view name;  // a memfd's name (a view into the caller's `link` buffer), else empty
};

// Classifies the file behind `fd` (ours; O_PATH is enough). `link` receives the /proc/self/fd
// link text that `name` points into.
MemoryFile classify_memory_file(int fd, char (&link)[512]);

// Whether running code from this kind of file counts as fileless execution. Anonymous shared
// memory counts for execve (an ELF image there is a program run from memory) but not for
// mappings: making anonymous memory executable is what every JIT does.
bool runs_from_memory(MemoryFileKind kind, bool as_mapping);

}  // namespace warden
