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
  uid_t fsuid = 0;
  gid_t fsgid = 0;
  std::vector<gid_t> groups;
  uint64_t effective = 0;
};

// The fourth number of "Uid:" / "Gid:" is the filesystem id.
bool fourth_field(const char* line, unsigned long& out) {
  unsigned long a = 0, b = 0, c = 0;
  return std::sscanf(line, "%lu %lu %lu %lu", &a, &b, &c, &out) == 4;
}

// Whether TID's user namespace is memfd-warden's own. Capabilities held in any other (one the
// caller made: its effective set there is full, and /proc shows those bits) count only for what
// that namespace owns, never for the files memfd-warden opens or resizes in the caller's place.
bool in_our_user_namespace(pid_t tid) {
  char path[64];
  std::snprintf(path, sizeof(path), "/proc/%d/ns/user", tid);
  struct stat theirs {
  }, ours{};
  return ::stat(path, &theirs) == 0 && ::stat("/proc/self/ns/user", &ours) == 0 &&
         theirs.st_dev == ours.st_dev && theirs.st_ino == ours.st_ino;
}

bool read_creds(pid_t tid, Creds& out) {
  char path[64];
  std::snprintf(path, sizeof(path), "/proc/%d/status", tid);
  UniqueFd fd(::open(path, O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return false;
  std::string text(8192, '\0');
  ssize_t got = ::read(fd.get(), text.data(), text.size() - 1);
  if (got <= 0) return false;
  text.resize(static_cast<size_t>(got));
  auto field = [&](const char* key) -> const char* {
    size_t at = text.find(key);
    return at == std::string::npos ? nullptr : text.c_str() + at + std::strlen(key);
  };
  unsigned long value = 0;
  const char* uid = field("\nUid:");
  const char* gid = field("\nGid:");
  const char* groups = field("\nGroups:");
  const char* caps = field("\nCapEff:");
  if (!uid || !gid || !groups || !caps || !fourth_field(uid, value)) return false;
  out.fsuid = static_cast<uid_t>(value);
  if (!fourth_field(gid, value)) return false;
  out.fsgid = static_cast<gid_t>(value);
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

CallerCredsScope::CallerCredsScope(pid_t tid) {
  if (::geteuid() != 0) {
    ok_ = true;  // nothing to switch to: we are the only user we can act as
    return;
  }
  Creds caller;
  if (!read_creds(tid, caller) || capget_self(old_caps_) != 0) return;
  int count = ::getgroups(0, nullptr);
  old_groups_.resize(count > 0 ? static_cast<size_t>(count) : 0);
  if (count > 0 && ::getgroups(count, old_groups_.data()) != count) return;
  // Per-thread: the raw setgroups, setfsgid, setfsuid, capset affect this thread only.
  if (::syscall(SYS_setgroups, caller.groups.size(), caller.groups.data()) != 0) return;
  old_fsgid_ = static_cast<gid_t>(::syscall(SYS_setfsgid, caller.fsgid));
  old_fsuid_ = static_cast<uid_t>(::syscall(SYS_setfsuid, caller.fsuid));
  switched_ = true;
  // The effective set: the caller's, within what we hold. A root caller without
  // CAP_DAC_OVERRIDE must not open what only that capability would let it.
  __user_cap_data_struct caps[2];
  std::memcpy(caps, old_caps_, sizeof(caps));
  caps[0].effective = static_cast<uint32_t>(caller.effective) & caps[0].permitted;
  caps[1].effective = static_cast<uint32_t>(caller.effective >> 32) & caps[1].permitted;
  ok_ = capset_self(caps) == 0;
}

CallerCredsScope::~CallerCredsScope() {
  if (!switched_) return;
  ::syscall(SYS_setfsuid, old_fsuid_);  // back to 0: the fs capabilities return to effective
  ::syscall(SYS_setfsgid, old_fsgid_);
  ::syscall(SYS_setgroups, old_groups_.size(), old_groups_.data());
  capset_self(old_caps_);
}

}  // namespace warden
