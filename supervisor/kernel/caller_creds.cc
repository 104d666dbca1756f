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
  uid_t euid = 0;
  gid_t egid = 0;
  uid_t fsuid = 0;
  gid_t fsgid = 0;
  std::vector<gid_t> groups;
  uint64_t effective = 0;
};

// "Uid:" / "Gid:" list the real, effective, saved and filesystem ids.
bool effective_and_fs(const char* line, unsigned long& effective, unsigned long& fs) {
  unsigned long real = 0, saved = 0;
  return std::sscanf(line, "%lu %lu %lu %lu", &real, &effective, &saved, &fs) == 4;
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
  unsigned long effective = 0, fs = 0;
  const char* uid = field("\nUid:");
  const char* gid = field("\nGid:");
  const char* groups = field("\nGroups:");
  const char* caps = field("\nCapEff:");
  if (!uid || !gid || !groups || !caps || !effective_and_fs(uid, effective, fs)) return false;
  out.euid = static_cast<uid_t>(effective);
  out.fsuid = static_cast<uid_t>(fs);
  if (!effective_and_fs(gid, effective, fs)) return false;
  out.egid = static_cast<gid_t>(effective);
  out.fsgid = static_cast<gid_t>(fs);
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
  // Back to an effective uid of 0 (the real and saved ones are 0), which puts the permitted set
  // back in effect and the filesystem ids with the effective ones; then the rest as it was.
  ::syscall(SYS_setresuid, -1, 0, -1);
  ::syscall(SYS_setresgid, -1, old_egid_, -1);
  ::syscall(SYS_setgroups, old_groups_.size(), old_groups_.data());
  capset_self(old_caps_);
}

}  // namespace warden
