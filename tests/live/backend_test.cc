// Live: the target behaves as it would without memfd-warden, whichever backend watches it:
// job control, execve from a non-leader thread, vfork, death mid-decision, debuggers. These
// matter most for the ptrace backend (which stops and resumes every tracee) and run under both.
#include <doctest/doctest.h>

#include <csignal>
#include <fstream>

#include "tests/live/harness.h"

namespace warden::test {

TEST_CASE("job control: SIGSTOP, SIGCONT and SIGTERM reach a child and its parent sees them") {
  auto native = run_native({probe_bin(), "jobctl"});
  REQUIRE(native.exit_code == 0);
  REQUIRE(native.fact("ran_while_stopped") == "0");
  auto run = run_warden({}, {probe_bin(), "jobctl"});
  CHECK(run.exit_code == 0);  // the parent saw stop, continue and death through waitpid
  CHECK(run.fact("ran_while_stopped") == "0");  // a stopped child really is stopped
  CHECK(run.fact("ran_after_cont") == "1");     // and SIGCONT really resumes it
}

TEST_CASE("a parent that sends SIGCONT as soon as /proc shows its child stopped never loses it") {
  // Under ptrace a new child's first stop shows as 't' before it has run: a parent let run then
  // could send its SIGCONT before the child's own SIGSTOP, which would then stop it for good.
  // Before the fix, 14 of 1000 rounds hung.
  auto native = run_native({probe_bin(), "jobctl-race", "500"});
  REQUIRE(native.fact("hung") == "0");
  auto run = run_warden({}, {probe_bin(), "jobctl-race", "500"});
  CHECK(run.exit_code == 0);
  CHECK(run.fact("premature_cont") == "0");
  CHECK(run.fact("hung") == "0");
}

namespace {

// Runs `command` (a shell command line) twice side by side, `rounds` times; each round must end
// with both runs exiting 0.
void check_side_by_side(const std::string& command, int rounds) {
  for (int round = 0; round < rounds; ++round) {
    CAPTURE(round);
    auto both = run_native({"/bin/sh", "-c",
                            command + " & p1=$!; " + command + " & p2=$!; wait $p1; a=$?; " +
                                "wait $p2; exit $((a | $?))"});
    CHECK(both.exit_code == 0);
  }
}

}  // namespace

TEST_CASE("children that start and exit before their parent's fork event leave no parent stopped") {
  // Four threads fork 500 children each that exit at once, in two runs side by side (both CPUs
  // busy). Under ptrace a child's first stop, and its exit, can be read before its parent's fork
  // event: the parent was then held for good (4 of 10 such runs hung before the fix). A hang
  // fails here after 60 s, not the whole suite.
  std::string warden = "timeout -k 5 60 " + warden_bin() + " run " + backend_flag();
  REQUIRE(run_native({probe_bin(), "forks", "500", "4"}).exit_code == 0);  // control
  check_side_by_side(warden + "--audit /dev/null -- " + probe_bin() + " forks 500 4", 6);
  // Children that are PID-namespace inits and fault at once: the ptrace backend kills each
  // (a traced init cannot die of its fault), and that too may come before its parent's clone
  // event. Control: natively each dies of SIGSEGV.
  if (::geteuid() != 0) return;  // a PID namespace needs CAP_SYS_ADMIN
  REQUIRE(run_native({probe_bin(), "forks", "100", "4", "fault-init"}).exit_code == 0);
  check_side_by_side(
      warden + "--keep-caps --audit /dev/null -- " + probe_bin() + " forks 100 4 fault-init", 3);
}

TEST_CASE("a PID-namespace init that calls abort() or faults dies, under ptrace of SIGKILL") {
  // abort() raises SIGABRT, which an init ignores, then faults (SIGSEGV): a forced fault kills
  // even an init natively. A traced init keeps SIGNAL_UNKILLABLE, so under ptrace the fault
  // looped for ever, and detaching it to die untraced let it run on untraced: it is killed.
  for (const char* how : {"abort", "segv"}) {
    CAPTURE(how);
    auto native = run_native({probe_bin(), "in-pidns", "-", how});
    REQUIRE(native.exit_code == 128 + SIGSEGV);
    auto run = run_warden({}, {probe_bin(), "in-pidns", "-", how});
    CHECK(run.exit_code == (backend() == "ptrace" ? 128 + SIGKILL : native.exit_code));
  }
}

TEST_CASE("execve from a non-leader thread keeps the tree under the policy") {
  TempDir dir;
  auto policy = policy_denying_evil(dir);
  auto denied = run_warden({"--policy", policy}, {probe_bin(), "thread-exec", "evil-x", "0"});
  CHECK(denied.exit_code == kSentinel);
  auto allowed = run_warden({"--policy", policy}, {probe_bin(), "thread-exec", "good-x", "0"});
  CHECK(allowed.exit_code == 0);
  CHECK(allowed.fact("link") == "/memfd:good-x (deleted)");
}

TEST_CASE("a process whose main thread ends first (pthread_exit) is decided on, and its run ends") {
  // The kernel keeps such a leader a zombie until the last thread ends, and reports nothing of it
  // meanwhile. Under ptrace every freeze (each create) waited for it to stop, for ever: the run
  // hung. A hang fails here after 60 s, not the whole suite.
  TempDir dir;
  auto policy = policy_denying_evil(dir);
  auto warden_within_a_minute = [&](const Args& command) {
    return run_warden_bounded({"--policy", policy}, command);
  };
  // "create": the second thread makes the memfds; "exec": it execs into `create`, taking over the
  // zombie's pid.
  for (const char* how : {"create", "exec"}) {
    CAPTURE(how);
    for (const char* name : {"good", "evil"}) {
      CAPTURE(name);
      Args command = {probe_bin(), "leader-exits", name, "0", how};
      REQUIRE(run_native(command).exit_code == 0);  // control: 3 if the leader was no zombie
      auto run = warden_within_a_minute(command);
      CHECK(run.exit_code == (std::string(name) == "evil" ? kSentinel : 0));
      CHECK(run.count(std::string(name) == "evil" ? "deny" : "allow") ==
            (std::string(how) == "exec" || std::string(name) == "evil" ? 1 : 2));
      REQUIRE(run.summary.has_value());
    }
  }
  // The leader ends at any point while the other thread's creates are decided, 200 times.
  REQUIRE(run_native({probe_bin(), "leader-exits-race", "200"}).exit_code == 0);
  auto race = warden_within_a_minute({probe_bin(), "leader-exits-race", "200"});
  CHECK(race.exit_code == 0);
  CHECK(race.fact_number("failed") == 0);
  CHECK(race.count("allow") == 200 * 100);
}

TEST_CASE("a name or path in a page a userfaultfd fills: the call waits for it, as natively") {
  // Natively the call waits for the target's own thread to fill the page. A ptrace freeze stops
  // that thread: a read in the freeze once waited for ever (the run hung), then failed the
  // create with EFAULT. Now the name is read once before the freeze, which waits for the page
  // (docs/backends.md). An exec is decided without a freeze, and waits as natively.
  auto native = run_native({probe_bin(), "uffd-name", "create"});
  if (native.exit_code == 3) {
    MESSAGE("skipped: no userfaultfd here (/dev/userfaultfd, or vm.unprivileged_userfaultfd)");
    return;
  }
  REQUIRE(native.exit_code == 0);
  auto create = run_warden_bounded({}, {probe_bin(), "uffd-name", "create"});
  REQUIRE(create.decisions.size() == 1);
  CHECK(create.exit_code == 0);
  CHECK(create.decisions[0]["name"] == "uffd-name");
  REQUIRE(run_native({probe_bin(), "uffd-name", "exec"}).exit_code == 0);
  CHECK(run_warden_bounded({}, {probe_bin(), "uffd-name", "exec"}).exit_code == 0);
}

TEST_CASE("a target that holds back a read of its memory is ended, not waited for without end") {
  // The thread that must fill the page first makes a memfd of its own. Natively that works. Here
  // memfd-warden's read of the name (or of the exec's path) waits for the filler, and the filler's
  // call waits for memfd-warden's answer: the run hung for good, deaf to SIGTERM. Now the stall
  // watchdog ends the tree after 5 s, and the run fails as memfd-warden's own failure.
  auto native = run_native({probe_bin(), "uffd-name", "create", "trapped-first"});
  if (native.exit_code == 3) {
    MESSAGE("skipped: no userfaultfd here (/dev/userfaultfd, or vm.unprivileged_userfaultfd)");
    return;
  }
  REQUIRE(native.exit_code == 0);
  REQUIRE(run_native({probe_bin(), "uffd-name", "exec", "trapped-first"}).exit_code == 0);
  for (const char* kind : {"create", "exec"}) {
    CAPTURE(kind);
    auto run = run_warden_bounded({}, {probe_bin(), "uffd-name", kind, "trapped-first"}, 30);
    CHECK(run.exit_code == 125);
    CHECK(run.err.find("which the target held back") != std::string::npos);
    REQUIRE(run.summary);
    CHECK((*run.summary)["error"].get<std::string>().find("the tree was killed") !=
          std::string::npos);
  }
}

TEST_CASE(
    "started with SIGCHLD ignored, memfd-warden still sees its children, and so does the target") {
  // An ignored SIGCHLD makes the kernel reap children itself and send no SIGCHLD for their stops
  // and exits: the run hung (a ptrace stop, or the end, was never noticed). memfd-warden takes
  // it back for itself; the target starts with it ignored, as it would natively.
  const std::string ignoring =
      "import os, signal, sys\n"
      "signal.signal(signal.SIGCHLD, signal.SIG_IGN)\n"
      "os.execv(sys.argv[1], sys.argv[1:])\n";
  // The target waits for its child's call: with SIGCHLD ignored, wait() returns only once no
  // child is left, and then fails (ECHILD).
  const std::string target =
      "import os, signal\n"
      "print('ignored=%d' % (signal.getsignal(signal.SIGCHLD) == signal.SIG_IGN), flush=True)\n"
      "for _ in range(20): os.close(os.memfd_create('x'))\n"
      "if os.fork() == 0:\n"
      "    os.close(os.memfd_create('child'))\n"
      "    os._exit(0)\n"
      "try:\n"
      "    os.wait()\n"
      "except ChildProcessError:\n"
      "    pass\n";
  auto native = run_native({"/usr/bin/python3", "-c", ignoring, "/usr/bin/python3", "-c", target});
  REQUIRE(native.exit_code == 0);
  REQUIRE(native.fact("ignored") == "1");
  TempDir dir;
  Args line = {"timeout", "-k", "5", "60", "/usr/bin/python3", "-c", ignoring, warden_bin(), "run"};
  if (!backend().empty()) line.insert(line.end(), {"--backend", backend()});
  line.insert(line.end(),
              {"--audit", dir.file("audit.jsonl"), "--", "/usr/bin/python3", "-c", target});
  auto run = run_native(line);
  read_audit(dir.file("audit.jsonl"), run);
  CHECK(run.exit_code == 0);
  CHECK(run.fact("ignored") == "1");
  CHECK(run.count("allow") == 21);
  CHECK(run.summary.has_value());
}

TEST_CASE("a vfork child is followed and decided") {
  TempDir dir;
  auto policy = policy_denying_evil(dir);
  CHECK(run_warden({"--policy", policy}, {probe_bin(), "vfork", "evil-v", "0"}).exit_code ==
        kSentinel);
  CHECK(run_warden({"--policy", policy}, {probe_bin(), "vfork", "good-v", "0"}).exit_code == 0);
  CHECK(run_native({probe_bin(), "vfork", "evil-v", "0"}).exit_code == 0);  // control
}

TEST_CASE("a target killed in the middle of its calls ends the run cleanly") {
  // Four threads call memfd_create in a loop; SIGKILL lands while calls are being decided.
  LiveRun live({"--max-bytes", "1G"}, {probe_bin(), "storm", "4"});
  REQUIRE(live.wait_for_line("ready"));
  std::string proc = "/proc/" + std::to_string(live.warden_pid()) + "/task/" +
                     std::to_string(live.warden_pid()) + "/children";
  ::usleep(100 * 1000);
  // The target is memfd-warden's only child (memfd-warden forwards SIGINT, SIGTERM and SIGHUP,
  // not SIGKILL, so the test kills the target itself).
  std::ifstream children(proc);
  long target = 0;
  children >> target;
  REQUIRE_MESSAGE(target > 0, "cannot find the target's pid through " << proc);
  ::kill(static_cast<pid_t>(target), SIGKILL);
  auto run = live.finish();
  CHECK(run.exit_code == 128 + SIGKILL);
  REQUIRE(run.summary.has_value());
  CHECK((*run.summary)["exit_status"] == 128 + SIGKILL);
  CHECK((*run.summary)["live_at_exit"] == 0);
  CHECK_MESSAGE(run.err.find("error") == std::string::npos, run.err);
}

TEST_CASE("a target that tries to ptrace (a debugger in CI) gets EPERM under the ptrace backend") {
  auto run = run_warden({}, {probe_bin(), "ptrace-child"});
  if (backend() == "ptrace") {
    CHECK(run.exit_code == EPERM);  // its child is already traced, by us
  } else {
    CHECK(run.exit_code == 0);  // user notification leaves ptrace to the target
  }
}

}  // namespace warden::test
