// Live: load. 8 processes x 8 threads create, size and close memfds for 30 s under count and
// byte quotas tight enough to refuse some of them (each thread holds its memfd for 20 ms: about
// 64 are alive at once, against limits of 40 memfds and 32 of their 4 KiB). No deadlock (ctest's
// TIMEOUT would catch it), no lost or duplicated decision (the audit's counts equal what the
// targets saw), and the supervisor's memory flat. Under both backends.
#include <doctest/doctest.h>
#include <unistd.h>

#include <fstream>

#include "tests/live/harness.h"

namespace warden::test {
namespace {
long rss_kib(int pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  }
  return -1;
}
}  // namespace

TEST_CASE("8 processes x 8 threads for 30 s under quotas: every call decided exactly once") {
  LiveRun live({"--max-live", "40", "--max-bytes", "128K"}, {probe_bin(), "load", "8", "8", "30"});
  REQUIRE(live.wait_for_line("started"));
  ::sleep(5);
  long early = rss_kib(live.warden_pid());
  ::sleep(20);
  long late = rss_kib(live.warden_pid());
  auto run = live.finish();
  REQUIRE(run.exit_code == 0);
  long created = run.fact_number("created"), create_refused = run.fact_number("create_refused");
  long sized = run.fact_number("sized"), size_refused = run.fact_number("size_refused");
  MESSAGE(created << " created, " << create_refused << " refused; " << sized << " sized, "
                  << size_refused << " refused; supervisor RSS " << early << " KiB at 5 s, " << late
                  << " KiB at 25 s");
  CHECK(created > 1000);
  CHECK(create_refused + size_refused > 0);  // the quotas really were in play
  size_t create_allow = 0, create_deny = 0, size_allow = 0, size_deny = 0;
  for (const auto& r : run.decisions) {
    bool create = r["syscall"] == "memfd_create";
    bool allow = r["decision"] == "allow";
    (create ? (allow ? create_allow : create_deny) : (allow ? size_allow : size_deny))++;
  }
  CHECK(create_allow == static_cast<size_t>(created));
  CHECK(create_deny == static_cast<size_t>(create_refused));
  CHECK(size_allow == static_cast<size_t>(sized));
  CHECK(size_deny == static_cast<size_t>(size_refused));
  if (kSanitized) {
    MESSAGE("RSS not checked: in the sanitizer build it measures ASan's quarantine");
  } else {
    CHECK(late - early < 2048);  // under 2 MiB of growth over 20 s of load
  }
}

}  // namespace warden::test
