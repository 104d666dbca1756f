// Live: what becomes of the tree when memfd-warden itself is killed (SIGKILL: no cleanup runs).
// By default it dies too (fail closed); with --on-supervisor-exit=enosys it runs on and its
// trapped calls fail with ENOSYS. Under both backends.
#include <doctest/doctest.h>
#include <unistd.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <vector>

#include "tests/live/harness.h"

namespace warden::test {
namespace {

std::string slurp_file(const std::string& path) {
  std::ifstream in(path);
  std::string text;
  std::getline(in, text);
  return text;
}

// The two processes running `warden_probe lifeline DIR` (not memfd-warden's own command line,
// which names them after "--").
std::vector<pid_t> tree_pids(const TempDir& dir) {
  return processes_running({probe_bin(), "lifeline", dir.path().string()});
}

}  // namespace

TEST_CASE("killing memfd-warden kills the whole tree by default") {
  TempDir dir;
  LiveRun live({}, {probe_bin(), "lifeline", dir.path().string()});
  REQUIRE(live.wait_for_line("ready"));
  auto pids = tree_pids(dir);
  REQUIRE(pids.size() == 2);
  pid_t parent = pids[0], child = pids[1];
  live.signal_warden(SIGKILL);
  for (int i = 0; i < 1000 && !(process_dead(parent) && process_dead(child)); ++i) {
    ::usleep(10 * 1000);
  }
  CHECK(process_dead(parent));
  CHECK(process_dead(child));  // a descendant, not only memfd-warden's own child
  CHECK(live.finish().exit_code == 128 + SIGKILL);
}

TEST_CASE("with --on-supervisor-exit=enosys the tree runs on and trapped calls fail ENOSYS") {
  TempDir dir;
  LiveRun live({"--on-supervisor-exit", "enosys"}, {probe_bin(), "lifeline", dir.path().string()});
  REQUIRE(live.wait_for_line("ready"));
  auto pids = tree_pids(dir);
  REQUIRE(pids.size() == 2);
  pid_t parent = pids[0], child = pids[1];
  live.signal_warden(SIGKILL);
  for (int i = 0; i < 1000 && !process_dead(live.warden_pid()); ++i) ::usleep(10 * 1000);
  ::usleep(200 * 1000);  // time for the tree to die, were it to die with memfd-warden
  // The child beats every 20 ms, but on a loaded machine or under ptrace it may not run for
  // much longer: up to 5 s for its next beat.
  std::string beat = slurp_file(dir.file("hb.child"));
  bool beating = false;
  for (int i = 0; i < 500 && !beating; ++i) {
    ::usleep(10 * 1000);
    beating = slurp_file(dir.file("hb.child")) != beat;
  }
  CHECK(beating);  // still running
  CHECK_FALSE(process_dead(parent));
  CHECK_FALSE(process_dead(child));
  std::ofstream(dir.file("go")) << "go";
  for (int i = 0; i < 1000 && slurp_file(dir.file("result.child")).empty(); ++i) ::usleep(10000);
  for (int i = 0; i < 1000 && slurp_file(dir.file("result.parent")).empty(); ++i) ::usleep(10000);
  CHECK(slurp_file(dir.file("result.parent")) == std::to_string(ENOSYS));
  CHECK(slurp_file(dir.file("result.child")) == std::to_string(ENOSYS));
  ::kill(parent, SIGKILL);
  ::kill(child, SIGKILL);
  CHECK(live.finish().exit_code == 128 + SIGKILL);
}

}  // namespace warden::test
