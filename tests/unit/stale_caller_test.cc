// Unit: what a handler does when the caller stops being the caller between what it read and
// what it does: exactly what a reused pid looks like to it. The CallChannel is faked so that
// caller_waiting() turns false at a chosen moment; the caller is a real child process, so a
// wrongly sent SIGKILL would be seen. Nothing may be delivered, answered or killed.
#include <doctest/doctest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <optional>
#include <string>

#include "policy/policy_parse.h"
#include "supervisor/calls/call_channel.h"
#include "supervisor/calls/memfd_call.h"
#include "supervisor/calls/memfd_ledger.h"
#include "supervisor/kernel/trapped_syscalls.h"

namespace warden {
namespace {

// Says "still waiting" for the first `valid_checks` checks, then "gone". Like the kernel, it
// refuses answers and memfds for a caller that is gone (each attempt is a check).
class FakeChannel final : public CallChannel {
 public:
  explicit FakeChannel(int valid_checks) : valid_checks_(valid_checks) {}
  bool caller_waiting() override { return checks_++ < valid_checks_; }
  int fail(int) override {
    if (!caller_waiting()) return ENOENT;
    ++answers;
    if (audit != nullptr) refusals_recorded_at_answer = audit->refusals();
    return 0;
  }
  int complete(int64_t) override {
    ++answers;
    return 0;
  }
  int pass_through() override {
    ++answers;
    return 0;
  }
  int deliver_memfd(const MemfdSpec&, const std::function<bool(int)>&) override {
    if (!caller_waiting()) return -ENOENT;
    ++deliveries;
    return 3;
  }
  int answers = 0;
  int deliveries = 0;
  const AuditLog* audit = nullptr;  // when set, fail() notes the refusals recorded by then
  uint64_t refusals_recorded_at_answer = 0;

 private:
  int valid_checks_;
  int checks_ = 0;
};

char g_name[] = "victim";  // at the same address in the forked child

struct Fixture {
  explicit Fixture(const char* policy_text, bool record_names = true) {
    auto parsed = parse_policy(policy_text, "t");
    REQUIRE(parsed.has_value());
    policy = std::move(parsed.value());
    auto opened_ledger = MemfdLedger::open(policy.rules.size());
    auto opened_audit = AuditLog::open(AuditDestination::from_option("/dev/null"), policy.quota);
    REQUIRE(opened_ledger.has_value());
    REQUIRE(opened_audit.has_value());
    ledger.emplace(std::move(opened_ledger.value()));
    audit.emplace(std::move(opened_audit.value()));
    handler.emplace(
        HandlerContext{policy, false, record_names, *ledger, *audit, callers, confinement});
    child = ::fork();
    if (child == 0) {
      for (;;) ::pause();
    }
  }
  ~Fixture() {
    if (reaped) return;  // its pid may be another process's by now
    ::kill(child, SIGKILL);
    ::waitpid(child, nullptr, 0);
  }
  bool child_alive() {
    if (reaped) return false;
    int status = 0;
    pid_t got = ::waitpid(child, &status, WNOHANG);
    reaped = got == child;
    return got == 0;
  }
  TrappedRequest request() {
    TrappedRequest r;
    r.tid = child;
    r.syscall = *classify_syscall(0xc000003e /* AUDIT_ARCH_X86_64 */, 319);
    r.args[0] = reinterpret_cast<uint64_t>(g_name);
    r.args[1] = 0;
    return r;
  }
  Policy policy;
  std::optional<MemfdLedger> ledger;
  std::optional<AuditLog> audit;
  CallerReader callers;
  TreeConfinement confinement;
  std::optional<MemfdCallHandler> handler;
  pid_t child = -1;
  bool reaped = false;
};

}  // namespace

// Each case runs with the caller's names read up front (--record-exe) and read only for a
// refusal, after the decision: either way they are proved by the same pending check.
TEST_CASE("a caller gone after its name was read: recorded as abort, nothing else happens") {
  for (bool record_names : {true, false}) {
    CAPTURE(record_names);
    Fixture f("version = 1\n", record_names);
    FakeChannel gone(0);
    f.handler->handle(f.request(), gone);
    CHECK(gone.deliveries == 0);
    CHECK(gone.answers == 0);
    CHECK(f.audit->count(Decision::kAbort) == 1);
    // Control: the same call with the caller still there is allowed and delivered.
    FakeChannel present(100);
    f.handler->handle(f.request(), present);
    CHECK(present.deliveries == 1);
  }
}

TEST_CASE("a denial and a kill are on record before their answer") {
  for (const char* action : {"deny", "kill"}) {
    CAPTURE(action);
    std::string policy =
        std::string("version = 1\n[[rule]]\nname = \"victim\"\naction = \"") + action + "\"\n";
    Fixture f(policy.c_str());
    FakeChannel channel(100);
    channel.audit = &*f.audit;
    f.handler->handle(f.request(), channel);
    REQUIRE(channel.answers == 1);
    CHECK(channel.refusals_recorded_at_answer == 1);
  }
}

TEST_CASE("a deny decided for a caller that is gone is recorded as abort, and not answered") {
  for (bool record_names : {true, false}) {
    CAPTURE(record_names);
    Fixture f("version = 1\n[[rule]]\nname = \"victim\"\naction = \"deny\"\n", record_names);
    FakeChannel gone(0);
    f.handler->handle(f.request(), gone);
    CHECK(gone.answers == 0);
    CHECK(f.audit->count(Decision::kAbort) == 1);
    CHECK(f.audit->count(Decision::kDeny) == 0);
    // Control: still waiting, it is denied and answered.
    FakeChannel present(100);
    f.handler->handle(f.request(), present);
    CHECK(present.answers == 1);
    CHECK(f.audit->count(Decision::kDeny) == 1);
  }
}

TEST_CASE("a kill decided for a caller that is gone before the signal goes is not sent") {
  for (bool record_names : {true, false}) {
    CAPTURE(record_names);
    Fixture f("version = 1\n[[rule]]\nname = \"victim\"\naction = \"kill\"\n", record_names);
    // Valid for the read check, gone by the check after the pidfd is opened: the pid may now
    // belong to another process, so no signal may go to it.
    FakeChannel reused(1);
    f.handler->handle(f.request(), reused);
    ::usleep(20 * 1000);
    CHECK(f.child_alive());
    // Control: still valid at both checks, and the kill does happen.
    FakeChannel valid(100);
    f.handler->handle(f.request(), valid);
    // SIGKILL is sent, but the child becomes a zombie only once it next runs: on a loaded
    // machine that can take longer than any fixed wait. Up to 5 s.
    for (int i = 0; i < 500 && f.child_alive(); ++i) ::usleep(10 * 1000);
    CHECK_FALSE(f.child_alive());
  }
}

}  // namespace warden
