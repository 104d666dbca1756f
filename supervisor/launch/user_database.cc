#include "supervisor/launch/user_database.h"

#include <grp.h>
#include <pwd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <vector>

namespace warden {
namespace {

struct FileCloser {
  void operator()(FILE* file) const { std::fclose(file); }
};

// Calls `visit` with each entry of the file at `path`, read by `next` (fgetpwent_r or
// fgetgrent_r), until it returns true. Lines those parsers cannot read are skipped, as NSS's
// "files" module skips them. On ERANGE they leave the stream at the line's start: a larger
// buffer reads it again.
template <typename Entry, typename Next, typename Visit>
Result<void> scan(const std::string& path, Next next, Visit visit) {
  std::unique_ptr<FILE, FileCloser> file(std::fopen(path.c_str(), "re"));
  // A root without the file (a distroless image) names nobody, as NSS's "files" would have it.
  if (!file) return errno == ENOENT ? Result<void>() : errno_error("reading " + path);
  std::vector<char> buffer(1024);
  for (;;) {
    Entry entry{};
    Entry* found = nullptr;
    int err = next(file.get(), &entry, buffer.data(), buffer.size(), &found);
    if (err == ERANGE && buffer.size() < (1u << 20)) {
      buffer.resize(buffer.size() * 2);
      continue;
    }
    if (err == ENOENT || (err == 0 && found == nullptr)) return {};
    if (err != 0) return Error{err, "reading " + path};
    if (visit(*found)) return {};
  }
}

// "+", "+name", "-name": NIS compat entries, which glibc's parser reads as uid and gid 0 and
// NSS's "files" module skips.
bool compat_entry(const char* name) { return name == nullptr || name[0] == '+' || name[0] == '-'; }

// The first passwd entry `matches` takes (compat lines aside), or none.
template <typename Match>
Result<std::optional<UserEntry>> first_user(const std::string& path, Match matches) {
  std::optional<UserEntry> out;
  auto done = scan<passwd>(path, ::fgetpwent_r, [&](const passwd& entry) {
    if (compat_entry(entry.pw_name) || !matches(entry)) return false;
    out = UserEntry{entry.pw_name, entry.pw_uid, entry.pw_gid};
    return true;
  });
  if (!done) return done.error();
  return out;
}

}  // namespace

Result<std::optional<UserEntry>> UserDatabase::user_named(const std::string& name) const {
  return first_user(passwd_path, [&](const passwd& entry) { return name == entry.pw_name; });
}

Result<std::optional<UserEntry>> UserDatabase::user_with_uid(uid_t uid) const {
  return first_user(passwd_path, [&](const passwd& entry) { return entry.pw_uid == uid; });
}

Result<std::optional<gid_t>> UserDatabase::group_named(const std::string& name) const {
  std::optional<gid_t> out;
  auto done = scan<group>(group_path, ::fgetgrent_r, [&](const group& entry) {
    if (compat_entry(entry.gr_name) || name != entry.gr_name) return false;
    out = entry.gr_gid;
    return true;
  });
  if (!done) return done.error();
  return out;
}

Result<size_t> UserDatabase::groups_of(const std::string& user, gid_t primary, gid_t* out,
                                       size_t capacity) const {
  if (capacity == 0) return Error{0, "no room for the groups of " + user};
  size_t count = 0;
  out[count++] = primary;
  bool overflow = false;
  auto done = scan<group>(group_path, ::fgetgrent_r, [&](const group& entry) {
    if (compat_entry(entry.gr_name) || std::find(out, out + count, entry.gr_gid) != out + count) {
      return false;
    }
    for (char** member = entry.gr_mem; member != nullptr && *member != nullptr; ++member) {
      if (user != *member) continue;
      if (count == capacity) {
        overflow = true;
        return true;
      }
      out[count++] = entry.gr_gid;
      break;
    }
    return false;
  });
  if (!done) return done.error();
  if (overflow) {
    return Error{0, user + " is a member of more than " + std::to_string(capacity) + " groups"};
  }
  return count;
}

}  // namespace warden
