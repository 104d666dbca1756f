// Live: signals and races. A target that stacks its own seccomp filters, or tries to add its
// own listener, keeps memfd-warden's policy in force; a call interrupted and restarted by a
// signal (SA_RESTART) is decided and counted once. Under both backends.
#include <doctest/doctest.h>

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
