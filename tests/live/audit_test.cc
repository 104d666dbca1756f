// Live: audit records are valid JSON lines whatever bytes the target chooses for names, carry
// every field the docs promise, and end with a summary.
#include <doctest/doctest.h>

#include "tests/live/harness.h"

namespace warden::test {
namespace {
std::string hex(const std::string& bytes) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes) {
    out += digits[c >> 4];
    out += digits[c & 0xf];
  }
  return out;
}
}  // namespace

TEST_CASE("hostile names keep every audit line valid JSON and the bytes recoverable") {
  const std::string names[] = {"quote\"inside",    "back\\slash",
                               "new\nline",        "tab\tand\rcr",
                               "{\"json\":1}",     std::string("\xff\xfe invalid utf8"),
                               "unicode-\xc3\xa9", std::string("\x1b[31mred")};
  for (const auto& name : names) {
    CAPTURE(hex(name));
    auto run = run_warden({}, {probe_bin(), "create-hex", hex(name), "0"});
    REQUIRE(run.exit_code == 0);  // read_audit already failed the test if a line was not JSON
    REQUIRE(run.decisions.size() == 1);
    const auto& record = run.decisions[0];
    if (record.contains("name_hex")) {
      CHECK(record["name_hex"] == hex(name));
    } else {
      CHECK(record["name"] == name);
    }
  }
  // Invalid UTF-8 must be flagged with the exact bytes; valid UTF-8 must not be.
  auto bad = run_warden({}, {probe_bin(), "create-hex", hex("\xff"), "0"});
  CHECK(bad.decisions.at(0)["name_hex"] == "ff");
  auto good = run_warden({}, {probe_bin(), "create-hex", hex("caf\xc3\xa9"), "0"});
  CHECK_FALSE(good.decisions.at(0).contains("name_hex"));
}

TEST_CASE("a decision record carries every documented field") {
  auto run = run_warden({"--max-live", "5"}, {probe_bin(), "create", "fields", "3"});
  REQUIRE(run.decisions.size() == 1);
  const auto& r = run.decisions[0];
  for (const char* key : {"time", "event", "syscall", "abi", "pid", "tid", "exe", "comm", "name",
                          "flags", "decision", "errno", "reason", "rule", "fd", "quota"}) {
    CAPTURE(key);
    CHECK(r.contains(key));
  }
  // RFC 3339, UTC, microseconds: 2026-11-27T19:00:00.123456Z
  std::string time = r["time"];
  CHECK(time.size() == 27);
  CHECK(time[10] == 'T');
  CHECK(time[19] == '.');
  CHECK(time.back() == 'Z');
  CHECK(r["flags"]["raw"] == 3);
  CHECK(r["flags"]["names"] == Json::array({"MFD_CLOEXEC", "MFD_ALLOW_SEALING"}));
  CHECK(r["syscall"] == "memfd_create");
  CHECK(r["abi"] == "x86_64");
  CHECK(r["quota"]["live"] == 1);
  CHECK(r["quota"]["max_live"] == 5);
  CHECK(r["quota"]["max_calls"].is_null());
}

