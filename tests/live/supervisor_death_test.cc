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

// Gone, or a zombie waiting for a parent that is no longer memfd-warden.
bool dead(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  if (!stat) return true;
  std::string line;
  std::getline(stat, line);
  auto close = line.rfind(')');
  return close != std::string::npos && close + 2 < line.size() && line[close + 2] == 'Z';
}

// The probe's processes as the host sees them (inside the tree's PID namespace getpid() differs):
// the two processes running `warden_probe lifeline DIR`.
std::vector<pid_t> tree_pids(const TempDir& dir) {
  std::vector<pid_t> pids;
  for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
    std::string name = entry.path().filename();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream cmdline(entry.path() / "cmdline");
    std::string text((std::istreambuf_iterator<char>(cmdline)), std::istreambuf_iterator<char>());
    std::string wanted = probe_bin() + '\0' + "lifeline" + '\0' + dir.path().string();
    if (text.rfind(wanted, 0) == 0 &&  // the probe itself, not memfd-warden's own command line
        !dead(static_cast<pid_t>(std::stol(name)))) {
      pids.push_back(static_cast<pid_t>(std::stol(name)));
    }
  }
  return pids;
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
  for (int i = 0; i < 100 && !(dead(parent) && dead(child)); ++i) ::usleep(10 * 1000);
  CHECK(dead(parent));
  CHECK(dead(child));  // a descendant, not only memfd-warden's own child
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
  ::usleep(200 * 1000);
  std::string beat = slurp_file(dir.file("hb.child"));
  ::usleep(200 * 1000);
  CHECK_FALSE(dead(parent));
  CHECK_FALSE(dead(child));
  CHECK(slurp_file(dir.file("hb.child")) != beat);  // still running
  std::ofstream(dir.file("go")) << "go";
  for (int i = 0; i < 100 && slurp_file(dir.file("result.child")).empty(); ++i) ::usleep(10000);
  for (int i = 0; i < 100 && slurp_file(dir.file("result.parent")).empty(); ++i) ::usleep(10000);
  CHECK(slurp_file(dir.file("result.parent")) == std::to_string(ENOSYS));
  CHECK(slurp_file(dir.file("result.child")) == std::to_string(ENOSYS));
  ::kill(parent, SIGKILL);
  ::kill(child, SIGKILL);
  CHECK(live.finish().exit_code == 128 + SIGKILL);
}

}  // namespace warden::test
