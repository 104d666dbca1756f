#include "supervisor/kernel/path_resolver.h"

#include <fcntl.h>
#include <linux/magic.h>
#include <linux/nsfs.h>
#include <linux/openat2.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "supervisor/kernel/caller_creds.h"
#include "supervisor/kernel/file_identity.h"
#include "supervisor/kernel/kernel_abi.h"
#include "supervisor/kernel/target_wait.h"
#include "supervisor/kernel/thread_root.h"

namespace warden {
namespace {

constexpr int kMaxSymlinks = 40;  // the kernel's MAXSYMLINKS
constexpr ino_t kProcRootIno = 1;

bool is_proc_root(int fd) {
  struct statfs fs {};
  struct stat st {};
  return ::fstatfs(fd, &fs) == 0 && static_cast<unsigned long>(fs.f_type) == PROC_SUPER_MAGIC &&
         ::fstat(fd, &st) == 0 && st.st_ino == kProcRootIno;
}

bool on_procfs(int fd) {
  struct statfs fs {};
  return ::fstatfs(fd, &fs) == 0 && static_cast<unsigned long>(fs.f_type) == PROC_SUPER_MAGIC;
}

UniqueFd open_proc(pid_t tid, const char* what) {
  char path[64];
  std::snprintf(path, sizeof(path), "/proc/%d/%s", tid, what);
  return UniqueFd(::open(path, O_PATH | O_CLOEXEC));
}

// The numbers on a "NStgid:" or "NSpid:" line of /proc/TID/status, outermost (ours) first.
std::vector<long> ns_ids(const std::string& status, const char* key) {
  std::vector<long> ids;
  size_t at = status.find(key);
  if (at == std::string::npos) return ids;
  const char* p = status.c_str() + at + std::strlen(key);
  for (;;) {
    char* end = nullptr;
    long value = std::strtol(p, &end, 10);
    if (end == p) break;
    ids.push_back(value);
    p = end;
    if (*p == '\n' || *p == '\0') break;
  }
  return ids;
}

// Splits off the next component of `rest` (leading slashes skipped); sets `trailing_slash` when
// slashes followed it.
std::string_view next_component(std::string_view& rest, bool& trailing_slash) {
  while (!rest.empty() && rest.front() == '/') rest.remove_prefix(1);
  size_t end = rest.find('/');
  std::string_view part = rest.substr(0, end);
  rest.remove_prefix(end == std::string_view::npos ? rest.size() : end);
  trailing_slash = !rest.empty();
  while (!rest.empty() && rest.front() == '/') rest.remove_prefix(1);
  return part;
}

// The whole text of a small /proc file in `dirfd`, or empty. The directory may have been
// reached through the caller's mounts, so the file must be the procfs's own, not one the caller
// mounted over it (RESOLVE_NO_XDEV).
std::string read_small(int dirfd, const char* path) {
  open_how how{};
  how.flags = O_RDONLY | O_CLOEXEC;
  how.resolve = RESOLVE_NO_XDEV | RESOLVE_NO_SYMLINKS;
  UniqueFd fd(static_cast<int>(::syscall(SYS_openat2, dirfd, path, &how, sizeof(how))));
  if (!fd.valid()) return {};
  std::string text(8192, '\0');
  ssize_t got = ::read(fd.get(), text.data(), text.size() - 1);
  text.resize(got > 0 ? static_cast<size_t>(got) : 0);
  return text;
}

// Whether the links `a` in `a_dir` and `b` in `b_dir` (procfs ns/ entries) reach one inode.
bool same_inode(int a_dir, const char* a, int b_dir, const char* b) {
  struct stat x {
  }, y{};
  return not_mounted_over(a_dir, a) && not_mounted_over(b_dir, b) &&
         ::fstatat(a_dir, a, &x, 0) == 0 && ::fstatat(b_dir, b, &y, 0) == 0 &&
         x.st_dev == y.st_dev && x.st_ino == y.st_ino;
}

// Whether `fd` is on a FUSE filesystem. fstatfs asks no FUSE server that keeps memfd-warden
// out (the kernel answers for it); one that lets it in is asked (a marked wait).
bool on_fuse(int fd) {
  constexpr unsigned long kFuseSuperMagic = 0x65735546;
  struct statfs fs {};
  return ::fstatfs(fd, &fs) == 0 && static_cast<unsigned long>(fs.f_type) == kFuseSuperMagic;
}

// Most paths need none of the walk below: no procfs (where "self" would mean us and magic links
// live), no ".." above the start. The kernel resolves those in one openat2, kept from ever
// entering another mount (RESOLVE_NO_XDEV: a procfs is always a mount of its own) and confined
// to where the caller's own lookup would stay: inside its root for an absolute path
// (RESOLVE_IN_ROOT: "/" and ".." are its root), beneath the start for a relative one
// (RESOLVE_BENEATH refuses to climb out). Anything else (EXDEV, ELOOP for a magic link) goes to
// the walk, which knows the caller's root and its procfs. So does a refusal of a lookup made as
// memfd-warden rather than as the caller: fs.protected_symlinks refuses root a link in a sticky
// directory that the caller, its owner, may follow. nullopt: walk.
std::optional<ResolvedPath> resolve_quickly(int start, const PathLookup& lookup, bool absolute) {
  if (on_procfs(start)) return std::nullopt;
  open_how how{};
  how.flags = O_PATH | O_CLOEXEC | (lookup.follow_final ? 0 : O_NOFOLLOW);
  how.resolve =
      RESOLVE_NO_XDEV | RESOLVE_NO_MAGICLINKS | (absolute ? RESOLVE_IN_ROOT : RESOLVE_BENEATH);
  std::string path(lookup.path);
  long fd = ::syscall(SYS_openat2, start, path.c_str(), &how, sizeof(how));
  ResolvedPath out;
  if (fd < 0) {
    if (errno == ELOOP || errno == EXDEV || errno == EAGAIN || errno == ENOSYS || errno == E2BIG) {
      return std::nullopt;
    }
    if ((errno == EACCES || errno == EPERM) && !lookup.as_caller) return std::nullopt;
    out.error = errno;
    return out;
  }
  out.file = UniqueFd(static_cast<int>(fd));
  struct stat st {};
  if (!lookup.follow_final && !lookup.final_link_itself && ::fstat(out.file.get(), &st) == 0 &&
      S_ISLNK(st.st_mode)) {
    out.file.reset();  // the last component, not followed (AT_SYMLINK_NOFOLLOW)
    out.error = ELOOP;
  }
  return out;
}

}  // namespace

std::string caller_in_proc(int proc_root, pid_t tid, bool thread_self, bool* hidden) {
  // A procfs shows a task's NStgid from its own PID namespace inwards. The caller's full list,
  // ours first, is [t0 .. tn]; if this procfs belongs to namespace level i, the caller is the
  // entry named t_i there and its list reads [t_i .. tn]. A candidate that shows exactly that
  // list and has the caller's PID namespace has the caller's depth, so it is seen from level i
  // too, where t_i names one task only: the caller.
  char own[64];
  std::snprintf(own, sizeof(own), "/proc/%d", tid);
  UniqueFd caller(::open(own, O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!caller.valid()) return {};
  std::string status = read_small(caller.get(), "status");
  std::vector<long> tgids = ns_ids(status, "\nNStgid:");
  std::vector<long> pids = ns_ids(status, "\nNSpid:");
  if (tgids.empty() || tgids.size() != pids.size()) return {};
  // The procfs's own entries: something the caller mounted over one (a directory with a status
  // file of its own making) must not pass for it. One that hides a candidate leaves the answer
  // unknown.
  open_how how{};
  how.flags = O_PATH | O_DIRECTORY | O_CLOEXEC;
  how.resolve = RESOLVE_NO_XDEV | RESOLVE_NO_SYMLINKS;
  for (size_t level = 0; level < tgids.size(); ++level) {
    std::string name = std::to_string(tgids[level]);
    UniqueFd candidate(
        static_cast<int>(::syscall(SYS_openat2, proc_root, name.c_str(), &how, sizeof(how))));
    if (!candidate.valid() && errno == EXDEV && hidden != nullptr) *hidden = true;
    if (!candidate.valid()) continue;
    std::vector<long> seen = ns_ids(read_small(candidate.get(), "status"), "\nNStgid:");
    if (!std::equal(seen.begin(), seen.end(), tgids.begin() + static_cast<long>(level),
                    tgids.end()) ||
        seen.size() != tgids.size() - level ||
        !same_inode(candidate.get(), "ns/pid", caller.get(), "ns/pid")) {
      continue;
    }
    std::string out = name;
    if (thread_self) out += "/task/" + std::to_string(pids[level]);
    return out;
  }
  return {};  // a procfs of a namespace the caller is not in: no "self" there
}

namespace {

// Whether `dir`, a directory of the procfs mounted at some proc root, is the caller's own process
// directory there (/proc/TGID, or /proc/TID of a thread of its group) or lies below it (fd,
// task/T, map_files). The kernel lets a process into its own entries whatever its credentials
// and dumpability (same_thread_group in ptrace_may_access, proc_fd_permission). But not its
// map_files, whose links the kernel follows only for a caller with CAP_SYS_ADMIN or
// CAP_CHECKPOINT_RESTORE, whoever's they are. Made as memfd-warden: the caller may not search
// them. Every step up must stay in one mount: ".." from the root of a mount is the parent of its
// mount point, so a bind of another process's entries over one of the caller's own (a mount
// namespace of the target's) would otherwise climb to the caller's /proc/TGID.
bool in_callers_own_entries(int dir, pid_t tid) {
  UniqueFd here(::dup(dir));
  // At most /proc/X/task/T/fd: four steps up to the root.
  for (int depth = 0; depth < 4 && here.valid() && !is_proc_root(here.get()); ++depth) {
    UniqueFd up(::openat(here.get(), "..", O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!up.valid() || !same_mount(up.get(), dir)) return false;
    if (is_proc_root(up.get())) {
      // `here` is /proc/X. Its thread group is the caller's if both are in one PID namespace
      // with one innermost tgid, read from X's own files (the climb and RESOLVE_NO_XDEV keep
      // the caller's mounts out) and from the caller's entry in memfd-warden's /proc. No name
      // is looked up in the caller's view of the procfs, where it may have mounted anything.
      char own[32];
      std::snprintf(own, sizeof(own), "/proc/%d", tid);
      UniqueFd caller(::open(own, O_PATH | O_DIRECTORY | O_CLOEXEC));
      std::vector<long> theirs = ns_ids(read_small(here.get(), "status"), "\nNStgid:");
      std::vector<long> ours = caller.valid()
                                   ? ns_ids(read_small(caller.get(), "status"), "\nNStgid:")
                                   : std::vector<long>{};
      if (theirs.empty() || ours.empty() || theirs.back() != ours.back() ||
          !same_inode(here.get(), "ns/pid", caller.get(), "ns/pid")) {
        return false;
      }
      // Its own map_files, not one mounted over it (and hiding it) in the caller's namespace.
      open_how how{};
      how.flags = O_PATH | O_DIRECTORY | O_CLOEXEC;
      how.resolve = RESOLVE_NO_XDEV | RESOLVE_NO_SYMLINKS;
      UniqueFd map_files(
          static_cast<int>(::syscall(SYS_openat2, here.get(), "map_files", &how, sizeof(how))));
      struct stat a {
      }, b{};
      if (depth == 1 && (!map_files.valid() || ::fstat(map_files.get(), &a) != 0 ||
                         ::fstat(dir, &b) != 0 || (a.st_dev == b.st_dev && a.st_ino == b.st_ino))) {
        return false;  // `dir` is map_files (or cannot be told from it)
      }
      return true;
    }
    here = std::move(up);
  }
  return false;
}

}  // namespace

ResolvedPath resolve_caller_path(const PathLookup& lookup) {
  TargetWait wait(lookup.tid);  // the caller's own filesystem (FUSE) may hold a lookup back
  ResolvedPath out;
  UniqueFd current;  // the directory being searched
  auto fail = [&](int error) {
    out.file.reset();
    out.error = error;
    out.in_fuse = out.in_fuse || (current.valid() && on_fuse(current.get()));
    return std::move(out);
  };
  // A failure to reach the caller's own entries (as opposed to the kernel's answer for a path).
  auto fail_reaching_caller = [&](int error) {
    out.caller_hidden = error == EACCES || error == EPERM;
    return fail(out.caller_hidden ? error : error == ESRCH ? ESRCH : EBADF);
  };
  UniqueFd root = open_proc(lookup.tid, "root");
  if (!root.valid() && (errno == EACCES || errno == EPERM)) return fail_reaching_caller(errno);
  if (!root.valid()) return fail(errno);
  std::optional<bool> root_is_ours;  // asked at the first ".." only

  auto start_dir = [&]() -> UniqueFd {
    if (lookup.dirfd == AT_FDCWD) return open_proc(lookup.tid, "cwd");
    return UniqueFd(lookup.caller_pidfd >= 0 ? sys::pidfd_getfd(lookup.caller_pidfd, lookup.dirfd)
                                             : -1);
  };
  if (lookup.path.empty()) {
    if (!lookup.empty_path_is_dirfd) return fail(ENOENT);
    UniqueFd file = start_dir();
    if (!file.valid()) return fail_reaching_caller(errno);
    out.file = std::move(file);
    return out;
  }

  // What is left to walk; symlink targets are spliced in front of it.
  std::string pending(lookup.path);
  bool absolute = pending.front() == '/';
  if (!absolute) {
    current = start_dir();
    if (!current.valid()) return fail_reaching_caller(errno);
  }
  int start = absolute ? root.get() : current.get();
  std::optional<CallerCredsScope> caller_creds;
  if (lookup.as_caller) {
    caller_creds.emplace(lookup.tid);
    if (!caller_creds->ok()) return fail(EPERM);
  }
  // openat(current, name, flags) as the lookup's credentials. Where the caller's are refused in
  // a procfs, and `current` is among the caller's own entries there, again as memfd-warden: the
  // kernel lets a process into its own entries whatever its credentials. Asked only after a
  // refusal, so that a lookup the caller may make costs nothing more.
  auto open_in = [&](const char* name, int flags) -> int {
    int fd = ::openat(current.get(), name, flags);
    if (fd >= 0 || !caller_creds || (errno != EACCES && errno != EPERM) ||
        !on_procfs(current.get())) {
      return fd;
    }
    int refused = errno;
    caller_creds.reset();
    if (in_callers_own_entries(current.get(), lookup.tid)) {
      fd = ::openat(current.get(), name, flags);
      refused = errno;
    }
    caller_creds.emplace(lookup.tid);
    if (!caller_creds->ok()) {  // gone: nothing more is looked up as memfd-warden
      if (fd >= 0) ::close(fd);
      errno = EPERM;
      return -1;
    }
    errno = refused;
    return fd;
  };
  if (std::optional<ResolvedPath> quick = resolve_quickly(start, lookup, absolute)) {
    // It never left start's mount (RESOLVE_NO_XDEV): a failure was there.
    quick->in_fuse = !quick->file.valid() && on_fuse(start);
    return std::move(*quick);
  }
  if (absolute) current = UniqueFd(::dup(root.get()));
  if (!current.valid()) return fail(errno);
  int links = 0;
  std::string_view rest = pending;
  while (true) {
    bool trailing_slash = false;
    std::string_view part = next_component(rest, trailing_slash);
    if (part.empty()) break;  // the end (or "/" alone: the root itself)
    bool last = rest.empty();
    struct stat here {};
    if (::fstat(current.get(), &here) != 0) return fail(errno);
    if (!S_ISDIR(here.st_mode)) return fail(ENOTDIR);
    if (part == ".") continue;
    if (part == "..") {
      // The kernel's own "..", with the caller's root as the root of the thread that takes it:
      // it never climbs past that root, and steps onto whatever the caller's namespace has
      // mounted where it arrives (a mount over the root included), as the caller's would.
      if (!root_is_ours) root_is_ours = is_own_root(root.get());
      if (*root_is_ours) {
        int up = open_in("..", O_PATH | O_CLOEXEC);
        if (up < 0) return fail(errno);
        current = UniqueFd(up);
        continue;
      }
      // Another root: the step is the kernel's with the caller's root as this thread's, where a
      // ".." from a mount over a chrooted caller's root stays, and ours would climb past it.
      // The caller's search permission first (may_lookup), as in open_in; then the step, as
      // memfd-warden (CAP_SYS_CHROOT; and /proc, read for the caller's credentials, is ours
      // only outside its root).
      if (caller_creds &&
          ::syscall(SYS_faccessat2, current.get(), "", X_OK, AT_EMPTY_PATH | AT_EACCESS) != 0) {
        int refused = errno;
        if (refused != EACCES && refused != EPERM) return fail(refused);
        caller_creds.reset();
        bool own = on_procfs(current.get()) && in_callers_own_entries(current.get(), lookup.tid);
        caller_creds.emplace(lookup.tid);
        if (!caller_creds->ok()) return fail(EPERM);
        if (!own) return fail(refused);
      }
      int up = -1, error = 0;
      {
        bool acting = caller_creds.has_value();
        caller_creds.reset();
        {
          ThreadRootScope in_callers_root(root.get());
          if (!in_callers_root.ok()) return fail_reaching_caller(EACCES);  // unknown: refused
          up = ::openat(current.get(), "..", O_PATH | O_CLOEXEC);
          error = errno;
        }  // the thread's own root again
        if (acting) {
          caller_creds.emplace(lookup.tid);
          if (!caller_creds->ok()) {
            if (up >= 0) ::close(up);
            return fail(EPERM);
          }
        }
      }
      if (up < 0) return fail(error);
      current = UniqueFd(up);
      continue;
    }
    std::string name(part);
    // The procfs's own "self" (a mount over it, even of a symlink, is followed as any other).
    if ((name == "self" || name == "thread-self") && is_proc_root(current.get()) &&
        not_mounted_over(current.get(), name.c_str())) {
      // Resolved against the reader, which is the caller, not us. Found out as ourselves: it
      // reads the namespace of that procfs's pid 1, which may be memfd-warden's own init.
      caller_creds.reset();
      bool hidden = false;
      std::string target =
          caller_in_proc(current.get(), lookup.tid, name == "thread-self", &hidden);
      if (lookup.as_caller) {
        caller_creds.emplace(lookup.tid);
        if (!caller_creds->ok()) return fail(EPERM);
      }
      // Hidden: the caller mounted over its own entry, which the kernel would follow. Which
      // file that reaches is not known here, and a check must not take it for missing.
      if (target.empty()) return hidden ? fail_reaching_caller(EACCES) : fail(ENOENT);
      if (++links > kMaxSymlinks) return fail(ELOOP);
      pending = target + (rest.empty() && !trailing_slash ? "" : "/") + std::string(rest);
      rest = pending;
      continue;
    }
    int next = open_in(name.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC);
    if (next < 0) return fail(errno);
    UniqueFd next_fd(next);
    struct stat st {};
    if (::fstat(next, &st) != 0) {
      int error = errno;
      out.in_fuse = on_fuse(next);  // the root of a FUSE mount that keeps memfd-warden out
      return fail(error);
    }
    if (S_ISLNK(st.st_mode) && (!last || trailing_slash || lookup.follow_final)) {
      if (++links > kMaxSymlinks) return fail(ELOOP);
      bool procfs_link = on_procfs(next);
      if (procfs_link && !same_mount(next, current.get())) {
        // A procfs link away from its place: mounted over another name, or elsewhere (open_tree
        // and move_mount). A magic link there leads to a file, "self" to what its new directory
        // holds under the caller's pid: which, the kernel knows as it follows it, and a check
        // must neither read it as text nor follow it as memfd-warden.
        return fail_reaching_caller(EACCES);
      }
      if (procfs_link && !is_proc_root(current.get())) {
        // A magic link (fd/N, map_files/..., cwd, root, exe): its target is a file, not a path.
        // The kernel follows it for us as it would for the caller (the process it names is
        // given by the directory, not by the reader).
        int followed = open_in(name.c_str(), O_PATH | O_CLOEXEC);
        if (followed < 0 && (errno == EACCES || errno == EPERM)) return fail_reaching_caller(errno);
        if (followed < 0) return fail(errno);
        current = UniqueFd(followed);
        // A trailing slash asks for a directory, as after any other last component.
        struct stat target_st {};
        if (::fstat(current.get(), &target_st) != 0) return fail(errno);
        if (trailing_slash && last && !S_ISDIR(target_st.st_mode)) return fail(ENOTDIR);
        continue;
      }
      char target[4096];
      ssize_t n = ::readlinkat(next, "", target, sizeof(target));
      if (n < 0) return fail(errno);
      if (n == static_cast<ssize_t>(sizeof(target))) return fail(ENAMETOOLONG);
      std::string link(target, static_cast<size_t>(n));
      if (!link.empty() && link.front() == '/') current = UniqueFd(::dup(root.get()));
      pending = link + (rest.empty() && !trailing_slash ? "" : "/") + std::string(rest);
      rest = pending;
      continue;
    }
    // The last component, not followed: refused (execveat), or the result itself (lsetxattr).
    if (S_ISLNK(st.st_mode) && !lookup.final_link_itself) return fail(ELOOP);
    current = std::move(next_fd);
    if (trailing_slash && last && !S_ISDIR(st.st_mode)) return fail(ENOTDIR);
  }
  out.file = std::move(current);
  return out;
}

}  // namespace warden
