#include "supervisor/launch/target_privileges.h"

#include <linux/capability.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <optional>

namespace warden {
namespace {

#ifndef CAP_PERFMON
#define CAP_PERFMON 38
#endif
#ifndef CAP_BPF
#define CAP_BPF 39
#endif

constexpr int kReaching[] = {CAP_SYS_PTRACE, CAP_SYS_ADMIN, CAP_SYS_MODULE,     CAP_SYS_RAWIO,
                             CAP_BPF,        CAP_PERFMON,   CAP_SYS_BOOT, CAP_LINUX_IMMUTABLE};
constexpr const char* kReachingNames[] = {
    "CAP_SYS_PTRACE", "CAP_SYS_ADMIN", "CAP_SYS_MODULE", "CAP_SYS_RAWIO",
    "CAP_BPF",        "CAP_PERFMON",   "CAP_SYS_BOOT",   "CAP_LINUX_IMMUTABLE"};

std::optional<uint32_t> number(std::string_view text) {
  uint32_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || end != text.data() + text.size() || text.empty()) return std::nullopt;
  return value;
}

}  // namespace

uint64_t reaching_capabilities() {
  uint64_t mask = 0;
  for (int cap : kReaching) mask |= uint64_t{1} << cap;
  return mask;
}

std::string reaching_capability_names() {
  std::string out;
  for (const char* name : kReachingNames) out += (out.empty() ? "" : ", ") + std::string(name);
  return out;
}

Result<TargetPrivileges> privileges_for_user(std::string_view spec,
                                             const UserDatabase& users) {
  TargetPrivileges out;
  out.set_ids = true;
  size_t colon = spec.find(':');
  std::string user(spec.substr(0, colon));
  std::optional<std::string> group_name;
  if (colon != std::string_view::npos) group_name = std::string(spec.substr(colon + 1));
  if (user.empty() || (group_name && group_name->empty())) {
    return Error{0, "--user '" + std::string(spec) + "': expected USER or USER:GROUP"};
  }
  // A lookup's error, said as --user's.
  auto failed = [](const Error& error) { return Error{error.code, "--user: " + error.context}; };
  std::optional<UserEntry> entry;
  if (auto id = number(user)) {
    out.uid = *id;
    auto found = users.user_with_uid(*id);
    if (!found) return failed(found.error());
    entry = *found;
  } else {
    auto found = users.user_named(user);
    if (!found) return failed(found.error());
    if (!*found) {
      return Error{0, "--user: no such user '" + user + "' in " + users.passwd_path +
                          " (a user known only elsewhere, such as LDAP or systemd, is given by "
                          "number: UID:GID)"};
    }
    entry = *found;
    out.uid = entry->uid;
  }
  if (group_name) {
    if (auto id = number(*group_name)) {
      out.gid = *id;
    } else {
      auto found = users.group_named(*group_name);
      if (!found) return failed(found.error());
      if (!*found) {
        return Error{0, "--user: no such group '" + *group_name + "' in " + users.group_path +
                            " (give it by number)"};
      }
      out.gid = **found;
    }
  } else if (entry) {
    out.gid = entry->gid;
  } else {
    return Error{
        0, "--user " + user + ": no passwd entry for it, so give its group: " + user + ":GROUP"};
  }
  // (uid_t)-1 and (gid_t)-1 are not ids: setresuid and setresgid take them as "leave this one
  // as it is", which would leave the target root.
  if (out.uid == static_cast<uid_t>(-1) || out.gid == static_cast<gid_t>(-1)) {
    return Error{0, "--user '" + std::string(spec) +
                        "': 4294967295 is not a user or group id (the kernel reads it as "
                        "\"unchanged\")"};
  }
  out.group_count = 1;
  out.groups[0] = out.gid;
  if (entry) {
    auto count = users.groups_of(entry->name, out.gid, out.groups, kMaxTargetGroups);
    if (!count) return failed(count.error());
    out.group_count = *count;
  }
  return out;
}

int apply_target_privileges(const TargetPrivileges& privileges, const char** step) {
  if (privileges.drop_caps) {
    *step = "dropping capabilities from the bounding set (PR_CAPBSET_DROP)";
    for (int cap : kReaching) {
      // EINVAL: a capability this kernel does not know (CAP_BPF before 5.8): nothing to drop.
      if (::prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 && errno != EINVAL) return errno;
    }
    *step = "clearing ambient capabilities";
    if (::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0 && errno != EINVAL) {
      return errno;
    }
    *step = "dropping capabilities (capset)";
    __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
    __user_cap_data_struct data[2] = {};
    if (::syscall(SYS_capget, &header, data) != 0) return errno;
    uint64_t mask = reaching_capabilities();
    for (int i = 0; i < 2; ++i) {
      auto keep = ~static_cast<uint32_t>(mask >> (32 * i));
      data[i].effective &= keep;
      data[i].permitted &= keep;
      data[i].inheritable &= keep;
    }
    if (::syscall(SYS_capset, &header, data) != 0) return errno;
  }
  if (privileges.set_ids) {
    *step = "setgroups";
    if (::syscall(SYS_setgroups, privileges.group_count, privileges.groups) != 0) return errno;
    *step = "setresgid";
    if (::syscall(SYS_setresgid, privileges.gid, privileges.gid, privileges.gid) != 0) {
      return errno;
    }
    *step = "setresuid";
    if (::syscall(SYS_setresuid, privileges.uid, privileges.uid, privileges.uid) != 0) {
      return errno;
    }
    // Whatever the ids were, the target must now hold exactly these and no others.
    *step = "checking the ids it switched to";
    uid_t ruid = 0, euid = 0, suid = 0;
    gid_t rgid = 0, egid = 0, sgid = 0;
    if (::getresuid(&ruid, &euid, &suid) != 0 || ::getresgid(&rgid, &egid, &sgid) != 0) {
      return errno;
    }
    for (uid_t id : {ruid, euid, suid}) {
      if (id != privileges.uid) return EPERM;
    }
    for (gid_t id : {rgid, egid, sgid}) {
      if (id != privileges.gid) return EPERM;
    }
  }
  return 0;
}

}  // namespace warden