TEST_CASE(
    "a refusal names the caller's executable, an allowed call only when a rule or --record-exe "
    "asks") {
  // One allowed and one denied create, one allowed and one refused growth (in the backend ctest
  // chose for this run).
  Args script{probe_bin(), "script", "create", "ok", ";",         "create", "bad", ";",
              "ftruncate", "ok",     "4K",     ";",  "ftruncate", "ok",     "1M"};
  Args limits{"--deny", "bad", "--max-memfd-bytes", "64K"};
  auto named = [](const Json& record) {
    return record["exe"] == probe_bin() && record["comm"] == "warden_probe";
  };
  auto unnamed = [](const Json& record) {
    return record["exe"].is_null() && record["comm"].is_null() && record["pid"].get<int>() > 0;
  };
  auto run = run_warden(limits, script);
  REQUIRE(run.decisions.size() == 4);
  CHECK(run.fact("op2") == std::to_string(EPERM));  // the controls: what was meant happened
  CHECK(run.fact("op4") == std::to_string(EFBIG));
  CHECK(run.decisions[0]["decision"] == "allow");
  CHECK(unnamed(run.decisions[0]));
  CHECK(run.decisions[1]["decision"] == "deny");
  CHECK(named(run.decisions[1]));
  CHECK(run.decisions[2]["decision"] == "allow");
  CHECK(unnamed(run.decisions[2]));
  CHECK(run.decisions[3]["decision"] == "deny");
  CHECK(named(run.decisions[3]));

  // --record-exe: every record names it.
  Args recorded = limits;
  recorded.push_back("--record-exe");
  auto all = run_warden(recorded, script);
  REQUIRE(all.decisions.size() == 4);
  for (const auto& record : all.decisions) CHECK(named(record));

  // A dry run's would-deny names it, as the refusal would have.
  Args dry = limits;
  dry.push_back("--dry-run");
  auto trial = run_warden(dry, script);
  REQUIRE(trial.decisions.size() == 4);
  CHECK(unnamed(trial.decisions[0]));
  CHECK(trial.decisions[1]["decision"] == "would-deny");
  CHECK(named(trial.decisions[1]));
  CHECK(trial.decisions[3]["decision"] == "would-deny");
  CHECK(named(trial.decisions[3]));

  // A rule on exe: every create's caller is read to decide, so allowed records name it too.
  TempDir dir;
  auto policy = dir.write("policy.toml",
                          "version = 1\n[[rule]]\nexe = \"*/warden_probe\"\nname = \"ok\"\n"
                          "action = \"allow\"\n");
  auto by_exe = run_warden({"--policy", policy}, {probe_bin(), "create", "ok", "0"});
  REQUIRE(by_exe.decisions.size() == 1);
  CHECK(by_exe.decisions[0]["rule"]["index"] == 0);
  CHECK(named(by_exe.decisions[0]));
}

TEST_CASE("the summary counts every decision") {
  TempDir dir;
  auto policy = dir.write("policy.toml",
                          "version = 1\n[[rule]]\nname = \"many-[02468]\"\n"
                          "action = \"deny\"\nerrno = \"EDOM\"\n");
  auto run = run_warden({"--policy", policy}, {probe_bin(), "many", "1", "close"});
  REQUIRE(run.summary);
  CHECK((*run.summary)["decisions"]["deny"] == 1);
  CHECK((*run.summary)["decisions"]["allow"] == 0);
  CHECK((*run.summary)["exit_status"] == kSentinel);
  auto sample = run_warden({"--count-live"}, {sample_bin("memfd_flood"), "20"});
  CHECK((*sample.summary)["decisions"]["allow"] == 20);
  CHECK((*sample.summary)["calls"] == 20);
  CHECK((*sample.summary)["peak_live"] == 20);
  // Live memfds are counted only when something needs them: --count-live above, a rule whose
  // memfds may be executed here, nothing with the default policy.
  auto uncounted = run_warden({}, {sample_bin("memfd_flood"), "3"});
  CHECK((*uncounted.summary)["peak_live"].is_null());
  auto exec_rule = dir.write("exec.toml",
                             "version = 1\n[[rule]]\nname = \"*\"\naction = \"allow\"\n"
                             "exec = \"allow\"\n");
  auto counted = run_warden({"--policy", exec_rule}, {sample_bin("memfd_flood"), "3"});
  CHECK((*counted.summary)["peak_live"] == 3);
  // Bytes likewise: only a byte limit traps the growth calls that would count them.
  CHECK((*uncounted.summary)["peak_bytes"].is_null());
  CHECK((*uncounted.summary)["bytes_at_exit"].is_null());
  auto grown = run_warden({"--max-bytes", "1M"}, probe_script("create a ; ftruncate a 64K"));
  CHECK((*grown.summary)["peak_bytes"] == 64 * 1024);
}

TEST_CASE("the start record names memfd-warden's version, its pid and the program") {
  LiveRun live({}, {probe_bin(), "hold", "held"});
  REQUIRE(live.wait_for_line("ready"));
  int warden_pid = live.warden_pid();
  live.send_line("done");
  auto run = live.finish();
  REQUIRE(run.start);
  auto version = run_warden_raw({"--version"}).out;
  CHECK((*run.start)["version"] == version.substr(0, version.find('\n')));
  CHECK((*run.start)["pid"] == warden_pid);
  CHECK((*run.start)["program"] == probe_bin());
}

TEST_CASE("--audit - writes the records to stderr") {
  auto run = run_warden_raw({"run", "--audit", "-", "--", probe_bin(), "create", "to-stderr", "0"});
  CHECK(run.exit_code == 0);
  CHECK(run.err.find("\"name\":\"to-stderr\"") != std::string::npos);
  CHECK(run.err.find("\"event\":\"summary\"") != std::string::npos);
}

}  // namespace warden::test
