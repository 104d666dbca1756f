// Resolves a path the way the kernel will for one calling thread, to judge the file a call would
// reach rather than the string it names: from the caller's root and working directory (or a
// directory fd of its), through the caller's mounts, symlinks and /proc magic links (fd/N,
// map_files/..., cwd, exe), with "self" and "thread-self" in a procfs meaning the caller as that
// procfs numbers it. The result is an O_PATH fd of ours on the file itself.
//
// Lookups run with memfd-warden's own credentials (a path the caller may not search still
// resolves, for a check after which the kernel refuses the call itself), or, with `as_caller`,
// with the caller's (caller_creds.h) for a call memfd-warden carries out on the caller's behalf,
// but for the caller's own entries of a procfs, which the kernel lets a process into whatever its
// credentials and dumpability. The caller's root and working directory are opened first, as
// memfd-warden, either way.
#pragma once

#include <sys/types.h>

#include <string>
#include <string_view>

#include "supervisor/kernel/unique_fd.h"

namespace warden {

struct PathLookup {
  pid_t tid = 0;                     // the calling thread (our pid namespace)
  int caller_pidfd = -1;             // reaches the caller's fd table (for `dirfd`)
  int dirfd = -100;                  // AT_FDCWD, or the caller's directory fd (execveat, *at calls)
  std::string_view path;             // as the caller passed it
  bool follow_final = true;          // false: AT_SYMLINK_NOFOLLOW
  bool final_link_itself = false;    // with follow_final false: a final symlink is the file
                                     // (lsetxattr's), not ELOOP (execveat's)
  bool empty_path_is_dirfd = false;  // AT_EMPTY_PATH
  bool as_caller = false;            // search directories with the caller's credentials
};

struct ResolvedPath {
  UniqueFd file;  // O_PATH, ours
  int error = 0;  // the errno the kernel's lookup would give, when `file` is not valid
  // Not the kernel's answer: the caller's root, working directory, fds or /proc entries were
  // closed to memfd-warden (EACCES, EPERM: a non-dumpable caller, seen without CAP_SYS_PTRACE).
  bool caller_hidden = false;
  // Maybe not the kernel's answer: the lookup failed in a FUSE filesystem, whose server answers
  // memfd-warden as it likes (without allow_other the kernel lets no one but the mount's owner
  // in, root included; a server of the target's may refuse or deny what it shows the caller).
  // The caller's own lookup may still reach a file, and from there anywhere ("..", symlinks).
  bool in_fuse = false;
};

ResolvedPath resolve_caller_path(const PathLookup& lookup);

// The caller's pid ("self") or "TGID/task/TID" ("thread-self") as the procfs mounted at
// `proc_root` numbers it; empty when the caller is not visible there (the kernel says ENOENT), or
// when something is mounted over one of the entries that could be the caller's (then `hidden`, if
// given, is set: the answer is unknown). Exposed for tests.
std::string caller_in_proc(int proc_root, pid_t tid, bool thread_self, bool* hidden = nullptr);

}  // namespace warden
