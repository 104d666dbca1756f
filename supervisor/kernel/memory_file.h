// What kind of file an open file description is, for the exec checks: a file whose pages live
// only in memory (a memfd, a secretmem file, an unlinked tmpfs or hugetlbfs file, the shmem file
// behind a shared anonymous mapping, a file whose name nobody can use) or anything else. Judged
// from the file itself (statx, its mount, the /proc/self/fd link and whether the caller reaches
// the file by it), never from a path string, but where memfd-warden may not open the file at all
// (classify_mapping_line), and then only to refuse.
#pragma once

#include <fcntl.h>
#include <sys/stat.h>

#include <cstdint>
#include <optional>
#include <string_view>

namespace warden {

enum class MemoryFileKind {
  kNone,             // a file in a filesystem (or not a regular file)
  kMemfd,            // memfd_create, tmpfs or hugetlbfs
  kSecretmem,        // memfd_secret
  kUnlinkedShmem,    // a tmpfs, hugetlbfs or ramfs file with no name left (O_TMPFILE, deleted)
  kUnreachable,      // a file with no disk behind it whose name the caller cannot use
  kAnonymousShared,  // the shmem file behind MAP_SHARED|MAP_ANONYMOUS (reachable via map_files)
  kBlockDevice,      // a block device, whose blocks may be memory (a loop device on a memfd, zram)
  kFuse,             // a file of a FUSE filesystem: whatever its server reads from
  kUnknown           // attributes memfd-warden may not read: a FUSE file that keeps it out
};

const char* memory_file_kind_name(MemoryFileKind kind);

struct MemoryFile {
  MemoryFileKind kind = MemoryFileKind::kNone;
  struct stat st {};
  std::string_view name;  // a memfd's name (a view into the caller's `link` buffer), else empty
};

// fstatat(dirfd, path, &out, flags) as far as the kernel knows without asking the file's
// filesystem (statx with AT_STATX_DONT_SYNC): a FUSE or network filesystem, which a target may
// serve itself and hold back, answers from its cache instead of waiting. Exact for memory
// filesystems (tmpfs, hugetlbfs, secretmem) and the other local ones. False with errno set.
bool cached_stat(int dirfd, const char* path, int flags, struct stat& out);
inline bool cached_fstat(int fd, struct stat& out) {
  return cached_stat(fd, "", AT_EMPTY_PATH, out);
}

// Whether `fd` is a file of the kernel's own shmem mount (every tmpfs memfd, and the file behind
// a shared anonymous mapping), asking no filesystem.
bool on_kernel_shmem_mount(int fd);

// Classifies the file behind `fd` (ours; O_PATH is enough), for a call of thread `caller`. A
// regular file on a device with no disk (tmpfs, overlayfs, btrfs; FUSE aside) is memory too when
// the caller cannot reach this very file by its name: on a mount never attached (fsmount) or
// detached (MNT_DETACH), whatever its type, or covered by a later mount; or one whose name
// passes through a FUSE directory, which is not walked. No FUSE server, which may be the
// target's, is asked anything; the walk of the name may still wait on another filesystem (NFS):
// callers mark that wait (kernel/target_wait.h). `link` receives the /proc/self/fd link text
// that `name` points into.
MemoryFile classify_memory_file(int fd, char (&link)[512], pid_t caller);

// For a mapping whose file memfd-warden may not open (/proc/TID/map_files/ takes CAP_SYS_ADMIN
// or CAP_CHECKPOINT_RESTORE): the kind as far as its /proc/TID/maps line shows it (device, inode,
// and the kernel's path text), which is only ever used to refuse. A file with a name that is not
// a memfd's is kNone; every other unlinked file is taken for memory (a deleted file on disk too:
// too strict rather than too lenient), and so is a path that did not fit in the line read
// (nullopt). A memfd's name is copied into `link`.
MemoryFile classify_mapping_line(dev_t dev, ino_t ino, std::optional<std::string_view> path,
                                 char (&link)[512]);

// A FUSE file, or one whose attributes are closed to memfd-warden (which only FUSE does).
inline bool served_by_fuse(MemoryFileKind kind) {
  return kind == MemoryFileKind::kFuse || kind == MemoryFileKind::kUnknown;
}

// How code would come to run from a file: executed (execve, an interpreter, a loaded image),
// mapped executable through an fd (mmap), or an existing range made executable (mprotect).
enum class CodeUse { kExec, kMapFile, kProtectRange };

// Whether running code from this kind of file counts as fileless execution. A FUSE file, and
// one that keeps memfd-warden out (kUnknown: a FUSE file, or an overlay of one), count only with
// `fuse_counts` (fuse_exec = "deny"); an exec check must still not take an unknown file for a
// program whose interpreter it has read. Anonymous shared
// memory counts when executed or mapped through an fd (an ELF image there, what ld.so maps from
// /proc/self/fd/N after the target opened the memory through map_files), but not when a range
// of it is made executable: that is what every JIT does. A block device counts for mappings
// (the kernel runs no device).
bool runs_from_memory(MemoryFileKind kind, CodeUse use, bool fuse_counts);

}  // namespace warden
