// Unit: the seccomp profile that routes a policy's calls to the agent, printed alone or merged into
// a runtime's profile. The profiles are checked by evaluating them as a runtime's libseccomp
// would: for each call and argument value, which actions match.
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>
#include <set>
#include <string>

#include "policy/policy_parse.h"
#include "supervisor/agent/oci_profile.h"

namespace warden {
namespace {

using Json = nlohmann::json;

Policy policy_from(const std::string& text) {
  auto policy = parse_policy(text, "test.toml");
  REQUIRE(policy);
  return policy.value();
}

const std::string kExecAndBytes =
    "version = 1\nexec = \"deny\"\n[quota]\nmax_bytes = \"1M\"\n";

// The actions of every rule of `profile` that matches the call (the default when none does).
std::set<std::string> actions_for(const Json& profile, const std::string& name,
                                  const std::array<uint64_t, 6>& args) {
  std::set<std::string> actions;
  for (const auto& entry : profile["syscalls"]) {
    bool named = false;
    for (const auto& n : entry["names"]) named |= n == name;
    if (!named) continue;
    bool all = true;
    for (const auto& arg : entry.value("args", Json::array())) {
      uint64_t value = args[arg["index"].get<unsigned>()];
      std::string op = arg["op"];
      if (op == "SCMP_CMP_MASKED_EQ") {
        all &= (value & arg["value"].get<uint64_t>()) == arg.value("valueTwo", uint64_t{0});
      } else if (op == "SCMP_CMP_EQ") {
        all &= value == arg["value"].get<uint64_t>();
      } else {
        FAIL("the evaluator does not know " << op);
      }
    }
    if (all) actions.insert(entry["action"].get<std::string>());
  }
  if (actions.empty()) actions.insert(profile["defaultAction"].get<std::string>());
  return actions;
}

// Argument values that cross every bit the rules look at.
std::vector<std::array<uint64_t, 6>> sample_args() {
  const uint64_t values[] = {0, 1, 4, 5, 7, 0x20, 0x22, 0x8000, 0x400000, 0x400004,
                             0xffffffff, 8, 0x20000, 0x20008};
  std::vector<std::array<uint64_t, 6>> out;
  for (uint64_t a : values) {
    for (uint64_t b : {uint64_t{0}, uint64_t{0x20}, uint64_t{0x22}}) {
      out.push_back({a, 0, a, b, 0, 0});
    }
  }
  return out;
}

bool trapped_by_filter(const std::vector<FilterRule>& rules, const std::string& name,
                       const std::array<uint64_t, 6>& args, Abi abi) {
  for (const auto& rule : rules) {
    if (rule.kind != FilterRule::Kind::kTrap || rule.abi != abi || name != rule.name) continue;
    bool all = true;
    for (const auto& check : rule.when) all &= (args[check.arg] & check.mask) == check.value;
    if (all) return true;
  }
  return false;
}

// A runtime's default, shaped like the Docker/containerd one: refuse by default, allow a list
// (which has memfd_create, mmap and mprotect), personality for a few values only, and a
// capability-gated entry.
const char* const kRuntimeDefault = R"({
  "defaultAction": "SCMP_ACT_ERRNO",
  "defaultErrnoRet": 1,
  "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
  "syscalls": [
    {"names": ["read", "write", "memfd_create", "mmap", "mmap2", "mprotect", "execve",
               "execveat", "ftruncate", "fallocate", "truncate", "shmat"],
     "action": "SCMP_ACT_ALLOW"},
    {"names": ["personality"], "action": "SCMP_ACT_ALLOW",
     "args": [{"index": 0, "value": 0, "op": "SCMP_CMP_EQ"}]},
    {"names": ["personality"], "action": "SCMP_ACT_ALLOW",
     "args": [{"index": 0, "value": 8, "op": "SCMP_CMP_EQ"}]},
    {"names": ["personality"], "action": "SCMP_ACT_ALLOW",
     "args": [{"index": 0, "value": 4294967295, "op": "SCMP_CMP_EQ"}]},
    {"names": ["memfd_secret"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38},
    {"names": ["bpf"], "action": "SCMP_ACT_ALLOW", "includes": {"caps": ["CAP_SYS_ADMIN"]}}
  ]
})";

const std::vector<std::string> kCalls = {
    "memfd_create", "memfd_secret", "ftruncate", "fallocate", "truncate", "execve", "execveat",
    "mmap", "mmap2", "mprotect", "pkey_mprotect", "shmat", "personality", "io_uring_setup",
    "read", "write", "bpf"};

}  // namespace

TEST_CASE("oci-profile: it routes what the filter traps on any ABI, and nothing else") {
  for (const std::string& text :
       {std::string("version = 1\n"), kExecAndBytes,
        std::string("version = 1\nexec = \"allow\"\nio_uring = \"allow\"\n")}) {
    CAPTURE(text);
    auto rules = filter_rules(TrapAction::kUserNotify, traps_for(policy_from(text)));
    Profile profile = oci_profile(rules, {"/run/agent.sock", "policy=x"});
    Json json = Json::parse(profile.json);
    CHECK(json["defaultAction"] == "SCMP_ACT_ALLOW");
    CHECK(json["listenerPath"] == "/run/agent.sock");
    CHECK(json["listenerMetadata"] == "policy=x");
    CHECK(json["architectures"].size() == 3);
    for (const auto& name : kCalls) {
      for (const auto& args : sample_args()) {
        bool filter = false;
        for (Abi abi : {Abi::kX86_64, Abi::kI386, Abi::kX32}) {
          filter |= trapped_by_filter(rules, name, args, abi);
        }
        auto actions = actions_for(json, name, args);
        CAPTURE(name);
        CAPTURE(args[0]);
        CAPTURE(args[2]);
        CAPTURE(args[3]);
        // Routed exactly when the filter traps it on some ABI (a profile's rules hold for all).
        CHECK(actions ==
              std::set<std::string>{filter ? "SCMP_ACT_NOTIFY" : "SCMP_ACT_ALLOW"});
      }
    }
  }
}

