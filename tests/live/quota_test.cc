// Live: count quotas across the tree, and the release of slots when a memfd's last fd and last
// mapping are gone in every process. The release tests also prove the supervisor pins nothing:
// a supervisor holding a reference would keep every slot taken.
#include <dirent.h>
#include <doctest/doctest.h>
#include <unistd.h>

#include <climits>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "tests/live/harness.h"

namespace warden::test {

TEST_CASE("max_calls bounds successful calls over the run, closed or not") {
  auto run = run_warden({"--max-calls", "3"}, {probe_bin(), "many", "10", "close"});
  CHECK(run.exit_code == EMFILE);
  CHECK(run.fact_number("made") == 3);
  CHECK(run.count("allow") == 3);
  CHECK(run.decisions.back()["reason"] == "quota.max_calls");
  CHECK(run.decisions.back()["quota"]["calls"] == 3);
  CHECK(run.decisions.back()["quota"]["max_calls"] == 3);
  // Control: without the quota all ten succeed.
  CHECK(run_warden({}, {probe_bin(), "many", "10", "close"}).exit_code == 0);
}

TEST_CASE("denied calls do not count toward max_calls") {
  auto run = run_warden({"--max-calls", "2", "--deny", "x*"},
                        probe_script("create x1 ; create x2 ; create a ; create b ; create c"));
  CHECK(run.fact_number("op1") == EPERM);
  CHECK(run.fact_number("op2") == EPERM);
  CHECK(run.fact_number("op3") == 0);  // the two refusals used none of the two calls
  CHECK(run.fact_number("op4") == 0);
  CHECK(run.fact_number("op5") == EMFILE);
}

TEST_CASE("max_live bounds memfds alive at once - the policy file and quota.errno work too") {
  TempDir dir;
  auto policy =
      dir.write("policy.toml", "version = 1\n[quota]\nmax_live = 4\nerrno = \"EDQUOT\"\n");
  auto kept = run_warden({"--policy", policy}, {probe_bin(), "many", "10"});
  CHECK(kept.exit_code == EDQUOT);
  CHECK(kept.fact_number("made") == 4);
  CHECK(kept.decisions.back()["reason"] == "quota.max_live");
  // Closing each one first frees its slot: all ten fit through four slots.
  auto closed = run_warden({"--policy", policy}, {probe_bin(), "many", "10", "close"});
  CHECK(closed.exit_code == 0);
  CHECK(closed.summary.value()["peak_live"] == 1);
}

TEST_CASE("a slot comes back after close") {
  auto run = run_warden({"--max-live", "3"}, {probe_bin(), "release-close", "3"});
  REQUIRE(run.exit_code == 0);
  CHECK(run.fact_number("over") == EMFILE);
  CHECK(run.fact_number("after_close") == 0);
}

TEST_CASE("a mapping keeps a closed memfd alive until munmap") {
  auto run = run_warden({"--max-live", "1"}, {probe_bin(), "release-munmap"});
  REQUIRE(run.exit_code == 0);
  CHECK(run.fact_number("while_mapped") == EMFILE);
  CHECK(run.fact_number("after_munmap") == 0);
}

TEST_CASE("a forked child holding the fd keeps it alive until the child exits") {
  auto run = run_warden({"--max-live", "1"}, {probe_bin(), "release-child"});
  REQUIRE(run.exit_code == 0);
  CHECK(run.fact_number("while_child") == EMFILE);
  CHECK(run.fact_number("after_child") == 0);
}

TEST_CASE(
    "max_live counts the whole tree: a grandchild is refused when the parent holds the slot") {
  TempDir dir;
  // The probe's grandchild makes one memfd while the probe itself holds none: allowed. With the
  // quota at zero, nobody in the tree gets one.
  CHECK(run_warden({"--max-live", "1"}, {probe_bin(), "grandchild", "g", "0"}).exit_code == 0);
  CHECK(run_warden({"--max-live", "0"}, {probe_bin(), "grandchild", "g", "0"}).exit_code == EMFILE);
}

// The inotify watches memfd-warden holds on memfds: "inotify wd:" lines in the fdinfo of its
// fds whose mask is the ledger's IN_MOVE_SELF alone (the audit file's watch asks for more).
size_t inotify_watches(pid_t pid) {
  size_t watches = 0;
  std::string dir = "/proc/" + std::to_string(pid) + "/fdinfo";
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    std::ifstream info(entry.path());
    for (std::string line; std::getline(info, line);) {
      watches += line.rfind("inotify wd:", 0) == 0 && line.find(" mask:800 ") != std::string::npos;
    }
  }
  return watches;
}

// A memfd sent out of the tree (SCM_RIGHTS) is alive while anyone holds it: it stays counted
// against max_live after the target closes its own fd, until the outside holder closes it.
constexpr const char* kOutsideHolder = R"(import os, socket, sys
listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
listener.bind(sys.argv[1])
listener.listen(1)
peer, _ = listener.accept()
_, fds, _, _ = socket.recv_fds(peer, 16, 1)
peer.send(b"got")
peer.recv(5)
for fd in fds:
    os.close(fd)
peer.send(b"closed")
)";
constexpr const char* kPasserOut = R"(import os, socket, sys, time
peer = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
for _ in range(1000):
    try:
        peer.connect(sys.argv[1])
        break
    except OSError:
        time.sleep(0.01)
