// Unit: one inotify queue shared by the audit log's file watch and the ledger's memfd watches
// (inotify_queue.h): whichever of them reads the queue, each gets its own events, and an overflow
// that may have swallowed the file's events still leaves a rename found. Real memfds and a real
// file; no child processes.
#include "supervisor/kernel/inotify_queue.h"

#include <doctest/doctest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "supervisor/calls/audit_log.h"
#include "supervisor/calls/memfd_ledger.h"

namespace warden {
namespace {

// A fresh audit file's path, removed (with its moved copy) at the end of the test.
struct AuditFile {
  AuditFile() {
    char name[] = "/tmp/warden-inotify-XXXXXX";
    int fd = ::mkstemp(name);
    REQUIRE(fd >= 0);
    ::close(fd);
    path = name;
    moved = path + ".moved";
  }
  ~AuditFile() {
    ::unlink(path.c_str());
    ::unlink(moved.c_str());
  }
  std::string path, moved;
};

std::vector<nlohmann::json> records_in(const std::string& path) {
  std::ifstream in(path);
  std::vector<nlohmann::json> records;
  for (std::string line; std::getline(in, line);) records.push_back(nlohmann::json::parse(line));
  return records;
}

bool has_tamper(const std::vector<nlohmann::json>& records, const std::string& what) {
  for (const auto& record : records) {
    if (record["event"] == "tamper" && record["what"] == what) return true;
  }
  return false;
}

// Makes a memfd the ledger tracks, and closes it: its end is queued.
void track_and_close(MemfdLedger& ledger) {
  int memfd = ::memfd_create("tracked", MFD_CLOEXEC);
  REQUIRE(memfd >= 0);
  REQUIRE(ledger.track(memfd, "tracked", CreateCall::kMemfdCreate, std::nullopt, 0) != nullptr);
  ::close(memfd);
}

}  // namespace

TEST_CASE("one queue for the audit file and the ledger: each gets its events, whoever reads") {
  AuditFile file;
  auto log = AuditLog::open(AuditDestination::from_option(file.path), Quota{});
  REQUIRE(log.has_value());
  auto shared = log->inotify();
  REQUIRE(shared != nullptr);
  auto ledger = MemfdLedger::open(1, true, shared);
  REQUIRE(ledger.has_value());
  CHECK(ledger->event_fd() == log->watch_fd());  // one instance, not two

  // The ledger reads first: the file's rename is kept for the audit log, which looks at it
  // before its next record.
  track_and_close(*ledger);
  REQUIRE(std::rename(file.path.c_str(), file.moved.c_str()) == 0);
  ledger->drain();
  CHECK(ledger->state().live == 0);
  CHECK(log->tampering().empty());
  DecisionRecord record;
  record.name = "after";
  log->write(record);
  CHECK(log->tampering() == "renamed");

  // The audit log reads first: the memfd's end is kept for the ledger.
  track_and_close(*ledger);
  log->check_watch();
  CHECK(ledger->state().live == 1);  // not applied yet: the ledger has not drained
  ledger->drain();
  CHECK(ledger->state().live == 0);

  SuperviseResult result;
  log->write_summary(result);
  auto records = records_in(file.moved);
  CHECK(has_tamper(records, "renamed"));
  // The tamper record comes before the decision that followed the rename.
  size_t tamper = 0, decision = 0;
  for (size_t i = 0; i < records.size(); ++i) {
    if (records[i]["event"] == "tamper") tamper = i;
    if (records[i]["event"] == "decision") decision = i;
  }
  CHECK(tamper < decision);
}

TEST_CASE("a rename lost in an overflowed queue is still found, by the file's place") {
  long max_events = 16384;
  if (std::ifstream in("/proc/sys/fs/inotify/max_queued_events"); in) in >> max_events;
  if (max_events > 200000) {
    MESSAGE("skipped: fs.inotify.max_queued_events is " << max_events << ", too many to fill");
    return;
  }
  AuditFile file;
  auto log = AuditLog::open(AuditDestination::from_option(file.path), Quota{});
  REQUIRE(log.has_value());
  auto queue = log->inotify();
  REQUIRE(queue != nullptr);
  // Fill the queue with memfd ends past its limit: later events, the rename's, are dropped.
  for (long i = 0; i < max_events + 16; ++i) {
    int memfd = ::memfd_create("filler", MFD_CLOEXEC);
    REQUIRE(memfd >= 0);
    std::string path = "/proc/self/fd/" + std::to_string(memfd);
    REQUIRE(queue->watch_end(path.c_str()) >= 0);
    ::close(memfd);
  }
  REQUIRE(std::rename(file.path.c_str(), file.moved.c_str()) == 0);
  log->check_watch();
  CHECK(queue->take_ends_lost());  // the queue did overflow: the test is not vacuous
  CHECK(log->tampering() == "renamed");

  // Overflow without a rename is no tampering.
  AuditFile quiet;
  auto calm = AuditLog::open(AuditDestination::from_option(quiet.path), Quota{});
  REQUIRE(calm.has_value());
  for (long i = 0; i < max_events + 16; ++i) {
    int memfd = ::memfd_create("filler", MFD_CLOEXEC);
    REQUIRE(memfd >= 0);
    std::string path = "/proc/self/fd/" + std::to_string(memfd);
    REQUIRE(calm->inotify()->watch_end(path.c_str()) >= 0);
    ::close(memfd);
  }
  calm->check_watch();
  CHECK(calm->inotify()->take_ends_lost());
  CHECK(calm->tampering().empty());
}

}  // namespace warden
