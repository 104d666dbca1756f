// Unit: `memfd-warden suggest`'s policy from observations: names generalised only where that is
// safe, the policy parses, and decide() admits every create the runs made and nothing new.
#include "policy/suggest.h"

#include <doctest/doctest.h>

#include <string>

#include "policy/decide.h"
#include "policy/policy_parse.h"
#include "policy/printable.h"

namespace warden {
namespace {

Policy parsed(const std::string& text) {
  auto policy = parse_policy(text, "suggested.toml");
  INFO(text);
  REQUIRE(policy);
  return policy.value();
}

Action decided(const Policy& policy, const std::string& exe, const std::string& name,
               uint32_t flags = 1, CreateCall call = CreateCall::kMemfdCreate) {
  std::vector<RuleUsage> usage(policy.rules.size());  // outlives the span that views it
  QuotaState quota{0, 0, 0, usage};
  return decide(policy, {name, flags, exe, call}, quota).action;
}

}  // namespace

TEST_CASE("suggest: names that differ in numbers or random parts become one glob, where safe") {
  CHECK(generalized_name("cache-101") == std::optional<std::string>("cache-*"));
  CHECK(generalized_name("shm-x9F3kQ2-pool") == std::optional<std::string>("shm-*-pool"));
  CHECK(generalized_name("v8-heap-7-3") == std::optional<std::string>("v*-heap-*-*"));
  CHECK(generalized_name("jit[1]*") == std::optional<std::string>("jit\\[*\\]\\*"));
  CHECK(generalized_name("session") == std::optional<std::string>("session"));
  CHECK_FALSE(generalized_name("12345"));  // would be "*": everything
  CHECK_FALSE(generalized_name("a1"));     // one literal byte left
  CHECK(literal_glob("a*b?[c]\\") == "a\\*b\\?\\[c\\]\\\\");
}

TEST_CASE("suggest: runs that did not count live memfds suggest no max_live, and say why") {
  Observations seen;
  seen.creates.push_back({"/usr/bin/app", "cache", 1, CreateCall::kMemfdCreate, false});
  std::string text = suggest_policy(seen, {});
  CAPTURE(text);
  CHECK_FALSE(parsed(text).quota.max_live);
  CHECK(text.find("No live counts were recorded") != std::string::npos);
  CHECK(text.find("--count-live") != std::string::npos);
}

TEST_CASE("suggest: the policy admits what the runs made, and nothing new") {
  Observations seen;
  for (const char* name : {"cache-101", "cache-202", "cache-303"}) {
    seen.creates.push_back({"/usr/bin/app", name, 1, CreateCall::kMemfdCreate, false});
  }
  seen.creates.push_back({"/usr/bin/app", "session", 3, CreateCall::kMemfdCreate, false});
  seen.creates.push_back({"/usr/bin/jit", "code", 0x10, CreateCall::kMemfdCreate, false});
  seen.creates.push_back({"/usr/bin/app", "secret", 0, CreateCall::kMemfdSecret, false});
  seen.creates.push_back({"/usr/bin/app", "evil", 1, CreateCall::kMemfdCreate, true});
  seen.exec_attempts.insert({"/usr/bin/jit", "code"});
  seen.peak_live = 8;
  seen.peak_bytes = 1000;
  seen.peak_memfd_bytes = 400;
  std::string text = suggest_policy(seen, {});
  Policy policy = parsed(text);
  CAPTURE(text);
  CHECK(policy.default_action == Action::kDeny);
  CHECK(policy.quota.max_live == std::optional<uint64_t>(10));    // 8 + 25%
  CHECK(policy.quota.max_bytes == std::optional<uint64_t>(1250));
  CHECK(policy.quota.max_memfd_bytes == std::optional<uint64_t>(500));
  // Everything the runs made passes...
  for (const auto& create : seen.creates) {
    if (create.refused) continue;
    CAPTURE(create.name);
    CHECK(decided(policy, create.exe, create.name, create.flags, create.call) == Action::kAllow);
  }
  CHECK(decided(policy, "/usr/bin/app", "cache-999") == Action::kAllow);  // the glob
  // ... and nothing new: another name, another program, flags never seen, what was refused.
  CHECK(decided(policy, "/usr/bin/app", "other") == Action::kDeny);
  CHECK(decided(policy, "/usr/bin/other", "cache-1") == Action::kDeny);
  CHECK(decided(policy, "/usr/bin/app", "cache-1", 1 | 0x10) == Action::kDeny);  // MFD_EXEC
  CHECK(decided(policy, "/usr/bin/app", "session-2", 3) == Action::kDeny);  // one name: literal
  CHECK(decided(policy, "/usr/bin/app", "evil") == Action::kDeny);
  CHECK(decided(policy, "/usr/bin/jit", "", 0, CreateCall::kMemfdSecret) == Action::kDeny);
  CHECK(text.find("Refused in the recorded runs") != std::string::npos);
  // Exec only where it was seen.
  for (const auto& rule : policy.rules) {
    bool jit = rule.exe_glob == std::optional<std::string>("/usr/bin/jit");
    CHECK(rule.exec_allowed.value_or(false) == jit);
  }
  SuggestOptions lenient;
  lenient.default_action = Action::kAllow;
  lenient.headroom_percent = 100;
  Policy open = parsed(suggest_policy(seen, lenient));
  CHECK(open.default_action == Action::kAllow);
  CHECK(open.quota.max_live == std::optional<uint64_t>(16));
}

TEST_CASE("suggest: creates recorded without their executable get rules for any, and it says why") {
  Observations seen;
  ObservedCreate unnamed{"", "cache-1", 1, CreateCall::kMemfdCreate, false, false};
  seen.creates.push_back(unnamed);
  unnamed.name = "cache-22";
  seen.creates.push_back(unnamed);
  seen.creates.push_back({"", "", 0, CreateCall::kMemfdSecret, false, false});
  seen.creates.push_back({"/usr/bin/app", "session", 1, CreateCall::kMemfdCreate, false});
  std::string text = suggest_policy(seen, {});
  CAPTURE(text);
  Policy policy = parsed(text);
  CHECK(text.find("--record-exe") != std::string::npos);
  CHECK(text.find("exe = ''") == std::string::npos);  // never a rule for an empty path
  // Any executable may make what an unnamed caller made; the named caller's rule stays its own.
  CHECK(decided(policy, "/usr/bin/other", "cache-7") == Action::kAllow);
  CHECK(decided(policy, "/usr/bin/other", "", 0, CreateCall::kMemfdSecret) == Action::kAllow);
  CHECK(decided(policy, "/usr/bin/app", "session") == Action::kAllow);
  CHECK(decided(policy, "/usr/bin/other", "session") == Action::kDeny);
  CHECK(decided(policy, "/usr/bin/other", "other") == Action::kDeny);
  // A memfd of an unnamed caller that was run from memory (the exec's record names its program,
  // the create's does not): its rule still allows exec.
  Observations ran;
  ran.creates.push_back({"", "jit-code", 1, CreateCall::kMemfdCreate, false, false});
  ran.exec_attempts.insert({"/usr/bin/jit", "jit-code"});
  Policy jit = parsed(suggest_policy(ran, {}));
  REQUIRE(jit.rules.size() == 1);
  CHECK(jit.rules[0].exec_allowed == std::optional<bool>(true));
  // Every executable recorded: no such note.
  Observations named;
  named.creates.push_back({"/usr/bin/app", "session", 1, CreateCall::kMemfdCreate, false});
  CHECK(suggest_policy(named, {}).find("--record-exe") == std::string::npos);
}

TEST_CASE("suggest: hostile names and programs come out as valid TOML that matches them exactly") {
  Observations seen;
  std::string hostile = std::string("q\"uo\\te\n\x01*?[x]\xff\xfe", 15);
  seen.creates.push_back({"/tmp/we\"ird\xff/bin", hostile, 1, CreateCall::kMemfdCreate, false});
  std::string text = suggest_policy(seen, {});
  Policy policy = parsed(text);
  CAPTURE(text);
  CHECK(decided(policy, "/tmp/we\"ird\xff/bin", hostile) == Action::kAllow);
  CHECK(decided(policy, "/tmp/we\"ird\xff/bin", "q") == Action::kDeny);
  // Bytes that only look like UTF-8 (an overlong NUL, a surrogate, past U+10FFFF, cut short) are
  // not: as text, TOML would read them back as other characters, and the run's own name would be
  // refused (a review found "ov\xc0\x80" written as "ov\u00C0\u0080").
  for (std::string name : {std::string("ov\xc0\x80", 4), std::string("su\xed\xa0\x80"),
                           std::string("hi\xf4\x90\x80\x80"), std::string("ct\xe2\x82"),
                           std::string("ok\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\xf4\x8f\xbf\xbf")}) {
    CAPTURE(printable(name));
    Observations one;
    one.creates.push_back({"/usr/bin/app", name, 1, CreateCall::kMemfdCreate, false});
    Policy own = parsed(suggest_policy(one, {}));
    CHECK(decided(own, "/usr/bin/app", name) == Action::kAllow);
  }
  // No byte figures: the policy says how to get them instead of guessing.
  CHECK(text.find("--max-bytes 1T") != std::string::npos);
  CHECK_FALSE(policy.quota.max_bytes);
}

}  // namespace warden
