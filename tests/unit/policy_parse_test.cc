// Unit: the policy parser, table-driven, no processes.
#include "policy/policy_parse.h"

#include <doctest/doctest.h>

#include "policy/default_policy.h"
#include "policy/memfd_flags.h"
#include "policy/policy_print.h"

namespace warden {

TEST_CASE("a full policy parses into the data it says") {
  auto policy = parse_policy(R"(version = 1
default = "deny"
default_errno = "EDOM"
[quota]
max_calls = 100000
max_live = 256
errno = "EDQUOT"
[[rule]]
id = "no-evil"
name = "evil*"
flags_any = ["MFD_EXEC"]
flags_all = ["MFD_CLOEXEC"]
flags_none = ["MFD_HUGETLB"]
exe = "/usr/bin/*"
action = "deny"
errno = "EACCES"
[[rule]]
name_regex = "^jit-[0-9]+$"
action = "kill"
)",
                             "p.toml");
  REQUIRE_MESSAGE(policy.has_value(), (policy ? "" : policy.error().message()));
  CHECK(policy->default_action == Action::kDeny);
  CHECK(policy->default_errno == EDOM);
  CHECK(*policy->quota.max_calls == 100000);
  CHECK(*policy->quota.max_live == 256);
  CHECK(policy->quota.errno_value == EDQUOT);
  REQUIRE(policy->rules.size() == 2);
  const Rule& first = policy->rules[0];
  CHECK(first.id == "no-evil");
  CHECK(*first.name_glob == "evil*");
  CHECK(first.flags_any == kMfdExec);
  CHECK(first.flags_all == kMfdCloexec);
  CHECK(first.flags_none == kMfdHugetlb);
  CHECK(*first.exe_glob == "/usr/bin/*");
  CHECK(first.errno_value == EACCES);
  CHECK(policy->rules[1].action == Action::kKill);
  CHECK(policy->rules[1].name_regex != nullptr);
}

TEST_CASE("defaults: allow, EPERM for deny, EMFILE for quotas, no limits") {
  auto policy = parse_policy("version = 1\n[[rule]]\naction = \"deny\"\n", "p");
  REQUIRE(policy.has_value());
  CHECK(policy->fuse_exec_allowed);
  auto fuse = parse_policy("version = 1\nfuse_exec = \"deny\"\n", "p");
  REQUIRE(fuse.has_value());
  CHECK_FALSE(fuse->fuse_exec_allowed);
  CHECK(policy->default_action == Action::kAllow);
  CHECK(policy->rules[0].errno_value == EPERM);
  CHECK(policy->quota.errno_value == EMFILE);
  CHECK_FALSE(policy->quota.max_calls.has_value());
  CHECK_FALSE(policy->quota.max_live.has_value());
}

