// Live: a tree that confines itself with Landlock under a byte limit. memfd-warden carries out
// truncate(PATH), setxattr and lsetxattr itself, and is in none of the tree's Landlock domains, so
// once a task in the tree has asked for one it carries out no call by path: such a call fails
// with EACCES, audited (reason "landlock"), for every task of the tree, since which tasks are in
// a domain cannot be read from outside (supervisor/calls/landlock_call.h).
#include <doctest/doctest.h>

#include <map>
#include <optional>
#include <string>

#include "tests/live/harness.h"

namespace warden::test {
namespace {

// The probe's cases on a file of six bytes in a directory of its own.
RunResult landlock_cases(const Args* warden_args) {
  TempDir dir;
  Args command{probe_bin(), "landlock", dir.write("file", "hello\n")};
  return warden_args ? run_warden(*warden_args, command) : run_native(command);
}

const std::string kEacces = std::to_string(EACCES);

// The native run, the control; nullopt (with a message) where the kernel has no Landlock.
std::optional<RunResult> native_cases() {
  auto native = landlock_cases(nullptr);
  REQUIRE(native.exit_code == 0);
  if (native.fact("landlock") == "0") return native;
  MESSAGE("skipped: no Landlock here (landlock_restrict_self: " << native.fact("landlock") << ")");
  return std::nullopt;
}

}  // namespace

TEST_CASE(
    "with a byte limit, a tree that asks for a Landlock domain gets no call carried out by path") {
  auto control = native_cases();
  if (!control) return;
  const RunResult& native = *control;
  // Control: Landlock refuses the truncation by path, and every reach into the parent's /proc
  // entries; the rest succeeds (Landlock has no right over attributes, nor over an fd opened
  // before), or fails in the lookup.
  REQUIRE(native.fact("in_truncate") == kEacces);
  REQUIRE(native.fact("in_other_fd") == kEacces);
  REQUIRE(native.fact("in_other_missing") == kEacces);
  REQUIRE(native.fact("in_other_memfd") == kEacces);
  REQUIRE(native.fact("in_truncate_missing") == std::to_string(ENOENT));
  REQUIRE(native.fact("in_truncate_memfd") == "0");
  REQUIRE(native.fact("in_setxattr") == "0");
  REQUIRE(native.fact("out_truncate") == "0");
  REQUIRE(native.fact("size") == "13");

  Args limited_args{"--max-bytes", "64M"};
  auto limited = landlock_cases(&limited_args);
  CHECK(limited.exit_code == 0);
  auto expected = native.facts;
  // Refused with Landlock's own answer, before any lookup: what Landlock refuses (memfd-warden
  // carried in_truncate out before, and its lookups answered ENOENT for in_other_missing and
  // EOPNOTSUPP for in_other_memfd, which Landlock hides), and, failing closed, the calls by path
  // that Landlock would let through or the lookup fail, the parent's too. Calls on an fd go on as
  // natively.
  for (const char* key :
       {"in_truncate_missing", "in_truncate_memfd", "in_setxattr", "out_truncate"}) {
    expected[key] = kEacces;
  }
  expected["size"] = "11";  // the ftruncate of the early fd only
  check_facts(limited, expected);
  const Json* restrict_record = limited.record_of("landlock_restrict_self");
  REQUIRE(restrict_record != nullptr);
  CHECK((*restrict_record)["decision"] == "allow");
  CHECK((*restrict_record)["reason"] == "landlock");
  CHECK((*restrict_record)["comm"] == "warden_probe");
  std::map<std::string, int> refused;  // syscall and path, the caller's words
  for (const auto& record : limited.decisions) {
    // The probe's memfd, allowed; and the domain.
    if (record["syscall"] == "memfd_create" || record["syscall"] == "landlock_restrict_self") {
      continue;
    }
    CHECK(record["reason"] == "landlock");
    CHECK(record["decision"] == "deny");
    CHECK(record["errno"] == "EACCES");
    CHECK(record["comm"] == "warden_probe");
    std::string path = record["path"];
    ++refused[std::string(record["syscall"]) + " " +
              (path.starts_with("/proc/") ? "proc" : "file")];
  }
  // in_truncate, in_truncate_missing, out_truncate; in_other_fd, in_other_missing,
  // in_truncate_memfd; in_setxattr; in_other_memfd.
  CHECK(refused == std::map<std::string, int>{{"truncate file", 3},
                                              {"truncate proc", 3},
                                              {"setxattr file", 1},
                                              {"setxattr proc", 1}});
}

TEST_CASE("a Landlock domain is left to the kernel without a byte limit, and in a dry run") {
  auto control = native_cases();
  if (!control) return;
  const RunResult& native = *control;
  // No byte limit: nothing is carried out, nor landlock_restrict_self trapped.
  Args no_args;
  auto unlimited = landlock_cases(&no_args);
  CHECK(unlimited.exit_code == 0);
  check_facts(unlimited, native.facts);
  REQUIRE(unlimited.decisions.size() == 1);  // the probe's memfd
  CHECK(unlimited.decisions[0]["syscall"] == "memfd_create");
  // A dry run records what it would refuse and lets the kernel judge it in the caller's domain.
  Args dry_args{"--dry-run", "--max-bytes", "64M"};
  auto dry = landlock_cases(&dry_args);
  CHECK(dry.exit_code == 0);
  check_facts(dry, native.facts);
  CHECK(dry.count("would-deny") == 8);
  CHECK(dry.count("deny") == 0);
  CHECK(dry.record_of("landlock_restrict_self") != nullptr);
}

}  // namespace warden::test
