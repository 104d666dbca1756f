// Unit: reading audit logs back for suggest and report: a growth's bytes as they are after it,
// lines that are not records skipped and named (alone, refused), and hostile shapes (nesting, odd
// types) that end in an error rather than a crash.
#include "supervisor/calls/audit_observations.h"

#include <doctest/doctest.h>

#include <string>
#include <vector>

namespace warden {
namespace {

std::vector<AuditLine> lines_of(const std::vector<std::string>& texts) {
  std::vector<AuditLine> lines;
  for (const auto& text : texts) {
    lines.push_back({"a.jsonl:" + std::to_string(lines.size() + 1), text});
  }
  return lines;
}

const char* kStart =
    R"({"time":"2026-12-01T00:00:00.000000Z","event":"start","program":"/bin/p","run":"r1"})";

std::string growth(const char* decision, uint64_t before_total, uint64_t old_charge,
                   uint64_t new_charge) {
  return R"({"time":"2026-12-01T00:00:01.000000Z","event":"decision","syscall":"ftruncate",)"
         R"("exe":"/bin/p","name":"heap","decision":")" +
         std::string(decision) + R"(","quota":{"live":1,"bytes":)" + std::to_string(before_total) +
         R"(,"max_bytes":1000000},"charge":{"old":)" + std::to_string(old_charge) + R"(,"new":)" +
         std::to_string(new_charge) + R"(},"run":"r1"})";
}

}  // namespace

TEST_CASE("audit observations: a growth's record holds the totals before it, the report after") {
  auto runs = recorded_runs_from_audit(
      lines_of({kStart, growth("allow", 0, 0, 4096), growth("deny", 4096, 4096, 999999),
                growth("would-deny", 4096, 4096, 8192), growth("allow", 8192, 8192, 0)}),
      std::nullopt);
  REQUIRE(runs);
  REQUIRE(runs->size() == 1);
  const auto& run = runs->front();
  CHECK(run.tracks_bytes);
  REQUIRE(run.decisions.size() == 4);
  CHECK(run.decisions[0].bytes == 4096);  // allowed: grown
  CHECK(run.decisions[1].bytes == 4096);  // denied: as it was
  CHECK(run.decisions[2].bytes == 8192);  // a dry run lets it happen
  CHECK(run.decisions[3].bytes == 0);     // shrunk
  CHECK(run.start_time > 0);
  CHECK(run.end_time - run.start_time == doctest::Approx(1.0));
}

TEST_CASE("audit observations: a create whose exe was not collected is said so, never a path") {
  auto create = [](const char* exe_field, const char* decision) {
    return R"({"time":"2026-12-01T00:00:01.000000Z","event":"decision","syscall":"memfd_create",)" +
           std::string(exe_field) + R"("name":"cache","flags":{"raw":1},"decision":")" + decision +
           R"(","run":"r1"})";
  };
  auto lines = lines_of({kStart, create(R"("exe":null,)", "allow"), create("", "allow"),
                         create(R"("exe":"/bin/p",)", "deny"), create(R"("exe":"",)", "allow")});
  auto runs = recorded_runs_from_audit(lines, std::nullopt);
  REQUIRE(runs);
  REQUIRE(runs->front().decisions.size() == 4);
  CHECK(runs->front().decisions[0].exe == kExeNotRecorded);  // null
  CHECK(runs->front().decisions[1].exe == kExeNotRecorded);  // absent
  CHECK(runs->front().decisions[2].exe == "/bin/p");
  CHECK(runs->front().decisions[3].exe == "");  // collected, unreadable
  auto seen = observations_from_audit(lines, std::nullopt);
  REQUIRE(seen);
  REQUIRE(seen->creates.size() == 4);
  CHECK_FALSE(seen->creates[0].exe_recorded);
  CHECK_FALSE(seen->creates[1].exe_recorded);
  CHECK(seen->creates[2].exe_recorded);
  CHECK(seen->creates[2].exe == "/bin/p");
  CHECK(seen->creates[3].exe_recorded);
}

