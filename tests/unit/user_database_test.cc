// Unit: --user's lookups in passwd and group files (supervisor/launch/user_database.h), on files
// written here, and privileges_for_user on top of them.
#include <doctest/doctest.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <string>

#include "supervisor/launch/target_privileges.h"
#include "supervisor/launch/user_database.h"

namespace warden {
namespace {

class Files {
 public:
  Files() {
    char pattern[] = "/tmp/warden-users-XXXXXX";
    REQUIRE(::mkdtemp(pattern) != nullptr);
    dir_ = pattern;
    database.passwd_path = dir_ + "/passwd";
    database.group_path = dir_ + "/group";
  }
  ~Files() {
    ::unlink(database.passwd_path.c_str());
    ::unlink(database.group_path.c_str());
    ::rmdir(dir_.c_str());
  }
  void write(const std::string& passwd, const std::string& group) {
    std::ofstream(database.passwd_path) << passwd;
    std::ofstream(database.group_path) << group;
  }
  UserDatabase database;

 private:
  std::string dir_;
};

const std::string kPasswd =
    "root:x:0:0:root:/root:/bin/bash\n"
    "this line is not an entry\n"
    "alice:x:1001:1001:" + std::string(5000, 'A') + ":/home/alice:/bin/sh\n"  // past 1 KiB
    "bob:x:1002:100::/home/bob:/bin/sh\n"
    "alice:x:2001:2001:a second alice:/:/bin/sh\n";
const std::string kGroup =
    "root:x:0:\n"
    "users:x:100:bob\n"
    "alice:x:1001:alice\n"  // her primary group lists her too: once in the result
    "staff:x:50:carol,alice,bob\n"
    "al:x:60:al,alicex\n"  // neither is alice
    "audio:x:29:alice\n";

}  // namespace

TEST_CASE("--user lookups: /etc/passwd and /etc/group read as files, first entry wins") {
  Files files;
  files.write(kPasswd, kGroup);
  const auto& db = files.database;

  auto alice = db.user_named("alice");
  REQUIRE(alice);
  REQUIRE(alice->has_value());
  CHECK((*alice)->uid == 1001);
  CHECK((*alice)->gid == 1001);
  auto by_uid = db.user_with_uid(1002);
  REQUIRE(by_uid);
  REQUIRE(by_uid->has_value());
  CHECK((*by_uid)->name == "bob");
  auto missing = db.user_named("carol");  // a member of staff, with no passwd entry
  REQUIRE(missing);
  CHECK(!missing->has_value());
  auto no_uid = db.user_with_uid(4242);
  REQUIRE(no_uid);
  CHECK(!no_uid->has_value());

  auto staff = db.group_named("staff");
  REQUIRE(staff);
  CHECK(*staff == std::optional<gid_t>(50));
  auto no_group = db.group_named("wheel");
  REQUIRE(no_group);
  CHECK(!no_group->has_value());

  gid_t groups[8];
  auto count = db.groups_of("alice", 1001, groups, 8);
  REQUIRE(count);
  REQUIRE(*count == 3);
  CHECK(groups[0] == 1001);
  CHECK(groups[1] == 50);
  CHECK(groups[2] == 29);
  auto too_few = db.groups_of("alice", 1001, groups, 2);
  REQUIRE(!too_few);
  CHECK(too_few.error().message().find("more than 2 groups") != std::string::npos);
}

TEST_CASE("--user lookups: missing files name nobody, and a file that cannot be read is an error") {
  Files files;  // neither file written: a root filesystem without them (a distroless image)
  auto user = files.database.user_named("alice");
  REQUIRE(user);
  CHECK(!user->has_value());
  gid_t groups[4];
  auto count = files.database.groups_of("alice", 7, groups, 4);
  REQUIRE(count);
  CHECK(*count == 1);
  auto numbers = privileges_for_user("65534:65534", files.database);  // what the error advises
  REQUIRE(numbers);
  CHECK(numbers->uid == 65534);
  CHECK(numbers->group_count == 1);
  // -1 is no id: setresuid(-1, -1, -1) changes nothing, and the target would stay root.
  for (const char* minus_one : {"4294967295:0", "0:4294967295", "4294967295:4294967295"}) {
    CAPTURE(minus_one);
    auto refused = privileges_for_user(minus_one, files.database);
    REQUIRE(!refused);
    CHECK(refused.error().message().find("not a user or group id") != std::string::npos);
  }
  CHECK(privileges_for_user("4294967294:4294967294", files.database));
  auto name = privileges_for_user("alice", files.database);
  REQUIRE(!name);
  CHECK(name.error().message().find("no such user 'alice'") != std::string::npos);

  // A directory where the file should be: it cannot be read, and the error says which.
  files.database.passwd_path = "/";
  auto unreadable = files.database.user_named("alice");
  REQUIRE(!unreadable);
  CHECK(unreadable.error().message().find("reading /") != std::string::npos);
}

TEST_CASE("--user lookups: NIS compat lines are no one") {
  // glibc's parser reads "+", "+name" and "-name" as entries with uid and gid 0; NSS's "files"
  // module skips them, and so do we.
  Files files;
  files.write("+::::::\n-mallory\n+alice\n", "+:::alice\n-wheel:x:0:alice\n");
  const auto& db = files.database;
  for (const char* name : {"+", "+alice", "-mallory"}) {
    CAPTURE(name);
    auto found = db.user_named(name);
    REQUIRE(found);
    CHECK(!found->has_value());
  }
  auto root = db.user_with_uid(0);
  REQUIRE(root);
  CHECK(!root->has_value());
  auto group = db.group_named("-wheel");
  REQUIRE(group);
  CHECK(!group->has_value());
  gid_t groups[4];
  auto count = db.groups_of("alice", 7, groups, 4);
  REQUIRE(count);
  CHECK(*count == 1);  // not gid 0 from either compat line
}

TEST_CASE("--user USER[:GROUP] resolved against the files") {
  Files files;
  files.write(kPasswd, kGroup);
  const auto& db = files.database;

  auto alice = privileges_for_user("alice", db);
  REQUIRE(alice);
  CHECK(alice->set_ids);
  CHECK(alice->uid == 1001);
  CHECK(alice->gid == 1001);
  CHECK(alice->group_count == 3);

  auto bob_staff = privileges_for_user("bob:staff", db);
  REQUIRE(bob_staff);
  CHECK(bob_staff->uid == 1002);
  CHECK(bob_staff->gid == 50);
  REQUIRE(bob_staff->group_count == 2);  // staff as the primary, users as a member: each once
  CHECK(bob_staff->groups[0] == 50);
  CHECK(bob_staff->groups[1] == 100);

  auto by_number = privileges_for_user("1002", db);  // a number with an entry: its groups
  REQUIRE(by_number);
  CHECK(by_number->gid == 100);
  CHECK(by_number->group_count == 2);

  auto bare = privileges_for_user("4242:7", db);  // no entry: the group given, and no others
  REQUIRE(bare);
  CHECK(bare->uid == 4242);
  CHECK(bare->gid == 7);
  CHECK(bare->group_count == 1);

  auto no_group_given = privileges_for_user("4242", db);
  REQUIRE(!no_group_given);
  CHECK(no_group_given.error().message().find("4242:GROUP") != std::string::npos);
  auto unknown = privileges_for_user("carol", db);
  REQUIRE(!unknown);
  CHECK(unknown.error().message().find("no such user 'carol' in " + db.passwd_path) !=
        std::string::npos);
  CHECK(unknown.error().message().find("by number") != std::string::npos);
  auto unknown_group = privileges_for_user("alice:wheel", db);
  REQUIRE(!unknown_group);
  CHECK(unknown_group.error().message().find("no such group 'wheel'") != std::string::npos);
  CHECK(!privileges_for_user("alice:", db));
  CHECK(!privileges_for_user(":staff", db));
}

}  // namespace warden
