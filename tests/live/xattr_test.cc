// Live: extended attributes under a byte limit. A memfd's attributes are kernel memory that no
// charge counts, so with a byte limit a memfd takes none (EOPNOTSUPP); every other file takes
// them as natively, from memfd-warden's own reference to the file, as the caller, so a second
// thread that swaps a memfd in after the check gets nothing onto it
// (supervisor/calls/xattr_call.h).
#include <doctest/doctest.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <string>

#include "tests/live/harness.h"

namespace warden::test {
namespace {

// The probe's cases in a directory of their own (it makes a file and a symlink there).
RunResult cases(const Args* warden_args) {
  TempDir dir;
  Args command{probe_bin(), "xattr-cases", dir.path().string()};
  return warden_args ? run_warden(*warden_args, command) : run_native(command);
}

// The cases that set an attribute on a memfd, and succeed natively.
constexpr const char* kOnMemfd[] = {"f_memfd",     "f_memfd_trusted", "f_memfd_security",
                                    "f_memfd_acl", "p_memfd",         "p_anon_shared",
                                    "p_sysv",      "i386_memfd",      "nobody_memfd"};

}  // namespace

TEST_CASE(
    "with a byte limit a memfd takes no extended attribute and other files take them as natively") {
  auto native = cases(nullptr);
  REQUIRE(native.exit_code == 0);
  // Where the machine runs no i386 calls (int $0x80 dies), that one case is left out.
  bool i386_usable = native.fact("i386_memfd") != "unusable";
  if (!i386_usable) MESSAGE("the i386 case skipped: this machine runs no i386 calls (int $0x80)");
  auto on_memfd = [&](const char* key) { return i386_usable || std::string(key) != "i386_memfd"; };
  for (const char* key : kOnMemfd) {
    if (on_memfd(key)) REQUIRE(native.fact(key) == "0");  // control: they land
  }
  REQUIRE(native.fact_number("memfd_xattrs") == (i386_usable ? 6 : 5));
  // setxattrat is Linux 6.13's.
  REQUIRE(native.fact("at_file") == "0");
  // The tree's root keeps its capabilities, as the native run's (trusted.* and security.*).
  Args limited_args{"--keep-caps", "--max-bytes", "64M"};
  auto limited = cases(&limited_args);
  CHECK(limited.exit_code == 0);
  auto expected = native.facts;
  for (const char* key : kOnMemfd) {
    if (on_memfd(key)) expected[key] = std::to_string(EOPNOTSUPP);
  }
  expected["at_file"] = expected["at_memfd"] = std::to_string(ENOSYS);
  expected["memfd_xattrs"] = "0";
  // Everything else as natively: the kernel's argument checks in its order (bad flags before a
  // bad fd), EEXIST and ENODATA, symlinks, trailing slashes, an O_PATH fd, a root-owned file for
  // nobody (EACCES: set with the caller's credentials, not memfd-warden's).
  check_facts(limited, expected);
  size_t refused = 0;
  for (const auto& record : limited.decisions) {
    if (record.value("reason", "") != "memfd-xattr") continue;
    ++refused;
    CHECK(record["decision"] == "deny");
    std::string call = record["syscall"];
    CAPTURE(call);
    CHECK(record["errno"] == (call == "setxattrat" ? "ENOSYS" : "EOPNOTSUPP"));
    if (call == "fsetxattr") CHECK((record["name"] == "xattrs" || record["name"] == "nobody"));
    if (call == "setxattr") {
      std::string path = record["path"];
      CAPTURE(path);
      // A memfd is named; the files behind a mapping or a System V segment have no name.
      if (path.starts_with("/proc/self/fd/")) CHECK(record["name"] == "xattrs");
      if (path.starts_with("/proc/self/map_files/")) CHECK(record["name"].is_null());
      CHECK(path.starts_with("/proc/self/"));
    }
  }
  CHECK(refused == (i386_usable ? 11 : 10));  // the nine above and the two setxattrat
  const Json* i386 = nullptr;
  for (const auto& record : limited.decisions) {
    if (record.value("abi", "") == "i386") i386 = &record;
  }
  if (i386_usable) {
    REQUIRE(i386 != nullptr);
    CHECK((*i386)["syscall"] == "fsetxattr");
  }

  SUBCASE("no byte limit: nothing is trapped") {
    Args free_args{"--keep-caps"};
    auto unlimited = cases(&free_args);
    check_facts(unlimited, native.facts);
    for (const auto& record : unlimited.decisions) CHECK(record["syscall"] == "memfd_create");
  }
  SUBCASE("any byte limit: one memfd's, or a rule's") {
    TempDir dir;
    std::string rule = dir.write("rule.toml",
                                 "version = 1\n[[rule]]\nname = \"pool-*\"\naction = \"allow\"\n"
                                 "max_bytes = \"1MiB\"\n");
    for (const Args& limit : {Args{"--max-memfd-bytes", "1M"}, Args{"--policy", rule}}) {
      CAPTURE(limit[0]);
      Args args{"--keep-caps"};
      args.insert(args.end(), limit.begin(), limit.end());
      auto run = cases(&args);
      CHECK(run.fact("f_memfd") == std::to_string(EOPNOTSUPP));
      CHECK(run.fact("f_file") == "0");
      CHECK(run.fact("memfd_xattrs") == "0");
    }
  }
  SUBCASE("a dry run lets them through, audited as would-deny") {
    Args dry_args{"--keep-caps", "--max-bytes", "64M", "--dry-run"};
    auto dry = cases(&dry_args);
    check_facts(dry, native.facts);
    size_t would = 0;
    for (const auto& record : dry.decisions) {
      if (record.value("reason", "") == "memfd-xattr") would += record["decision"] == "would-deny";
    }
    CHECK(would == (i386_usable ? 11 : 10));
  }
}

TEST_CASE("with a byte limit an ACL set from a user namespace names the users it named there") {
  // nobody, root in a user namespace of its own (0 inside is 65534 outside), sets on its own file
  // an ACL naming user 0 (so 65534), then one naming user 5 (unmapped: EINVAL). memfd-warden
  // sets it from its own namespace, where 0 would be root.
  TempDir dir;
  std::filesystem::permissions(dir.path(), std::filesystem::perms(0755));
  auto acl_user = [](const std::string& file) -> long {
    struct __attribute__((packed)) {
      uint32_t version;
      struct __attribute__((packed)) {
        uint16_t tag, perm;
        uint32_t id;
      } entries[5];
    } acl{};
    if (::getxattr(file.c_str(), "system.posix_acl_access", &acl, sizeof(acl)) != sizeof(acl))
      return -1;
    return acl.entries[1].id;
  };
  for (const char* id : {"0", "5"}) {
    CAPTURE(id);
    std::string native_file = dir.file(std::string("native-") + id);
    std::string file = dir.file(std::string("warden-") + id);
    for (const auto& f : {native_file, file}) {
      std::ofstream(f) << "x";
      REQUIRE(::chown(f.c_str(), 65534, 65534) == 0);
    }
    auto native = run_native({"setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                              probe_bin(), "in-userns", "xattr-acl", native_file, id});
    auto run = run_warden({"--user", "nobody", "--max-bytes", "64M"},
                          {probe_bin(), "in-userns", "xattr-acl", file, id});
    CHECK(run.fact("acl") == native.fact("acl"));
    if (std::string(id) == "0") {
      REQUIRE(native.fact("acl") == "0");
      CHECK(acl_user(native_file) == 65534);  // control
      CHECK(acl_user(file) == 65534);
    } else {
      CHECK(native.fact("acl") == std::to_string(EINVAL));
    }
  }
}

TEST_CASE(
    "with a byte limit a thread that swaps a memfd in under an fd or a path gets no attribute onto "
    "it") {
  // fd-acl and fd-flip: an ACL (whose checks are the owner's, no capability), and a name the
  // kernel reads again after the check, which were once left to the kernel (review).
  for (const char* how : {"fd", "path", "fd-acl", "fd-flip"}) {
    CAPTURE(how);
    TempDir native_dir, dir;
    auto native = run_native({attack_bin(), "xattr-swap", how, "300", native_dir.path().string()});
    REQUIRE(native.fact_number("on_memfd") > 0);  // control: natively the swap lands
    auto run = run_warden({"--max-bytes", "64M"},
                          {attack_bin(), "xattr-swap", how, "300", dir.path().string()});
    CHECK(run.exit_code == 0);
    CHECK(run.fact("on_memfd") == "0");
    CHECK(run.fact_number("on_file") > 0);
  }
}

}  // namespace warden::test
