// Live: each kind of rule decides a real memfd_create in a real child. The probe exits with the
// errno it saw; deny rules use sentinel errnos memfd_create never returns by itself, and every
// test has a control (the same call allowed, or run without the supervisor).
#include <doctest/doctest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <string>

#include "tests/live/harness.h"

namespace warden::test {
namespace {

constexpr const char* kNoFlags = "0";

std::string policy_file(const TempDir& dir, const std::string& rules,
                        const std::string& head = "version = 1\n") {
  return dir.write("policy.toml", head + rules);
}

}  // namespace

TEST_CASE("allow: a name the policy allows becomes a memfd, and the audit says so") {
  TempDir dir;
  auto policy = policy_file(dir,
                            "default = \"deny\"\n[[rule]]\nid = \"cache\"\nname = \"cache-*\"\n"
                            "action = \"allow\"\n");
  auto run = run_warden({"--policy", policy}, {probe_bin(), "create", "cache-1", kNoFlags});
  CHECK(run.exit_code == 0);
  CHECK(run.fact("link") == "/memfd:cache-1 (deleted)");
  REQUIRE(run.decisions.size() == 1);
  CHECK(run.decisions[0]["decision"] == "allow");
  CHECK(run.decisions[0]["rule"]["id"] == "cache");
  CHECK(run.decisions[0]["fd"] == run.fact_number("fd"));
  // Control: the same name outside the rule falls to the default deny.
  auto denied = run_warden({"--policy", policy}, {probe_bin(), "create", "other", kNoFlags});
  CHECK(denied.exit_code == EPERM);
  CHECK(denied.decisions.at(0)["reason"] == "default");
}

TEST_CASE("deny by glob fails the call with the rule's errno before a memfd exists") {
  TempDir dir;
  auto policy = policy_file(dir,
                            "[[rule]]\nid = \"no-evil\"\nname = \"evil*\"\naction = \"deny\"\n"
                            "errno = \"EDOM\"\n");
  auto run = run_warden({"--policy", policy}, {probe_bin(), "create", "evil-1", kNoFlags});
  CHECK(run.exit_code == kSentinel);
  REQUIRE(run.decisions.size() == 1);
  CHECK(run.decisions[0]["decision"] == "deny");
  CHECK(run.decisions[0]["errno"] == kSentinelName);
  CHECK(run.decisions[0]["rule"]["index"] == 0);
  CHECK(run.decisions[0]["rule"]["id"] == "no-evil");
  CHECK(run.decisions[0]["fd"].is_null());
  auto control = run_warden({"--policy", policy}, {probe_bin(), "create", "good-1", kNoFlags});
  CHECK(control.exit_code == 0);
}

TEST_CASE("deny by regex: RE2 search semantics on the name bytes") {
  TempDir dir;
  auto policy = policy_file(dir,
                            "[[rule]]\nname_regex = \"^evil-[0-9]+$\"\naction = \"deny\"\n"
                            "errno = 33\n");
  CHECK(run_warden({"--policy", policy}, {probe_bin(), "create", "evil-42", kNoFlags}).exit_code ==
        kSentinel);
  CHECK(run_warden({"--policy", policy}, {probe_bin(), "create", "evil-x", kNoFlags}).exit_code ==
        0);
  CHECK(run_warden({"--policy", policy}, {probe_bin(), "create", "xevil-42", kNoFlags}).exit_code ==
        0);
}

TEST_CASE("deny by flags: flags_any, flags_all and flags_none") {
  TempDir dir;
  SUBCASE("flags_all") {
    auto policy = policy_file(dir,
                              "[[rule]]\nflags_all = [\"MFD_CLOEXEC\", \"MFD_ALLOW_SEALING\"]\n"
                              "action = \"deny\"\nerrno = \"EDOM\"\n");
    CHECK(run_warden({"--policy", policy}, {probe_bin(), "create", "f", "3"}).exit_code ==
          kSentinel);
    CHECK(run_warden({"--policy", policy}, {probe_bin(), "create", "f", "1"}).exit_code == 0);
  }
  SUBCASE("flags_any") {
    auto policy = policy_file(dir,
                              "[[rule]]\nflags_any = [\"MFD_ALLOW_SEALING\", \"MFD_EXEC\"]\n"
                              "action = \"deny\"\nerrno = \"EDOM\"\n");
    CHECK(run_warden({"--policy", policy}, {probe_bin(), "create", "f", "2"}).exit_code ==
          kSentinel);
    CHECK(run_warden({"--policy", policy}, {probe_bin(), "create", "f", "0x10"}).exit_code ==
          kSentinel);
    CHECK(run_warden({"--policy", policy}, {probe_bin(), "create", "f", "1"}).exit_code == 0);
  }
  SUBCASE("flags_none") {
    auto policy = policy_file(dir,
                              "[[rule]]\nflags_none = [\"MFD_CLOEXEC\"]\naction = \"deny\"\n"
                              "errno = \"EDOM\"\n");
    CHECK(run_warden({"--policy", policy}, {probe_bin(), "create", "f", "0"}).exit_code ==
          kSentinel);
    CHECK(run_warden({"--policy", policy}, {probe_bin(), "create", "f", "1"}).exit_code == 0);
  }
}

TEST_CASE("deny by caller executable") {
  TempDir dir;
  auto probe_policy = policy_file(dir,
                                  "[[rule]]\nexe = \"*/warden_probe\"\naction = \"deny\"\n"
                                  "errno = \"EDOM\"\n");
  auto run = run_warden({"--policy", probe_policy}, {probe_bin(), "create", "x", kNoFlags});
  CHECK(run.exit_code == kSentinel);
  REQUIRE(run.decisions.size() == 1);
  CHECK(run.decisions[0]["exe"] == probe_bin());
  CHECK(run.decisions[0]["comm"] == "warden_probe");
  // Control: a rule for other executables leaves the probe alone.
  TempDir other;
  auto other_policy = other.write("policy.toml",
                                  "version = 1\n[[rule]]\nexe = \"/usr/bin/*\"\n"
                                  "action = \"deny\"\nerrno = \"EDOM\"\n");
  CHECK(run_warden({"--policy", other_policy}, {probe_bin(), "create", "x", kNoFlags}).exit_code ==
        0);
}

TEST_CASE("kill: the calling process dies by SIGKILL and the record names it") {
  TempDir dir;
  auto policy =
      policy_file(dir, "[[rule]]\nid = \"fatal\"\nname = \"fatal*\"\naction = \"kill\"\n");
  auto run = run_warden({"--policy", policy}, {probe_bin(), "create", "fatal-1", kNoFlags});
  CHECK(run.exit_code == 128 + 9);
  REQUIRE(run.decisions.size() == 1);
  CHECK(run.decisions[0]["decision"] == "kill");
  CHECK(run.facts.count("fd") == 0);  // the call never returned
  // A killed thread's whole process goes, not only the thread.
  auto threaded = run_warden({"--policy", policy}, {probe_bin(), "thread", "fatal-2", kNoFlags});
  CHECK(threaded.exit_code == 128 + 9);
}

TEST_CASE("default action applies when no rule matches") {
  TempDir dir;
  auto policy = policy_file(dir, "", "version = 1\ndefault = \"deny\"\ndefault_errno = \"EDOM\"\n");
  auto run = run_warden({"--policy", policy}, {probe_bin(), "create", "anything", kNoFlags});
  CHECK(run.exit_code == kSentinel);
  CHECK(run.decisions.at(0)["reason"] == "default");
  CHECK(run.decisions.at(0)["rule"].is_null());
  // --default overrides the file.
  CHECK(run_warden({"--policy", policy, "--default", "allow"},
                   {probe_bin(), "create", "anything", kNoFlags})
            .exit_code == 0);
  CHECK(
      run_warden({"--default", "deny"}, {probe_bin(), "create", "anything", kNoFlags}).exit_code ==
      EPERM);
}

TEST_CASE("first match wins, and --allow/--deny come first in the order typed") {
  TempDir dir;
  auto policy = policy_file(dir,
                            "[[rule]]\nname = \"evil-ok*\"\naction = \"allow\"\n"
                            "[[rule]]\nname = \"evil*\"\naction = \"deny\"\nerrno = \"EDOM\"\n");
  CHECK(
      run_warden({"--policy", policy}, {probe_bin(), "create", "evil-ok-1", kNoFlags}).exit_code ==
      0);
  auto denied = run_warden({"--policy", policy}, {probe_bin(), "create", "evil-2", kNoFlags});
  CHECK(denied.exit_code == kSentinel);
  CHECK(denied.decisions.at(0)["rule"]["index"] == 1);

  // Command-line rules precede the file's, and keep their relative order across options.
  CHECK(run_warden({"--policy", policy, "--deny", "evil-ok-*"},
                   {probe_bin(), "create", "evil-ok-1", kNoFlags})
            .exit_code == EPERM);
  auto allowed =
      run_warden({"--allow", "x-1", "--deny", "x-*"}, {probe_bin(), "create", "x-1", kNoFlags});
  CHECK(allowed.exit_code == 0);
  auto refused =
      run_warden({"--deny", "x-*", "--allow", "x-1"}, {probe_bin(), "create", "x-1", kNoFlags});
  CHECK(refused.exit_code == EPERM);
  // Their audit ids are the options as typed, glob included.
  REQUIRE(allowed.decisions.size() == 1);
  CHECK(allowed.decisions[0]["rule"]["index"] == 0);
  CHECK(allowed.decisions[0]["rule"]["id"] == "--allow=x-1");
  REQUIRE(refused.decisions.size() == 1);
  CHECK(refused.decisions[0]["rule"]["index"] == 0);
  CHECK(refused.decisions[0]["rule"]["id"] == "--deny=x-*");
  CHECK(refused.decisions[0]["errno"] == "EPERM");
}

TEST_CASE("dry-run allows what it would deny or kill, and audits it as would-deny") {
  TempDir dir;
  auto policy = policy_file(dir,
                            "[[rule]]\nname = \"evil*\"\naction = \"deny\"\nerrno = \"EDOM\"\n"
                            "[[rule]]\nname = \"fatal*\"\naction = \"kill\"\n");
  auto deny = run_warden({"--policy", policy, "--dry-run"}, {probe_bin(), "create", "evil-1", "0"});
  CHECK(deny.exit_code == 0);
  CHECK(deny.fact("link") == "/memfd:evil-1 (deleted)");
  REQUIRE(deny.decisions.size() == 1);
  CHECK(deny.decisions[0]["decision"] == "would-deny");
  CHECK(deny.decisions[0]["errno"] == kSentinelName);
  CHECK(deny.decisions[0]["fd"] == deny.fact_number("fd"));

  auto kill =
      run_warden({"--policy", policy, "--dry-run"}, {probe_bin(), "create", "fatal-1", "0"});
  CHECK(kill.exit_code == 0);
  CHECK(kill.decisions.at(0)["decision"] == "would-kill");

  // Quota refusals are trialled too.
  auto quota = run_warden({"--dry-run", "--max-calls", "1"}, {probe_bin(), "many", "3"});
  CHECK(quota.exit_code == 0);
  CHECK(quota.count("would-deny") == 2);
  CHECK(quota.summary.value()["decisions"]["would-deny"] == 2);
}

TEST_CASE(
    "--fail-on-deny: exit 3 when the target succeeded but a call was, or would have been, "
    "refused") {
  TempDir dir;
  auto policy =
      policy_file(dir, "[[rule]]\nname = \"evil*\"\naction = \"deny\"\nerrno = \"EDOM\"\n");
  auto trial = run_warden({"--policy", policy, "--dry-run", "--fail-on-deny"},
                          {probe_bin(), "create", "evil-1", "0"});
  CHECK(trial.exit_code == 3);
  CHECK(trial.fact("link") == "/memfd:evil-1 (deleted)");  // the dry run still let it through
  CHECK(trial.err.find("1 calls would have been refused (--fail-on-deny)") != std::string::npos);
  CHECK(trial.summary.value()["decisions"]["would-deny"] == 1);
  auto clean = run_warden({"--policy", policy, "--dry-run", "--fail-on-deny"},
                          {probe_bin(), "create", "fine-1", "0"});
  CHECK(clean.exit_code == 0);
  // What a dry run refuses for real (a bad name pointer) is said apart from what it let through.
  std::string both =
      probe_bin() + " bad-pointer wild 0; " + probe_bin() + " create evil-4 0; exit 0";
  auto mixed =
      run_warden({"--policy", policy, "--dry-run", "--fail-on-deny"}, {"/bin/sh", "-c", both});
  CHECK(mixed.exit_code == 3);
  CHECK(mixed.err.find("1 calls were refused and 1 would have been (--fail-on-deny)") !=
        std::string::npos);
  // Enforcing: a target that copes with the refusal and exits 0 still fails the job...
  std::string coping = probe_bin() + " create evil-2 0; exit 0";
  auto enforced = run_warden({"--policy", policy, "--fail-on-deny"}, {"/bin/sh", "-c", coping});
  CHECK(enforced.exit_code == 3);
  CHECK(enforced.err.find("1 calls were refused") != std::string::npos);
  // ... and one that fails keeps its own status.
  auto failing =
      run_warden({"--policy", policy, "--fail-on-deny"}, {probe_bin(), "create", "evil-3", "0"});
  CHECK(failing.exit_code == kSentinel);
  // Control: without the option the coping target's 0 stands.
  CHECK(run_warden({"--policy", policy}, {"/bin/sh", "-c", coping}).exit_code == 0);
}

namespace {

// The names of an object's members, and of its members' members, as "quota.bytes".
std::set<std::string> member_paths(const nlohmann::json& object, const std::string& prefix = "") {
  std::set<std::string> paths;
  for (const auto& [key, value] : object.items()) {
    paths.insert(prefix + key);
    if (value.is_object()) paths.merge(member_paths(value, prefix + key + "."));
  }
  return paths;
}

}  // namespace

TEST_CASE("the README's sample audit record has every field of a real one, and its answer") {
  std::ifstream in(std::string(SOURCE_DIR) + "/README.md");
  std::string line, text;
  bool inside = false;
  while (std::getline(in, line)) {
    if (line == "```json") {
      inside = true;
    } else if (inside && line == "```") {
      break;
    } else if (inside) {
      text += line;
    }
  }
  auto sample = nlohmann::json::parse(text);
  // The same call: an executable memfd named "payload", under the default policy.
  auto run = run_warden({}, {probe_bin(), "create", "payload", "0x11"});
  REQUIRE(run.decisions.size() == 1);
  const auto& real = run.decisions[0];
  CHECK(member_paths(sample) == member_paths(real));
  for (const char* key : {"event", "syscall", "name", "flags", "decision", "errno", "reason",
                          "rule", "fd", "quota", "seq"}) {
    CAPTURE(key);
    CHECK(sample[key] == real[key]);
  }
}

TEST_CASE("the embedded default policy refuses MFD_EXEC with EACCES and allows the rest") {
  auto exec = run_warden({}, {probe_bin(), "create", "jit", "0x10"});
  CHECK(exec.exit_code == EACCES);
  CHECK(exec.decisions.at(0)["rule"]["id"] == "no-exec-memfd");
  auto control = run_native({probe_bin(), "create", "jit", "0x10"});
  CHECK(control.exit_code == 0);  // the kernel alone would have allowed it
  CHECK(run_warden({}, {probe_bin(), "create", "plain", "1"}).exit_code == 0);
}

}  // namespace warden::test
