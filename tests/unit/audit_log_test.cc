// Unit: the audit encoder, writing to a temporary file (no child processes).
#include "supervisor/calls/audit_log.h"

#include <doctest/doctest.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>

namespace warden {

namespace {

// The records `write` puts in a fresh audit file, parsed.
std::vector<nlohmann::json> records_written(const std::function<void(AuditLog&)>& write) {
  char path[] = "/tmp/warden-audit-XXXXXX";
  int fd = ::mkstemp(path);
  REQUIRE(fd >= 0);
  ::close(fd);
  {
    auto log = AuditLog::open(AuditDestination::from_option(path), Quota{});
    REQUIRE(log.has_value());
    write(*log);
  }
  std::ifstream in(path);
  std::string line;
  std::vector<nlohmann::json> records;
  while (std::getline(in, line)) records.push_back(nlohmann::json::parse(line));
  ::unlink(path);
  return records;
}

}  // namespace

TEST_CASE("every byte of a hostile name survives in the audit, and each line is one JSON object") {
  auto records = records_written([](AuditLog& log) {
    std::string every_byte;
    for (int c = 1; c < 256; ++c) every_byte += static_cast<char>(c);
    DecisionRecord record;
    record.name = every_byte;
    record.comm = std::string_view("\xff\n", 2);
    record.exe = "/bin/\"quoted\"";
    log.write(record);
    log.write_summary(SuperviseResult{});
  });
  REQUIRE(records.size() == 2);
  std::string hex = records[0]["name_hex"];
  REQUIRE(hex.size() == 255 * 2);
  CHECK(hex.substr(0, 6) == "010203");
  CHECK(hex.substr(hex.size() - 4) == "feff");
  CHECK(records[0]["comm_hex"] == "ff0a");
  CHECK(records[0]["exe"] == "/bin/\"quoted\"");
  CHECK_FALSE(records[0].contains("exe_hex"));
  CHECK(records[1]["event"] == "summary");
}

TEST_CASE("a caller's exe and comm not collected are null, an unreadable one is empty") {
  auto records = records_written([](AuditLog& log) {
    DecisionRecord not_collected;
    log.write(not_collected);
    DecisionRecord unreadable;
    unreadable.exe = "";
    unreadable.comm = "";
    log.write(unreadable);
  });
  REQUIRE(records.size() == 2);
  CHECK(records[0]["exe"].is_null());
  CHECK(records[0]["comm"].is_null());
  CHECK(records[1]["exe"] == "");
  CHECK(records[1]["comm"] == "");
}

TEST_CASE("a container's run: every record carries its identity, hostile bytes kept") {
  auto records = records_written([](AuditLog& log) {
    log.set_container({"job-\"1\"\n", "/run/b\xff", "web-1", "", "app"});
    log.write_start("test", "container job");
    log.write(DecisionRecord{});
    log.write_summary(SuperviseResult{});
  });
  REQUIRE(records.size() == 3);
  for (const auto& record : records) {
    CAPTURE(record.dump());
    const auto& container = record.at("container");
    CHECK(container["id"] == "job-\"1\"\n");
    CHECK(container["bundle_hex"] == "2f72756e2f62ff");
    CHECK(container["pod"] == "web-1");
    CHECK(container["namespace"].is_null());
    CHECK(container["name"] == "app");
  }
  CHECK(records[2]["seal"]["records"] == 3);  // the summary seals all three
}

TEST_CASE("--fail-on-deny counts denials and kills, real or dry-run, never an abort") {
  records_written([](AuditLog& log) {
    DecisionRecord record;
    for (Decision decision : {Decision::kAllow, Decision::kAbort, Decision::kAbort}) {
      record.decision = decision;
      log.write(record);
    }
    CHECK(log.refusals() == 0);  // a caller that died or was interrupted was not refused
    for (Decision decision :
         {Decision::kDeny, Decision::kKill, Decision::kWouldDeny, Decision::kWouldKill}) {
      record.decision = decision;
      log.write(record);
    }
    CHECK(log.refusals() == 4);
  });
}

TEST_CASE("rfc3339_now has microseconds and a Z") {
  std::string now(rfc3339_now().view());
  CHECK(now.size() == 27);
  CHECK(now[4] == '-');
  CHECK(now[10] == 'T');
  CHECK(now[19] == '.');
  CHECK(now[26] == 'Z');
}

}  // namespace warden