TEST_CASE("audit observations: a line that is not a record is skipped and named, alone an error") {
  const std::vector<std::string> bad_lines = {
      "{}",
      R"({"event":"start"})",
      R"({"run":12,"event":"start"})",
      R"({"run":{"a":1},"event":"start"})",
      R"({"run":"r1","event":[]})",
      "[1,2]",
      "not json",
      std::string(300000, '[')};  // nesting deep enough to exhaust a recursive parser's stack
  for (const auto& bad : bad_lines) {
    INFO(bad.substr(0, 40));
    std::vector<std::string> skipped;
    auto runs = recorded_runs_from_audit(lines_of({kStart, bad, growth("allow", 0, 0, 1)}),
                                         std::nullopt, &skipped);
    REQUIRE(runs);
    REQUIRE(runs->size() == 1);
    CHECK(runs->front().decisions.size() == 1);  // the record after it, read whole
    CHECK(skipped == std::vector<std::string>{"a.jsonl:2"});
    skipped.clear();
    auto seen = observations_from_audit(lines_of({kStart, bad}), std::nullopt, &skipped);
    REQUIRE(seen);
    CHECK(skipped == std::vector<std::string>{"a.jsonl:2"});
    // No record at all: not an audit log, and the error says where.
    auto alone = recorded_runs_from_audit(lines_of({bad}), std::nullopt);
    REQUIRE_FALSE(alone);
    CHECK(alone.error().message().find("a.jsonl:1: not an audit record") == 0);
    CHECK_FALSE(observations_from_audit(lines_of({bad}), std::nullopt));
  }
  // A record cut short by a full disk: the run's other records read on.
  std::string cut = growth("allow", 0, 0, 4096);
  std::vector<std::string> skipped;
  auto runs = recorded_runs_from_audit(
      lines_of({kStart, cut.substr(0, cut.size() / 2), growth("allow", 4096, 4096, 8192)}),
      std::nullopt, &skipped);
  REQUIRE(runs);
  REQUIRE(runs->front().decisions.size() == 1);
  CHECK(runs->front().decisions[0].bytes == 8192);
  CHECK(skipped.size() == 1);
}

TEST_CASE("audit observations: odd values in a record are read as absent, never trusted") {
  auto runs = recorded_runs_from_audit(
      lines_of({R"({"time":"not a time","event":"start","program":7,"run":"r1"})",
                R"({"time":"2026-12-01T00:00:02.000000Z","event":"decision","syscall":["x"],)"
                R"("exe":null,"decision":"allow","quota":{"live":-1,"bytes":"9"},"run":"r1"})"}),
      std::nullopt);
  REQUIRE(runs);
  const auto& run = runs->front();
  CHECK(run.program.empty());
  CHECK(run.start_time > 0);  // the first time that parses
  REQUIRE(run.decisions.size() == 1);
  CHECK(run.decisions[0].syscall.empty());
  CHECK(run.decisions[0].live == 0);
  CHECK(run.decisions[0].bytes == 0);
  CHECK_FALSE(run.tracks_bytes);
}

TEST_CASE("audit observations: --container picks a container by its id, its name or its pod") {
  auto start = [](const char* run, const char* id, const char* pod, const char* name) {
    return std::string(R"({"time":"2026-12-01T00:00:00.000000Z","event":"start",)") +
           R"("container":{"id":")" + id + R"(","bundle":"/b","pod":")" + pod +
           R"(","namespace":"ns","name":")" + name + R"("},"program":"/bin/p","run":")" + run +
           R"("})";
  };
  auto lines = lines_of(
      {start("r1", "c0ffee", "web-7d9", "nginx"), start("r2", "beef42", "db-0", "postgres")});
  for (const char* wanted : {"beef42", "db-0", "postgres"}) {
    CAPTURE(wanted);
    auto runs = recorded_runs_from_audit(lines, std::string(wanted));
    REQUIRE(runs);
    REQUIRE(runs->size() == 1);
    CHECK(runs->front().id == "r2");
  }
  auto all = recorded_runs_from_audit(lines, std::nullopt);
  REQUIRE(all);
  CHECK(all->size() == 2);
  auto none = recorded_runs_from_audit(lines, std::string("ns"));  // a namespace is no container
  CHECK((!none || none->empty()));
}

}  // namespace warden
