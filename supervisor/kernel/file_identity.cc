#include "supervisor/kernel/file_identity.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

namespace warden {
namespace {

std::optional<FileIdentity> identity_at(int dir, const char* name, int flags) {
  struct statx sx {};
  constexpr unsigned int kWanted = STATX_INO | STATX_MNT_ID;
  if (::statx(dir, name, flags | AT_STATX_DONT_SYNC, kWanted, &sx) != 0 ||
      (sx.stx_mask & kWanted) != kWanted) {
    return std::nullopt;
  }
  return FileIdentity{makedev(sx.stx_dev_major, sx.stx_dev_minor), sx.stx_ino, sx.stx_mnt_id};
}

}  // namespace

std::optional<FileIdentity> identity_of(int fd) { return identity_at(fd, "", AT_EMPTY_PATH); }

std::optional<FileIdentity> identity_of(int dir, const char* name) {
  return identity_at(dir, name, AT_SYMLINK_NOFOLLOW);
}

bool same_place(int a, int b) {
  std::optional<FileIdentity> x = identity_of(a);
  return x && x == identity_of(b);
}

bool same_mount(int a, int b) {
  std::optional<FileIdentity> x = identity_of(a);
  std::optional<FileIdentity> y = identity_of(b);
  return x && y && x->mount == y->mount;
}

bool not_mounted_over(int dir, const char* name) {
  std::optional<FileIdentity> here = identity_of(dir);
  std::optional<FileIdentity> entry = identity_of(dir, name);
  return here && entry && here->mount == entry->mount;
}

}  // namespace warden
