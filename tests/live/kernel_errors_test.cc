// Live: for names and flags the kernel itself refuses, memfd-warden answers exactly what the
// kernel answers without it. Each case runs natively (control) and supervised and compares.
#include <doctest/doctest.h>

#include "tests/live/harness.h"

namespace warden::test {

TEST_CASE("EFAULT and EINVAL match the kernel's own answers") {
  struct Case {
    const char* kind;
    const char* flags;
    int expected;
  };
  // Flags are checked before the name, so a bad pointer with bad flags is EINVAL.
  const Case cases[] = {
      {"null", "0", EFAULT},     {"wild", "0", EFAULT},         {"edge", "0", EFAULT},
      {"edge-ok", "0", 0},       {"long", "0", EINVAL},         {"max", "0", 0},
      {"max", "0x100", EINVAL},  {"max", "0x18", EINVAL},  // unknown bit; EXEC with NOEXEC_SEAL
      {"null", "0x100", EINVAL}, {"max", "0x40000000", EINVAL},  // huge size bits w/o HUGETLB
      {"long", "0x18", EINVAL},
  };
  for (const auto& c : cases) {
    CAPTURE(c.kind);
    CAPTURE(c.flags);
    auto native = run_native({probe_bin(), "bad-pointer", c.kind, c.flags});
    auto warded = run_warden({}, {probe_bin(), "bad-pointer", c.kind, c.flags});
    CHECK(native.exit_code == c.expected);
    CHECK(warded.exit_code == native.exit_code);
    REQUIRE(warded.decisions.size() == 1);  // and it was the supervisor that answered
    CHECK(warded.decisions[0]["decision"] == (c.expected == 0 ? "allow" : "deny"));
  }
}

TEST_CASE("refusals for bad input say why in the audit") {
  auto fault = run_warden({}, {probe_bin(), "bad-pointer", "wild", "0"});
  CHECK(fault.decisions.at(0)["reason"] == "bad-name-pointer");
  CHECK(fault.decisions.at(0)["errno"] == "EFAULT");
  CHECK(fault.decisions.at(0)["name"].is_null());
  auto long_name = run_warden({}, {probe_bin(), "bad-pointer", "long", "0"});
  CHECK(long_name.decisions.at(0)["reason"] == "name-too-long");
  CHECK(long_name.decisions.at(0)["name"].is_null());  // not read whole
  auto flags = run_warden({}, {probe_bin(), "bad-pointer", "max", "0x100"});
  CHECK(flags.decisions.at(0)["reason"] == "invalid-flags");
  CHECK(flags.decisions.at(0)["name"].is_null());  // not read: the kernel checks flags first
  // A dry run lets through what the policy would refuse, not what the kernel refuses anyway.
  const struct {
    const char* kind;
    const char* flags;
    int error;
    const char* reason;
  } refused[] = {{"wild", "0", EFAULT, "bad-name-pointer"},
                 {"long", "0", EINVAL, "name-too-long"},
                 {"max", "0x100", EINVAL, "invalid-flags"}};
  for (const auto& c : refused) {
    CAPTURE(c.reason);
    auto dry = run_warden({"--dry-run"}, {probe_bin(), "bad-pointer", c.kind, c.flags});
    CHECK(dry.exit_code == c.error);
    CHECK(dry.decisions.at(0)["decision"] == "deny");
    CHECK(dry.decisions.at(0)["reason"] == c.reason);
  }
}

}  // namespace warden::test