TEST_CASE("every class of mistake is refused with file:line:column") {
  struct Case {
    const char* text;
    const char* expected;  // the start of the message
  };
  const Case cases[] = {
      {"version = 1\nbogus = 1\n", "p.toml:2:1: unknown key 'bogus' in the top level"},
      {"version = 1\n[quota]\nmax_megabytes = 1\n",
       "p.toml:3:1: unknown key 'max_megabytes' in [quota]"},
      {"version = 1\n[[rule]]\nnme = \"x\"\naction = \"deny\"\n", "p.toml:3:1: unknown key 'nme'"},
      {"version = 1\n[quota]\nmax_calls = -1\n", "p.toml:3:13: quota.max_calls must not be"},
      {"version = 1\n[quota]\nmax_calls = 1.5\n",
       "p.toml:3:13: quota.max_calls must be an integer"},
      {"version = 1\nquota = 3\n", "p.toml:2:9: quota must be a table"},
      {"version = 1\nrule = 3\n", "p.toml:2:8: rule must be an array of tables"},
      {"version = 1\n[[rule]]\nname = 5\naction = \"deny\"\n", "p.toml:3:8: rule 1: name must be"},
      {"version = 1\n[[rule]]\nname = \"a\\\\\"\naction = \"deny\"\n",
       "p.toml:3:8: rule 1: name: bad glob: ends with a lone backslash"},
      {"version = 1\n[[rule]]\nexe = \"[x\"\naction = \"deny\"\n",
       "p.toml:3:7: rule 1: exe: bad glob: unterminated '['"},
      {"version = 1\n[[rule]]\nname_regex = \"a(\"\naction = \"deny\"\n",
       "p.toml:3:14: rule 1: name_regex: bad regex"},
      {"version = 1\n[[rule]]\nname = \"a\"\nname_regex = \"a\"\naction = \"deny\"\n",
       "p.toml:4:14: rule 1: use either name or name_regex"},
      {"version = 1\n[[rule]]\nflags_all = \"MFD_EXEC\"\naction = \"deny\"\n",
       "p.toml:3:13: rule 1: flags_all must be an array"},
      {"version = 1\n[[rule]]\nflags_none = [\"MFD_NOPE\"]\naction = \"deny\"\n",
       "p.toml:3:15: rule 1: flags_none: unknown flag \"MFD_NOPE\""},
      {"version = 1\n[[rule]]\nflags_any = []\naction = \"deny\"\n",
       "p.toml:3:13: rule 1: flags_any = [] matches no call"},
      {"version = 1\n[[rule]]\naction = \"deny\"\nerrno = \"EWHAT\"\n",
       "p.toml:4:9: rule 1: errno: unknown errno"},
      {"version = 1\n[[rule]]\naction = \"deny\"\nerrno = 0\n",
       "p.toml:4:9: rule 1: errno: unknown"},
      {"version = 1\n[[rule]]\naction = \"allow\"\nerrno = \"EPERM\"\n",
       "p.toml:4:9: rule 1: errno only applies"},
      {"version = 1\n[[rule]]\naction = \"kill\"\nerrno = \"EPERM\"\n",
       "p.toml:4:9: rule 1: errno only applies"},
      {"version = 1\n[[rule]]\naction = \"deny\"\nmax_bytes = 5\n",
       "p.toml:4:13: rule 1: max_bytes limits the memfds a rule admits, so it needs action"},
      {"version = 1\n[[rule]]\naction = \"kill\"\nmax_live = 5\n",
       "p.toml:4:12: rule 1: max_live limits the memfds a rule admits, so it needs action"},
      {"version = 1\n[[rule]]\naction = \"deny\"\nexec = \"allow\"\n",
       "p.toml:4:8: rule 1: exec says whether the memfds a rule admits may run"},
      {"version = 1\n[[rule]]\nsyscall = \"memfd_secret\"\nname = \"x\"\naction = \"deny\"\n",
       "p.toml:4:8: rule 1: memfd_secret takes no name and no MFD_ flags, so 'name'"},
      {"version = 1\n[[rule]]\nsyscall = \"memfd_secret\"\nflags_any = [\"MFD_EXEC\"]\n"
       "action = \"deny\"\n",
       "p.toml:4:13: rule 1: memfd_secret takes no name and no MFD_ flags, so 'flags_any'"},
      {"version = 1\n[[rule]]\nsyscall = \"memfd_x\"\naction = \"deny\"\n",
       "p.toml:3:11: rule 1: syscall must be"},
      {"version = 1\n[[rule]]\nid = \"x\"\n", "p.toml:2:1: rule 1: missing action"},
      {"version = 1\n[[rule]]\naction = 1\n", "p.toml:3:10: rule 1: action must be a string"},
      {"version = 1\ndefault = \"maybe\"\n", "p.toml:2:11: default must be \"allow\""},
      {"version = 1\ndefault_errno = \"EDOM\"\n", "p.toml:2:17: default_errno only applies"},
      {"version = 1\nexec = \"allow\"\nfuse_exec = \"deny\"\n",
       "p.toml:3:13: fuse_exec = \"deny\" needs exec = \"deny\""},
      {"version = 1\nfuse_exec = \"maybe\"\n", "p.toml:2:13: fuse_exec must be \"allow\" or"},
      {"version = \"1\"\n", "p.toml:1:11: unsupported policy version"},
      {"", "p.toml:1:1: missing 'version = 1'"},
      {"version = 1\n[[rule]]\naction = \"deny\"\n[[rule]]\naction = \"kil\"\n",
       "p.toml:5:10: rule 2: action must be"},
      {"version = = 1\n", "p.toml:1:"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.text);
    auto policy = parse_policy(c.text, "p.toml");
    REQUIRE_FALSE(policy.has_value());
    CHECK(policy.error().message().rfind(c.expected, 0) == 0);
    CHECK(policy.error().message().size() > std::string(c.expected).size() - 1);
  }
}

TEST_CASE("errno accepts names and numbers") {
  auto by_number = parse_policy("version = 1\n[[rule]]\naction = \"deny\"\nerrno = 13\n", "p");
  REQUIRE(by_number.has_value());
  CHECK(by_number->rules[0].errno_value == EACCES);
  auto string_number =
      parse_policy("version = 1\n[[rule]]\naction = \"deny\"\nerrno = \"28\"\n", "p");
  REQUIRE(string_number.has_value());
  CHECK(string_number->rules[0].errno_value == ENOSPC);
}

TEST_CASE("the embedded default parses and refuses MFD_EXEC with EACCES") {
  auto policy = parse_policy(default_policy_text(), "<default policy>");
  REQUIRE(policy.has_value());
  CHECK(policy->default_action == Action::kAllow);
  REQUIRE(policy->rules.size() == 1);
  CHECK(policy->rules[0].flags_any == kMfdExec);
  CHECK(policy->rules[0].action == Action::kDeny);
  CHECK(policy->rules[0].errno_value == EACCES);
}

TEST_CASE("format_policy output parses back to the same normalized text") {
  auto policy = parse_policy(R"(version = 1
default = "deny"
[quota]
max_live = 3
[[rule]]
id = "quote \" and \\ backslash"
name_regex = "^a\\d+$"
flags_none = ["MFD_ALLOW_SEALING", "MFD_CLOEXEC"]
action = "allow"
)",
                             "p");
  REQUIRE(policy.has_value());
  std::string text = format_policy(*policy);
  auto again = parse_policy(text, "normalized");
  REQUIRE_MESSAGE(again.has_value(), text);
  CHECK(format_policy(*again) == text);
  CHECK(again->rules[0].id == "quote \" and \\ backslash");
}

TEST_CASE("rules from --allow/--deny validate their glob") {
  auto good = rule_from_glob_option(Action::kDeny, "evil*", "--deny");
  REQUIRE(good.has_value());
  CHECK(good->errno_value == EPERM);
  auto bad = rule_from_glob_option(Action::kAllow, "[x", "--allow");
  REQUIRE_FALSE(bad.has_value());
  CHECK(bad.error().message().find("--allow '[x': bad glob") == 0);
}

}  // namespace warden
