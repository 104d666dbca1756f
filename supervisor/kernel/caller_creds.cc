#include "supervisor/kernel/caller_creds.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "supervisor/kernel/unique_fd.h"

namespace warden {
namespace {

struct Creds {
  uid_t ruid = 0, euid = 0, suid = 0;
  gid_t rgid = 0, egid = 0, sgid = 0;
  uid_t fsuid = 0;
  gid_t fsgid = 0;
  std::vector<gid_t> groups;
  uint64_t effective = 0;
};

// "Uid:" / "Gid:" list the real, effective, saved and filesystem ids.
bool four_ids(const char* line, unsigned long (&ids)[4]) {
  return std::sscanf(line, "%lu %lu %lu %lu", &ids[0], &ids[1], &ids[2], &ids[3]) == 4;
}

bool read_creds(pid_t tid, Creds& out) {
  char path[64];
  std::snprintf(path, sizeof(path), "/proc/%d/status", tid);
  UniqueFd fd(::open(path, O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return false;
  // Whole: a caller with many supplementary groups (up to 65536) has a long "Groups:" line, and
  // the capabilities come after it.
  std::string text;
  char chunk[8192];
  for (ssize_t got; (got = ::read(fd.get(), chunk, sizeof(chunk))) != 0;) {
    if (got < 0) return false;
    text.append(chunk, static_cast<size_t>(got));
  }
  if (text.empty()) return false;
  auto field = [&](const char* key) -> const char* {
    size_t at = text.find(key);
    return at == std::string::npos ? nullptr : text.c_str() + at + std::strlen(key);
  };
  unsigned long u[4], g[4];
  const char* uid = field("\nUid:");
  const char* gid = field("\nGid:");
  const char* groups = field("\nGroups:");
  const char* caps = field("\nCapEff:");
  if (!uid || !gid || !groups || !caps || !four_ids(uid, u) || !four_ids(gid, g)) return false;
  out.ruid = static_cast<uid_t>(u[0]);
  out.euid = static_cast<uid_t>(u[1]);
  out.suid = static_cast<uid_t>(u[2]);
  out.fsuid = static_cast<uid_t>(u[3]);
  out.rgid = static_cast<gid_t>(g[0]);
  out.egid = static_cast<gid_t>(g[1]);
  out.sgid = static_cast<gid_t>(g[2]);
  out.fsgid = static_cast<gid_t>(g[3]);
  for (const char* p = groups;;) {
    char* end = nullptr;
    unsigned long group = std::strtoul(p, &end, 10);
    if (end == p) break;
    out.groups.push_back(static_cast<gid_t>(group));
    p = end;
    if (*p == '\n') break;
  }
  // Outside our user namespace (or when that cannot be told): none at all, failing closed.
  out.effective = in_our_user_namespace(tid) ? std::strtoull(caps, nullptr, 16) : 0;
  return true;
}

long capget_self(__user_cap_data_struct (&data)[2]) {
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  return ::syscall(SYS_capget, &header, data);
}

long capset_self(__user_cap_data_struct (&data)[2]) {
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  return ::syscall(SYS_capset, &header, data);
}

}  // namespace

// Capabilities held in any user namespace but ours (one the caller made: its effective set there
// is full, and /proc shows those bits) count only for what that namespace owns, never for the
// files memfd-warden opens, resizes or sets attributes of in the caller's place.
bool in_our_user_namespace(pid_t tid) {
  char path[64];
  std::snprintf(path, sizeof(path), "/proc/%d/ns/user", tid);
  struct stat theirs {
  }, ours{};
  return ::stat(path, &theirs) == 0 && ::stat("/proc/self/ns/user", &ours) == 0 &&
         theirs.st_dev == ours.st_dev && theirs.st_ino == ours.st_ino;
}

CallerCredsScope::CallerCredsScope(pid_t tid) {
  if (::geteuid() != 0) {
    ok_ = true;  // nothing to switch to: we are the only user we can act as
    return;
  }
  uid_t real = 0, effective = 0, saved = 0;
  // Coming back takes a real or saved uid of 0 (root, not a set-user-ID program of root's).
  if (::getresuid(&real, &effective, &saved) != 0 || (real != 0 && saved != 0)) return;
  Creds caller;
  if (!read_creds(tid, caller) || capget_self(old_caps_) != 0) return;
  old_egid_ = ::getegid();
  int count = ::getgroups(0, nullptr);
  old_groups_.resize(count > 0 ? static_cast<size_t>(count) : 0);
  if (count > 0 && ::getgroups(count, old_groups_.data()) != count) return;
  // Per-thread: the raw setgroups, setresgid, setresuid, setfsgid, setfsuid, capset affect this
  // thread only. The effective ids too, which a few checks take instead of the filesystem ones
  // (FUSE lets no one but a mount's owner in without allow_other); the real and saved ids stay
  // ours, so that the target, whose ids these may be, cannot signal this thread meanwhile, and we
  // can come back.
  root_in_effect_only_ = caller.euid == 0 && caller.egid == 0 &&
                         (caller.ruid | caller.suid | caller.rgid | caller.sgid) != 0;
  if (::syscall(SYS_setgroups, caller.groups.size(), caller.groups.data()) != 0) return;
  switched_ = true;
  if (::syscall(SYS_setresgid, -1, caller.egid, -1) != 0) return;
  ::syscall(SYS_setfsgid, caller.fsgid);
  // A nonzero effective uid empties the effective set; the permitted one stays.
  if (::syscall(SYS_setresuid, -1, caller.euid, -1) != 0) return;
  __user_cap_data_struct caps[2];
  std::memcpy(caps, old_caps_, sizeof(caps));
  caps[0].effective = caps[0].permitted;  // CAP_SETFSUID, for the filesystem uid
  caps[1].effective = caps[1].permitted;
  if (capset_self(caps) != 0) return;
  ::syscall(SYS_setfsuid, caller.fsuid);
  // The effective set: the caller's, within what we hold. A root caller without
  // CAP_DAC_OVERRIDE must not open what only that capability would let it.
  caps[0].effective = static_cast<uint32_t>(caller.effective) & caps[0].permitted;
  caps[1].effective = static_cast<uint32_t>(caller.effective >> 32) & caps[1].permitted;
  ok_ = capset_self(caps) == 0;
}

CallerCredsScope::~CallerCredsScope() {
  if (!switched_) return;
  // The permitted set in effect first: a root caller's effective set may lack CAP_SETGID, and its
  // groups would stay on this thread (review). Then an effective uid of 0 (the real and saved
  // ones are 0), which puts the filesystem ids back with it, and the rest as it was.
  __user_cap_data_struct caps[2];
  std::memcpy(caps, old_caps_, sizeof(caps));
  caps[0].effective = caps[0].permitted;
  caps[1].effective = caps[1].permitted;
  bool back = capset_self(caps) == 0 && ::syscall(SYS_setresuid, -1, 0, -1) == 0 &&
              ::syscall(SYS_setresgid, -1, old_egid_, -1) == 0 &&
              ::syscall(SYS_setgroups, old_groups_.size(), old_groups_.data()) == 0 &&
              capset_self(old_caps_) == 0;
  if (!back) {
    // This thread would act with ids or groups the target chose: nothing may run on.
    std::fprintf(stderr, "memfd-warden: cannot restore its own credentials: %s\n",
                 std::strerror(errno));
    std::abort();
  }
}

}  // namespace warden
