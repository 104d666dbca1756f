// Users and groups for --user, read from /etc/passwd and /etc/group with glibc's own line parsers
// (fgetpwent_r, fgetgrent_r), not through NSS. memfd-warden links glibc statically, and a static
// glibc asked for a name that nsswitch.conf sends past "files" (Debian 12: "files systemd")
// loads that NSS module into the static binary, which crashed it. Users that only LDAP, sssd or
// systemd know are named by number (UID:GID).
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <optional>
#include <string>

#include "policy/result.h"

namespace warden {

struct UserEntry {
  std::string name;
  uid_t uid = 0;
  gid_t gid = 0;  // the primary group
};

struct UserDatabase {
  std::string passwd_path = "/etc/passwd";
  std::string group_path = "/etc/group";

  // The first entry with this name / uid; nullopt when there is none (a missing file has none;
  // NIS "+"/"-" lines are skipped). An error when the file cannot be read.
  Result<std::optional<UserEntry>> user_named(const std::string& name) const;
  Result<std::optional<UserEntry>> user_with_uid(uid_t uid) const;
  Result<std::optional<gid_t>> group_named(const std::string& name) const;

  // `primary` then every group that lists `user` as a member, each once, into `out` (at most
  // `capacity`). The count, or an error when the file cannot be read or there are more.
  Result<size_t> groups_of(const std::string& user, gid_t primary, gid_t* out,
                           size_t capacity) const;
};

}  // namespace warden
