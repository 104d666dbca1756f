// Live: every thread and every descendant stays under the filter and the same policy, through
// fork, clone and execve; when the program exits, what it left running is ended (or waited
// for, with --orphans wait).
#include <doctest/doctest.h>
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>

#include "tests/live/harness.h"

namespace warden::test {

TEST_CASE("a second thread's call is decided by the policy") {
  TempDir dir;
  auto policy = policy_denying_evil(dir);
  auto run = run_warden({"--policy", policy}, {probe_bin(), "thread", "evil-t", "0"});
  CHECK(run.exit_code == kSentinel);
  REQUIRE(run.decisions.size() == 1);
  CHECK(run.decisions[0]["tid"] != run.decisions[0]["pid"]);  // made by the non-leader thread
  CHECK(run_warden({"--policy", policy}, {probe_bin(), "thread", "good-t", "0"}).exit_code == 0);
}

TEST_CASE("a grandchild's call is decided by the same policy") {
  TempDir dir;
  auto policy = policy_denying_evil(dir);
  auto run = run_warden({"--policy", policy}, {probe_bin(), "grandchild", "evil-g", "0"});
  CHECK(run.exit_code == kSentinel);
  REQUIRE(run.decisions.size() == 1);
  CHECK(run_warden({"--policy", policy}, {probe_bin(), "grandchild", "good-g", "0"}).exit_code ==
        0);
  CHECK(run_native({probe_bin(), "grandchild", "evil-g", "0"}).exit_code == 0);  // control
}

TEST_CASE("the filter survives execve") {
  TempDir dir;
  auto policy = policy_denying_evil(dir);
  auto run = run_warden({"--policy", policy}, {probe_bin(), "exec-then", "evil-e", "0"});
  CHECK(run.exit_code == kSentinel);
}

TEST_CASE(
    "--orphans wait: memfd-warden waits for orphans and decides their calls - the main status is "
    "kept") {
  TempDir dir;
  auto policy = policy_denying_evil(dir);
  std::string result = dir.file("orphan-result");
  auto run = run_warden({"--policy", policy, "--orphans", "wait"},
                        {probe_bin(), "orphan", "evil-o", "0", result});
  CHECK(run.exit_code == 3);  // the main process's own status
  std::ifstream in(result);
  int seen = -1;
  in >> seen;
  CHECK(seen == kSentinel);  // decided by us, after the main process had already exited
  CHECK(run.count("deny") == 1);
  REQUIRE(run.summary);
  CHECK((*run.summary)["orphans_ended"] == 0);
}

namespace {

// A program that leaves three processes running and exits 3: a subshell that handles SIGTERM by
// writing MARKER, its `sleep`, and a `sleep` that ignores SIGTERM. It exits only once the
// handler is in place and both sleeps have exec'd: READY is made by the shell itself (a `touch`
// could still be running when the program exits, a fourth process to end), and each sleep's
// comm is read with the shell's own `read` (a forked child is still "sh" until its exec, and
// the control below would not find it). It makes a memfd first: under user notification
// with --keep-caps (the tests below) that starts memfd-warden's vm.memfd_noexec reader in the
// namespace, which is not the program's and is not counted.
Args leaves_orphans(const TempDir& dir, const std::string& tag) {
  std::string marker = dir.file("got-term"), ready = dir.file("ready");
  auto until_exec = [](const std::string& pid) {
    return "until read c < /proc/" + pid + "/comm && [ \"$c\" = sleep ]; do sleep 0.01; done; ";
  };
  std::string script = "(trap 'echo term > " + marker + "; exit 0' TERM; sleep 20.1" + tag + " & " +
                       until_exec("$!") + ": > " + ready +
                       "; wait) & (trap '' TERM; exec sleep 20.2" + tag + ") & s2=$!; " +
                       probe_bin() + " create counted 0 >/dev/null; while [ ! -e " + ready +
                       " ]; do sleep 0.01; done; " + until_exec("$s2") + "exit 3";
  return {"/bin/sh", "-c", script};
}

// The grace for the program above: its subshell must run its SIGTERM handler within it, which
// under ptrace or a sanitizer on a loaded machine can take more than 200 ms. Each run waits it
// out in full all the same (one sleep ignores SIGTERM).
constexpr const char* kOrphansGrace = "3s";

void check_orphans_ended(const TempDir& dir, const RunResult& run, const std::string& tag) {
  CHECK(run.exit_code == 3);                             // the program's own status
  CHECK(std::filesystem::exists(dir.file("got-term")));  // SIGTERM came first, and was handled
  CHECK(processes_running({"sleep", "20.1" + tag}).empty());
  CHECK(processes_running({"sleep", "20.2" + tag}).empty());  // it ignored SIGTERM: SIGKILL
  REQUIRE(run.summary);
  CHECK((*run.summary)["orphans_ended"] == 3);
}

}  // namespace

TEST_CASE(
    "when the program exits, what it left running is ended: SIGTERM, SIGKILL after the grace") {
  TempDir dir;
  std::string tag = std::to_string(::getpid());
  // The default grace (2 s, as --help and the README say): the sleep that ignores SIGTERM is
  // killed no sooner than 2 s after READY, which the program made before it exited.
  auto run = run_warden({"--keep-caps"}, leaves_orphans(dir, tag));
  auto ended = std::filesystem::file_time_type::clock::now();
  CHECK(ended - std::filesystem::last_write_time(dir.file("ready")) >= std::chrono::seconds(2));
  check_orphans_ended(dir, run, tag);
  // Control: natively the two sleeps outlive the program.
  TempDir native_dir;
  std::string native_tag = tag + "1";
  CHECK(run_native(leaves_orphans(native_dir, native_tag)).exit_code == 3);
  CHECK(processes_running({"sleep", "20.1" + native_tag}).size() == 1);
  CHECK(processes_running({"sleep", "20.2" + native_tag}).size() == 1);
  for (const char* prefix : {"20.1", "20.2"}) {
    for (pid_t pid : processes_running({"sleep", prefix + native_tag})) ::kill(pid, SIGKILL);
  }
}

TEST_CASE("a stopped orphan is sent SIGCONT after SIGTERM, so it acts on SIGTERM") {
  // The orphan stops itself with a SIGTERM handler in place. SIGTERM alone would stay pending
  // until SIGKILL at the end of the grace period, and the handler would never run.
  TempDir dir;
  std::string marker = dir.file("got-term");
  // The parent waits until its child is stopped (T; t under ptrace), then exits.
  std::string script =
      "import os, signal, sys, time\n"
      "child = os.fork()\n"
      "if child == 0:\n"
      "    signal.signal(signal.SIGTERM, lambda *a: (open('" +
      marker +
      "', 'w').write('term'), os._exit(0)))\n"
      "    os.kill(os.getpid(), signal.SIGSTOP)\n"
      "    time.sleep(100)\n"
      "    os._exit(1)\n"
      "while open(f'/proc/{child}/stat').read().split(') ')[1][0] not in 'Tt':\n"
      "    time.sleep(0.01)\n";
  auto run = run_warden({"--orphans-grace", "30s"}, {"python3", "-c", script});
  CHECK(run.exit_code == 0);
  CHECK(std::filesystem::exists(marker));
  REQUIRE(run.summary);
  CHECK((*run.summary)["orphans_ended"] == 1);
}

TEST_CASE(
    "--orphans wait: once the program has exited, SIGTERM to memfd-warden reaches what is left") {
  std::string tag = std::to_string(::getpid()) + "3";
  // The orphan says "ready" only once its parent, the program, is gone.
  LiveRun live({"--orphans", "wait"},
               {"/bin/sh", "-c",
                "( while kill -0 $$ 2>/dev/null; do sleep 0.01; done; echo ready; exec sleep 20.3" +
                    tag + " ) & exit 0"});
  REQUIRE(live.wait_for_line("ready"));
  live.signal_warden(SIGTERM);
  auto run = live.finish();
  CHECK(run.exit_code == 0);  // the program's own status
  CHECK(processes_running({"sleep", "20.3" + tag}).empty());
}

TEST_CASE("orphans are ended without a PID namespace too (memfd-warden not root)") {
  TempDir dir;
  std::filesystem::permissions(dir.path(), std::filesystem::perms::all);
  std::string audit = dir.file("audit.jsonl");
  std::string tag = std::to_string(::getpid()) + "2";
  Args command = warden_run_as_nobody();
  command.insert(command.end(), {"--orphans-grace", kOrphansGrace, "--audit", audit, "--"});
  for (auto& arg : leaves_orphans(dir, tag)) command.push_back(arg);
  auto run = run_native(command);
  CHECK(run.err.find("cannot make a PID namespace") != std::string::npos);
  read_audit(audit, run);
  check_orphans_ended(dir, run, tag);
}

TEST_CASE("the i386 ABI (int $0x80) is decided like x86_64, where the machine has it") {
  auto native = run_native({probe_bin(), "i386-memfd", "evil-32"});
  if (native.exit_code >= 128) {
    // CONFIG_IA32_EMULATION off, or ia32_emulation=0: the filter's i386 coverage is then
    // checked by the BPF simulator (tests/unit/filter_abi_test.cc) instead.
    MESSAGE("skipped: int $0x80 is not usable here (the probe died with signal "
            << native.exit_code - 128 << "); i386 coverage is checked by the BPF simulator");
    return;
  }
  REQUIRE(native.exit_code == 0);
  TempDir dir;
  auto policy = policy_denying_evil(dir);
  auto run = run_warden({"--policy", policy}, {probe_bin(), "i386-memfd", "evil-32"});
  CHECK(run.exit_code == kSentinel);
  REQUIRE(run.decisions.size() == 1);
  CHECK(run.decisions[0]["abi"] == "i386");
  CHECK(run_warden({"--policy", policy}, {probe_bin(), "i386-memfd", "good-32"}).exit_code == 0);
}

}  // namespace warden::test

