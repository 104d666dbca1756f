// Unit: decide() is a pure function; these tables pin its order of evaluation.
#include "policy/decide.h"

#include <doctest/doctest.h>

#include "policy/memfd_flags.h"
#include "policy/policy_parse.h"

namespace warden {
namespace {
Policy parse(const char* text) {
  auto policy = parse_policy(text, "t");
  REQUIRE_MESSAGE(policy.has_value(), (policy ? "" : policy.error().message()));
  return std::move(policy.value());
}
}  // namespace

TEST_CASE("first matching rule wins - the default applies when none match") {
  Policy policy = parse(R"(version = 1
default = "deny"
default_errno = 33
[[rule]]
name = "ok-*"
action = "allow"
[[rule]]
name = "ok-*"
action = "kill"
[[rule]]
name_regex = "bad"
action = "deny"
errno = "EACCES"
)");
  Verdict allowed = decide(policy, {"ok-1", 0, ""}, {});
  CHECK(allowed.action == Action::kAllow);
  CHECK(*allowed.rule_index == 0);
  Verdict regex = decide(policy, {"so-bad-name", 0, ""}, {});
  CHECK(regex.action == Action::kDeny);
  CHECK(regex.errno_value == EACCES);
  CHECK(*regex.rule_index == 2);
  Verdict fallback = decide(policy, {"other", 0, ""}, {});
  CHECK(fallback.action == Action::kDeny);
  CHECK(fallback.errno_value == 33);
  CHECK(fallback.reason == Reason::kDefault);
  CHECK_FALSE(fallback.rule_index.has_value());
}

TEST_CASE("flag conditions: any, all, none") {
  Policy policy = parse(R"(version = 1
exec = "allow"
[[rule]]
flags_any = ["MFD_EXEC", "MFD_HUGETLB"]
flags_all = ["MFD_CLOEXEC"]
flags_none = ["MFD_ALLOW_SEALING"]
action = "deny"
)");
  auto action = [&](uint32_t flags) { return decide(policy, {"n", flags, ""}, {}).action; };
  CHECK(action(kMfdExec | kMfdCloexec) == Action::kDeny);
  CHECK(action(kMfdHugetlb | kMfdCloexec) == Action::kDeny);
  CHECK(action(kMfdExec) == Action::kAllow);                                   // not all
  CHECK(action(kMfdCloexec) == Action::kAllow);                                // not any
  CHECK(action(kMfdExec | kMfdCloexec | kMfdAllowSealing) == Action::kAllow);  // a none
}

TEST_CASE("exe globs and names with arbitrary bytes") {
  Policy policy = parse(R"(version = 1
[[rule]]
exe = "/usr/bin/*"
name = "*\\**"
action = "deny"
)");
  CHECK(decide(policy, {"a*b", 0, "/usr/bin/python3"}, {}).action == Action::kDeny);
  CHECK(decide(policy, {"ab", 0, "/usr/bin/python3"}, {}).action == Action::kAllow);
  CHECK(decide(policy, {"a*b", 0, "/opt/python3"}, {}).action == Action::kAllow);
  // Unknown exe: a refusing rule applies (its other conditions still count), an admitting one not.
  CHECK(decide(policy, {"a*b", 0, ""}, {}).action == Action::kDeny);
  CHECK(decide(policy, {"ab", 0, ""}, {}).action == Action::kAllow);
  Policy admits = parse(R"(version = 1
default = "deny"
[[rule]]
exe = "/usr/bin/*"
action = "allow"
)");
  CHECK(decide(admits, {"a", 0, "/usr/bin/python3"}, {}).action == Action::kAllow);
  CHECK(decide(admits, {"a", 0, ""}, {}).action == Action::kDeny);
  Policy kills = parse("version = 1\n[[rule]]\nexe = \"/tmp/*\"\naction = \"kill\"\n");
  CHECK(decide(kills, {"a", 0, ""}, {}).action == Action::kKill);
  CHECK(decide(kills, {"a", 0, "/usr/bin/true"}, {}).action == Action::kAllow);
  Policy bytes = parse("version = 1\n[[rule]]\nname_regex = \"^\\\\xff.\"\naction = \"deny\"\n");
  std::string name("\xff\xfe", 2);
  CHECK(decide(bytes, {name, 0, ""}, {}).action == Action::kDeny);
}

TEST_CASE("quotas turn an allow into a deny with the quota errno, never a deny into anything") {
  Policy policy = parse(R"(version = 1
[quota]
max_calls = 10
max_live = 2
errno = "EDQUOT"
[[rule]]
name = "evil"
action = "deny"
)");
  CHECK(decide(policy, {"a", 0, ""}, {9, 1, 0, {}}).action == Action::kAllow);
  Verdict calls = decide(policy, {"a", 0, ""}, {10, 0, 0, {}});
  CHECK(calls.action == Action::kDeny);
  CHECK(calls.errno_value == EDQUOT);
  CHECK(calls.reason == Reason::kQuotaCalls);
  Verdict live = decide(policy, {"a", 0, ""}, {3, 2, 0, {}});
  CHECK(live.reason == Reason::kQuotaLive);
  Verdict rule = decide(policy, {"evil", 0, ""}, {10, 2, 0, {}});
  CHECK(rule.reason == Reason::kRule);
  CHECK(rule.errno_value == EPERM);
  Policy zero = parse("version = 1\n[quota]\nmax_live = 0\n");
  CHECK(decide(zero, {"a", 0, ""}, {0, 0, 0, {}}).reason == Reason::kQuotaLive);
}

}  // namespace warden
