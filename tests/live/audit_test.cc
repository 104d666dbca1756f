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
}

TEST_CASE("--audit - writes the records to stderr") {
  auto run = run_warden_raw({"run", "--audit", "-", "--", probe_bin(), "create", "to-stderr", "0"});
  CHECK(run.exit_code == 0);
  CHECK(run.err.find("\"name\":\"to-stderr\"") != std::string::npos);
  CHECK(run.err.find("\"event\":\"summary\"") != std::string::npos);
}

}  // namespace warden::test