namespace warden::test {

TEST_CASE("the namespace's init is memfd-warden's fork: it keeps none of memfd-warden's fds") {
  TempDir dir;
  LiveRun live({}, {probe_bin(), "hold", "held"});
  REQUIRE(live.wait_for_line("ready"));
  // The init is memfd-warden's only child named warden-init.
  pid_t init = -1;
  for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
    std::ifstream stat(entry.path() / "stat");
    std::string line;
    if (!std::getline(stat, line)) continue;
    auto close = line.rfind(')');
    if (close == std::string::npos || line.find("(warden-init)") == std::string::npos) continue;
    int ppid = 0;
    char state = 0;
    if (std::sscanf(line.c_str() + close + 1, " %c %d", &state, &ppid) == 2 &&
        ppid == live.warden_pid()) {
      init = std::stoi(entry.path().filename().string());
    }
  }
  REQUIRE(init > 0);
  // What memfd-warden holds close-on-exec, by what the link names (pipe:[N], a path, ...).
  auto links = [](pid_t pid, bool cloexec_only) {
    std::set<std::string> out;
    std::string base = "/proc/" + std::to_string(pid);
    for (const auto& entry : std::filesystem::directory_iterator(base + "/fd")) {
      std::ifstream info(base + "/fdinfo/" + entry.path().filename().string());
      std::string line;
      long flags = 0;
      while (std::getline(info, line)) {
        if (line.rfind("flags:", 0) == 0) flags = std::strtol(line.c_str() + 6, nullptr, 8);
      }
      std::error_code ec;
      if (!cloexec_only || (flags & O_CLOEXEC)) {
        out.insert(std::filesystem::read_symlink(entry.path(), ec).string());
      }
    }
    return out;
  };
  auto own = links(live.warden_pid(), true);
  auto inits = links(init, false);
  std::vector<std::string> shared;
  for (const auto& link : inits) {
    // Every signalfd (or timerfd) links to the same name: the init's own two say nothing.
    if (link == "anon_inode:[signalfd]" || link == "anon_inode:[timerfd]") continue;
    if (own.count(link)) shared.push_back(link);
  }
  std::string shown;
  for (const auto& link : shared) shown += link + " ";
  CAPTURE(shown);
  // Only the pipe the init reports the count of ended processes on, which memfd-warden reads:
  // no audit file, no listener socket, no signalfd, inotify or eventfd of memfd-warden's.
  REQUIRE(own.size() > 5);
  CHECK(shared.size() <= 1);
  for (const auto& link : shared) CHECK(link.rfind("pipe:", 0) == 0);
  live.send_line("done");
  CHECK(live.finish().exit_code == 0);
}

}  // namespace warden::test