TEST_CASE("oci-profile: a policy that needs writes routed cannot be had in a container") {
  auto ok = check_container_policy(policy_from(kExecAndBytes), "test.toml");
  CHECK(ok);
  auto refused = check_container_policy(
      policy_from("version = 1\n[quota]\nmax_bytes = \"1M\"\nstrict_writes = true\n"),
      "strict.toml");
  REQUIRE_FALSE(refused);
  CHECK(refused.error().message().find("strict.toml:4:17: quota.strict_writes") == 0);
  CHECK(refused.error().message().find("runc refuses SCMP_ACT_NOTIFY on write") !=
        std::string::npos);
}

TEST_CASE("oci-profile --merge: routes what the profile allowed, keeps every refusal") {
  auto rules = filter_rules(TrapAction::kUserNotify, traps_for(policy_from(kExecAndBytes)));
  auto merged = merge_oci_profile(kRuntimeDefault, "default.json", rules, {"/run/a.sock", ""});
  REQUIRE(merged);
  Json before = Json::parse(kRuntimeDefault), after = Json::parse(merged->json);
  CHECK(after["listenerPath"] == "/run/a.sock");
  CHECK_FALSE(after.contains("listenerMetadata"));
  CHECK(after["defaultErrnoRet"] == 1);  // fields it does not know are kept
  for (const auto& name : kCalls) {
    for (const auto& args : sample_args()) {
      CAPTURE(name);
      CAPTURE(args[0]);
      CAPTURE(args[2]);
      CAPTURE(args[3]);
      auto was = actions_for(before, name, args), is = actions_for(after, name, args);
      REQUIRE(was.size() == 1);
      REQUIRE(is.size() == 1);  // never two actions for one call: no libseccomp precedence
      bool routed = false;
      for (Abi abi : {Abi::kX86_64, Abi::kI386, Abi::kX32}) {
        routed |= trapped_by_filter(rules, name, args, abi);
      }
      if (*was.begin() != "SCMP_ACT_ALLOW") {
        CHECK(is == was);  // refused before: refused the same way, never routed
      } else if (routed) {
        CHECK(*is.begin() == "SCMP_ACT_NOTIFY");
      } else {
        CHECK(*is.begin() == "SCMP_ACT_ALLOW");
      }
    }
  }
  // The refusals it kept are named.
  bool secret = false;
  for (const auto& note : merged->notes) secret |= note.find("memfd_secret stays refused") == 0;
  CHECK(secret);
}

TEST_CASE("oci-profile --merge: what it cannot merge safely is refused, naming the call") {
  auto rules = filter_rules(TrapAction::kUserNotify, traps_for(policy_from(kExecAndBytes)));
  auto refused = [&](const std::string& profile, const std::string& expected) {
    auto merged = merge_oci_profile(profile, "p.json", rules, {"/s", ""});
    REQUIRE_FALSE(merged);
    CHECK(merged.error().message().find(expected) != std::string::npos);
  };
  refused("{not json", "p.json: not JSON");
  refused(R"({"defaultAction":"SCMP_ACT_ALLOW","listenerPath":"/other"})", "already names a listener");
  refused(R"({"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["getpid"],
            "action":"SCMP_ACT_NOTIFY"}]})", "already routes calls to a listener");
  refused(R"({"defaultAction":"SCMP_ACT_TRACE"})", "defaultAction SCMP_ACT_TRACE");
  refused(R"({"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["mmap"],
            "action":"SCMP_ACT_ALLOW","includes":{"caps":["CAP_SYS_ADMIN"]}}]})",
          "decides mmap by includes/excludes");
  refused(R"({"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["personality"],
            "action":"SCMP_ACT_ALLOW","args":[{"index":0,"value":8,"valueTwo":8,
            "op":"SCMP_CMP_MASKED_EQ"}]}]})",
          "decides personality by arguments the merge cannot hold");
  // Comparisons that are not objects (found by fuzz_notification: the merge read a string as an
  // object's members).
  for (const char* arg : {R"("SCMP_CMP_EQ")", "7", "null", "[]", R"(["op","index"])"}) {
    CAPTURE(arg);
    refused(std::string(R"({"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["personality"],
            "action":"SCMP_ACT_ALLOW","args":[)") + arg + "]}]}",
            "decides personality by arguments the merge cannot hold");
  }
  refused(R"({"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mprotect"],
            "action":"SCMP_ACT_ERRNO","args":[{"index":2,"value":4,"op":"SCMP_CMP_EQ"}]}]})",
          "decides mprotect by its arguments under an allowing defaultAction");
  refused(R"({"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["execve"],
            "action":"SCMP_ACT_TRACE"}]})", "gives execve the action SCMP_ACT_TRACE");
}

}  // namespace warden
