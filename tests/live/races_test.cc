// Live: signals and races. A target that stacks its own seccomp filters, or tries to add its
// own listener, keeps memfd-warden's policy in force; a call interrupted and restarted by a
// signal (SA_RESTART) is decided and counted once. Under both backends.
#include <doctest/doctest.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "tests/live/harness.h"

namespace warden::test {

TEST_CASE("a target that stacks its own seccomp filter stays under our policy") {
  TempDir dir;
  auto policy = policy_denying_evil(dir);
  CHECK(
      run_warden({"--policy", policy}, {probe_bin(), "own-filter", "allow", "evil-s"}).exit_code ==
      kSentinel);
  CHECK(
      run_warden({"--policy", policy}, {probe_bin(), "own-filter", "allow", "good-s"}).exit_code ==
      0);
  CHECK(run_native({probe_bin(), "own-filter", "allow", "evil-s"}).exit_code == 0);  // control
}

TEST_CASE(
    "under ptrace a filter of the target's own sees the MFD_ALLOW_SEALING the exec seal adds") {
  // A documented limit of the ptrace backend (fidelity.md). With exec = "deny" a memfd_create
  // asking for neither MFD_EXEC nor MFD_NOEXEC_SEAL runs with MFD_ALLOW_SEALING added, so that
  // the exec seal can follow; the kernel runs every filter again on the changed call. The probe's
  // own filter refuses (ENOTUNIQ), or answers 0 unrun, a call with that flag: natively, and under
  // user notification (which makes the memfd itself), its call of flags 0 never has it.
  TempDir dir;
  auto open_exec = dir.write("exec-allowed.toml", "version = 1\nexec = \"allow\"\n");
  bool noexec_seal = [] {
    int fd = static_cast<int>(::syscall(SYS_memfd_create, "probe", 0x0008U));  // MFD_NOEXEC_SEAL
    if (fd >= 0) ::close(fd);
    return fd >= 0;
  }();
  bool rewritten = backend() == "ptrace" && noexec_seal;
  for (const char* mode : {"refuse-sealing", "zero-sealing"}) {
    CAPTURE(mode);
    Args probe{probe_bin(), "own-filter", mode, "sealed"};
    CHECK(run_native(probe).exit_code == 0);  // control: its filter never sees the flag
    CHECK(run_warden({"--policy", open_exec}, probe).exit_code == 0);  // nothing added
    auto sealed = run_warden({}, probe);
    if (!rewritten) {
      CHECK(sealed.exit_code == 0);
    } else if (mode == std::string("refuse-sealing")) {
      CHECK(sealed.exit_code == ENOTUNIQ);
    } else {
      // The call returns 0 unrun; fd 0 is not the memfd checked, so the caller is killed.
      CHECK(sealed.exit_code == 128 + SIGKILL);
      CHECK(sealed.err.find("memfd 0 in thread") != std::string::npos);
    }
  }
}

TEST_CASE("a target cannot add a listener of its own") {
  // Natively it can; under either backend it gets EBUSY (the kernel's own answer when a filter
  // chain already has a listener), so it can never answer memfd_create in our place.
  CHECK(run_native({probe_bin(), "own-filter", "listener", "x"}).exit_code == 0);
  CHECK(run_warden({}, {probe_bin(), "own-filter", "listener", "x"}).exit_code == EBUSY);
}

TEST_CASE("calls restarted after a signal (SA_RESTART) are counted once") {
  // Each call succeeds exactly once for the target; if a restarted call were counted twice the
  // max_calls quota would run out before the target's 2000th call.
  auto run = run_warden({"--max-calls", "2000"}, {probe_bin(), "restart-storm", "2000"});
  REQUIRE(run.exit_code == 0);
  CHECK(run.fact_number("made") == 2000);
  CHECK(run.fact_number("signals") > 0);
  CHECK(run.count("allow") == 2000);
  CHECK((*run.summary)["calls"] == 2000);
}

}  // namespace warden::test