def attempt(name):
    try:
        os.close(os.memfd_create(name))
        print(f"{name}=0")
    except OSError as e:
        print(f"{name}={e.errno}")
    sys.stdout.flush()
passed = os.memfd_create("passed-out")
socket.send_fds(peer, [b"fd"], [passed])
assert peer.recv(3) == b"got"
os.close(passed)
attempt("while_held")
peer.send(b"close")
assert peer.recv(6) == b"closed"
attempt("after_release")
)";

TEST_CASE("a memfd passed out of the tree stays counted until its last holder closes it") {
  TempDir dir;
  std::string holder = dir.write("holder.py", kOutsideHolder);
  std::string passer = dir.write("passer.py", kPasserOut);
  auto run = [&](const std::string& wrapper) {
    std::string socket = dir.file("s" + std::to_string(std::rand()));
    std::string script = "python3 " + holder + " " + socket + " & " + wrapper + " python3 " +
                         passer + " " + socket + "; status=$?; wait; exit $status";
    return run_native({"sh", "-c", script});
  };
  auto native = run("");
  INFO(native.err);
  CHECK(native.fact_number("while_held") == 0);
  CHECK(native.fact_number("after_release") == 0);
  std::string warden =
      warden_bin() + " run " + backend_flag() + " --max-live 1 --audit /dev/null --";
  auto limited = run(warden);
  INFO(limited.err);
  CHECK(limited.exit_code == 0);
  CHECK(limited.fact_number("while_held") == EMFILE);
  CHECK(limited.fact_number("after_release") == 0);
}

TEST_CASE("live memfds are watched only when something needs the count, and the audit says so") {
  for (bool count_live : {false, true}) {
    CAPTURE(count_live);
    Args options;
    if (count_live) options.push_back("--count-live");
    LiveRun live(options, {probe_bin(), "hold", "held"});
    REQUIRE(live.wait_for_line("ready"));
    size_t watches = inotify_watches(live.warden_pid());
    live.send_line("done");
    auto run = live.finish();
    CHECK(run.exit_code == 0);
    CHECK(watches == (count_live ? 1 : 0));
    REQUIRE(run.summary);
    CHECK((*run.summary)["calls"] == 1);
    CHECK((*run.summary)["live_at_exit"] == (count_live ? Json(0) : Json(nullptr)));
    CHECK((*run.summary)["peak_live"] == (count_live ? Json(1) : Json(nullptr)));
    REQUIRE(run.decisions.size() == 1);
    CHECK(run.decisions[0]["quota"]["live"] == (count_live ? Json(1) : Json(nullptr)));
  }
  // A limit that needs the count turns it on by itself.
  LiveRun limited({"--max-live", "4"}, {probe_bin(), "hold", "held"});
  REQUIRE(limited.wait_for_line("ready"));
  CHECK(inotify_watches(limited.warden_pid()) == 1);
  limited.send_line("done");
  CHECK(limited.finish().exit_code == 0);
  // So does a rule with its own exec, "deny" as well as "allow": its memfds must be told apart
  // from the rest while they live.
  for (const char* exec : {"allow", "deny"}) {
    CAPTURE(exec);
    TempDir dir;
    std::string policy = dir.write("exec.toml", std::string("version = 1\nexec = \"allow\"\n") +
                                                    "[[rule]]\nname = \"other\"\naction = " +
                                                    "\"allow\"\nexec = \"" + exec + "\"\n");
    auto run = run_warden({"--policy", policy}, {probe_bin(), "create", "x", "0"});
    REQUIRE(run.decisions.size() == 1);
    CHECK(run.decisions[0]["quota"]["live"] == 1);
  }
}

TEST_CASE("the supervisor holds no memfd: no fd and no mapping of one while the target has it") {
  // --count-live: the watch that counts the memfd must not hold it either.
  LiveRun live({"--count-live"}, {probe_bin(), "hold", "held-8MiB"});
  REQUIRE(live.wait_for_line("ready"));
  std::string proc = "/proc/" + std::to_string(live.warden_pid());
  // memfd-warden's own copy of a new memfd lives until the kernel has installed it in the
  // target; take the least of a few looks so that one caught in that instant does not count.
  int memfd_fds = INT_MAX;
  for (int look = 0; look < 5; ++look) {
    int seen = 0;
    for (const auto& entry : std::filesystem::directory_iterator(proc + "/fd")) {
      std::error_code ec;
      auto target = std::filesystem::read_symlink(entry.path(), ec);
      if (!ec && target.string().rfind("/memfd:", 0) == 0) ++seen;
    }
    memfd_fds = std::min(memfd_fds, seen);
    ::usleep(5000);
  }
  CHECK(memfd_fds == 0);
  std::ifstream maps(proc + "/maps");
  std::string line;
  bool mapped = false;
  while (std::getline(maps, line)) mapped = mapped || line.find("/memfd:held") != std::string::npos;
  CHECK_FALSE(mapped);
  live.send_line("done");
  auto run = live.finish();
  CHECK(run.exit_code == 0);
  CHECK(run.summary.value()["live_at_exit"] == 0);
}

}  // namespace warden::test
