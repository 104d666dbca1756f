// Unit: telling places apart by inode and mount (kernel/file_identity.h), on this machine's own
// mounts and on a bind made in a private mount namespace: the same inode through another mount
// is another place, and an identity that cannot be read matches nothing.
#include "supervisor/kernel/file_identity.h"

#include <doctest/doctest.h>
#include <fcntl.h>
#include <sched.h>
#include <stdlib.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>

#include "supervisor/kernel/unique_fd.h"

namespace warden {
namespace {

UniqueFd open_dir(const char* path) {
  return UniqueFd(::open(path, O_PATH | O_DIRECTORY | O_CLOEXEC));
}

TEST_CASE("file identity: one directory through two fds is one place, another is not") {
  UniqueFd root = open_dir("/"), again = open_dir("/"), etc = open_dir("/etc"),
           proc = open_dir("/proc");
  REQUIRE(root.valid());
  REQUIRE(etc.valid());
  REQUIRE(proc.valid());
  CHECK(same_place(root.get(), again.get()));
  CHECK_FALSE(same_place(root.get(), etc.get()));
  CHECK(same_mount(root.get(), etc.get()));
  CHECK_FALSE(same_mount(root.get(), proc.get()));  // procfs is mounted at /proc
  CHECK(not_mounted_over(root.get(), "etc"));
  CHECK_FALSE(not_mounted_over(root.get(), "proc"));
  CHECK(not_mounted_over(proc.get(), "self"));
}

TEST_CASE("file identity: an fd that cannot be read is never the same as anything") {
  UniqueFd root = open_dir("/");
  CHECK_FALSE(identity_of(-1).has_value());
  CHECK_FALSE(same_place(-1, -1));
  CHECK_FALSE(same_mount(-1, -1));
  CHECK_FALSE(same_place(root.get(), -1));
  CHECK_FALSE(same_mount(-1, root.get()));
  CHECK_FALSE(not_mounted_over(root.get(), "no such name here"));
}

// In a child with a mount namespace of its own: `dir` bound over `over`. Exit codes say which
// check failed (0: all held; 99: no mount namespace here).
int bind_checks(const std::string& dir, const std::string& over, const std::string& parent) {
  if (::unshare(CLONE_NEWNS) != 0) return 99;
  if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) return 98;
  if (::mount(dir.c_str(), over.c_str(), nullptr, MS_BIND, nullptr) != 0) return 97;
  UniqueFd a = open_dir(dir.c_str()), b = open_dir(over.c_str()), up = open_dir(parent.c_str());
  std::optional<FileIdentity> x = identity_of(a.get()), y = identity_of(b.get());
  if (!x || !y) return 1;
  if (x->dev != y->dev || x->ino != y->ino) return 2;  // one inode...
  if (x->mount == y->mount) return 3;                  // ...through two mounts
  if (same_place(a.get(), b.get())) return 4;
  if (same_mount(a.get(), b.get())) return 5;
  std::string name = over.substr(parent.size() + 1);
  if (not_mounted_over(up.get(), name.c_str())) return 6;
  std::optional<FileIdentity> entry = identity_of(up.get(), name.c_str());
  if (!entry || entry != y) return 7;  // the entry is what is mounted on it
  return 0;
}

TEST_CASE("file identity: the same inode bound over another name is another place") {
  char base[] = "/tmp/warden-identity-XXXXXX";
  REQUIRE(::mkdtemp(base) != nullptr);
  std::string parent = base, dir = parent + "/a", over = parent + "/b";
  REQUIRE(::mkdir(dir.c_str(), 0700) == 0);
  REQUIRE(::mkdir(over.c_str(), 0700) == 0);
  pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) ::_exit(bind_checks(dir, over, parent));
  int status = 0;
  REQUIRE(::waitpid(child, &status, 0) == child);
  ::rmdir(over.c_str());
  ::rmdir(dir.c_str());
  ::rmdir(parent.c_str());
  REQUIRE(WIFEXITED(status));
  if (WEXITSTATUS(status) == 99) {
    MESSAGE("skipped: no mount namespace for this user (run as root)");
    return;
  }
  CHECK(WEXITSTATUS(status) == 0);
}

}  // namespace
}  // namespace warden
