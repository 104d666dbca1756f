// Live: a memfd the supervisor created and installed must be indistinguishable from one the
// target made itself. Each case runs the same probe with and without memfd-warden and compares
// every observable fact.
#include <doctest/doctest.h>

#include "tests/live/harness.h"

namespace warden::test {

namespace {
// Fidelity is measured where memfd-warden changes nothing on purpose: exec = "allow" (the
// default seals memfds against execution; fileless_test.cc covers that).
std::string exec_allowed(const TempDir& dir) {
  return dir.write("policy.toml", "version = 1\nexec = \"allow\"\n");
}
}  // namespace

TEST_CASE("an allowed memfd matches the kernel's own, flag combination by flag combination") {
  TempDir dir;
  auto policy = exec_allowed(dir);
  // flags: 0, CLOEXEC, ALLOW_SEALING, CLOEXEC|ALLOW_SEALING, NOEXEC_SEAL, NOEXEC_SEAL|CLOEXEC
  for (const char* flags : {"0", "1", "2", "3", "8", "9"}) {
    CAPTURE(flags);
    auto native = run_native({probe_bin(), "create", "same-name", flags});
    auto warded = run_warden({"--policy", policy}, {probe_bin(), "create", "same-name", flags});
    REQUIRE(native.exit_code == 0);
    REQUIRE(warded.exit_code == 0);
    for (const char* fact : {"fd", "link", "seals", "cloexec", "mode", "uid", "gid", "size",
                             "accmode", "rw", "mmap", "fork_shared"}) {
      CAPTURE(fact);
      CHECK(warded.fact(fact) == native.fact(fact));
    }
  }
}

TEST_CASE("seals: F_SEAL_SEAL without MFD_ALLOW_SEALING, none with it") {
  TempDir dir;
  auto policy = exec_allowed(dir);
  constexpr int kSealSeal = 0x1;
  auto sealed = run_warden({"--policy", policy}, {probe_bin(), "create", "s", "0"});
  CHECK(sealed.fact_number("seals") == kSealSeal);
  auto sealable = run_warden({"--policy", policy}, {probe_bin(), "create", "s", "2"});
  CHECK(sealable.fact_number("seals") == 0);
}

TEST_CASE("O_CLOEXEC on the installed fd exactly when MFD_CLOEXEC was asked") {
  CHECK(run_warden({}, {probe_bin(), "create", "c", "1"}).fact("cloexec") == "1");
  CHECK(run_warden({}, {probe_bin(), "create", "c", "0"}).fact("cloexec") == "0");
}

TEST_CASE("the memfd works: read, write, mmap, and a forked child shares it") {
  auto run = run_warden({}, {probe_bin(), "create", "shared", "0"});
  CHECK(run.fact("rw") == "1");
  CHECK(run.fact("mmap") == "1");
  CHECK(run.fact("fork_shared") == "1");
  auto sample = run_warden({}, {sample_bin("shm_cache")});
  CHECK(sample.exit_code == 0);
  CHECK(sample.count("allow") == 1);
}

TEST_CASE("names with every printable oddity survive byte for byte") {
  // "a b\"c\\d'e" and a 249-byte name: the /proc link carries the exact name.
  auto run = run_warden({}, {probe_bin(), "create", "a b\"c\\d'e", "0"});
  CHECK(run.fact("link") == "/memfd:a b\"c\\d'e (deleted)");
  std::string longest(249, 'z');
  auto max = run_warden({}, {probe_bin(), "create", longest, "0"});
  CHECK(max.fact("link") == "/memfd:" + longest + " (deleted)");
}

}  // namespace warden::test

namespace warden::test {

TEST_CASE("a target running as another user gets a memfd owned by its own uid and gid") {
  // memfd-warden runs as root here; the memfd it creates must not be root's.
  const Args as_nobody{"setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--"};
  Args command = as_nobody;
  for (const char* part : {"create", "owned", "0"}) command.push_back(part);
  command.insert(command.begin() + static_cast<long>(as_nobody.size()), probe_bin());
  TempDir dir;
  auto native = run_native(command);
  auto warded = run_warden({"--policy", exec_allowed(dir)}, command);
  REQUIRE(native.exit_code == 0);
  REQUIRE(warded.exit_code == 0);
  CHECK(native.fact("uid") == "65534");
  CHECK(warded.fact("uid") == native.fact("uid"));
  CHECK(warded.fact("gid") == native.fact("gid"));
  CHECK(warded.fact("mode") == native.fact("mode"));
  CHECK(warded.fact("rw") == "1");
}

TEST_CASE("MFD_HUGETLB fails or succeeds exactly as it does without the supervisor") {
  // Whether hugetlbfs has pages here decides the kernel's answer; ours must be the same one.
  auto native = run_native({probe_bin(), "create", "huge", "0x4"});
  auto warded = run_warden({}, {probe_bin(), "create", "huge", "0x4"});
  CHECK(warded.exit_code == native.exit_code);
  CHECK(warded.fact("link") == native.fact("link"));
  REQUIRE(warded.decisions.size() == 1);
  if (native.exit_code != 0) CHECK(warded.decisions[0]["reason"] == "kernel-refused");
}

}  // namespace warden::test
