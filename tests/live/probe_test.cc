// Live: `memfd-warden probe` must say what the running kernel really does. Each feature is
// checked here independently of the probe's own code, and the backend auto picks is checked by
// its behaviour (a target may ptrace under user notification, not under ptrace).
#include <doctest/doctest.h>
#include <fcntl.h>
#include <linux/seccomp.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <iterator>
#include <map>
#include <regex>
#include <sstream>

#include "tests/live/harness.h"

namespace warden::test {
namespace {

std::map<std::string, bool> parse_probe(const std::string& text) {
  std::map<std::string, bool> out;
  std::regex line("^([^:]+): (yes|no)$");
  std::istringstream lines(text);
  std::string each;
  while (std::getline(lines, each)) {
    std::smatch m;
    if (std::regex_match(each, m, line)) out[m[1]] = m[2] == "yes";
  }
  return out;
}

}  // namespace

TEST_CASE("probe reports what the kernel does, and auto picks by it") {
  auto run = run_warden_raw({"probe"});
  REQUIRE(run.exit_code == 0);
  auto found = parse_probe(run.out);
  REQUIRE(found.size() == 9);

  uint32_t action = SECCOMP_RET_USER_NOTIF;
  bool user_notification = ::syscall(SYS_seccomp, SECCOMP_GET_ACTION_AVAIL, 0, &action) == 0;
  CHECK(found["user notification (5.0)"] == user_notification);

  int sealed = ::memfd_create("t", 0x8 /* MFD_NOEXEC_SEAL */);
  CHECK(found["MFD_NOEXEC_SEAL (6.3)"] == (sealed >= 0));
  if (sealed >= 0) ::close(sealed);

  int secret = static_cast<int>(::syscall(447, 0));
  CHECK(found["memfd_secret (5.14)"] == (secret >= 0));
  // x32: a kernel without it answers ENOSYS to every x32 call (getpid here).
  CHECK(found["x32 ABI"] == (::syscall(0x40000000 | 39) >= 0));
  if (secret >= 0) ::close(secret);

  int self = static_cast<int>(::syscall(SYS_pidfd_open, ::getpid(), 0));
  int copy = static_cast<int>(::syscall(SYS_pidfd_getfd, self, STDERR_FILENO, 0));
  CHECK(found["pidfd_getfd (5.6)"] == (copy >= 0));
  ::close(copy);
  ::close(self);

  pid_t child = ::fork();
  if (child == 0) {
    ::pause();
    _exit(0);
  }
  bool seized = ::ptrace(PTRACE_SEIZE, child, nullptr, nullptr) == 0;
  ::kill(child, SIGKILL);
  ::waitpid(child, nullptr, 0);
  CHECK(found["ptrace"] == seized);

  bool killable = with_child_listener(
      SECCOMP_FILTER_FLAG_NEW_LISTENER | SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV, nullptr);
  CHECK(found["WAIT_KILLABLE_RECV (5.19)"] == killable);

  bool sync_wake_up = false;
  with_child_listener(SECCOMP_FILTER_FLAG_NEW_LISTENER, [&](int listener) {
    sync_wake_up = ::ioctl(listener, SECCOMP_IOW(4, __u64), 1UL) == 0;
  });
  CHECK(found["SYNC_WAKE_UP (6.6)"] == sync_wake_up);

  // ADDFD+SEND, by its use: the unotify backend installs every allowed memfd with it.
  auto installed = run_warden_raw({"run", "--backend", "unotify", "--audit", "/dev/null", "--",
                                   probe_bin(), "create", "probe-check", "0"});
  CHECK(found["ADDFD with SEND (5.14)"] == (installed.exit_code == 0));

  // auto: unotify lets the target ptrace its own child; the ptrace backend cannot.
  bool unotify = found["user notification (5.0)"] && found["ADDFD with SEND (5.14)"] &&
                 found["pidfd_getfd (5.6)"];
  CHECK(run.out.find(std::string("auto backend: ") + (unotify ? "unotify" : "ptrace")) !=
        std::string::npos);
  auto chosen =
      spawn_warden_auto({"run", "--audit", "/dev/null", "--", probe_bin(), "ptrace-child"});
  CHECK(chosen.exit_code == (unotify ? 0 : EPERM));
}

// A kernel before 5.14 answers ADDFD with SEND with EINVAL. The run does not probe it in a thread
// of its own: the launched child asks its listener, before anything of the target's runs. Here a
// filter on memfd-warden (warden_probe addfd-einval) makes every ADDFD fail so.
TEST_CASE(
    "without ADDFD+SEND, auto starts the target under ptrace and unotify stops before it ran") {
  TempDir dir;
  auto policy = policy_denying_evil(dir);
  for (bool root : {true, false}) {
    CAPTURE(root);  // not root: no PID namespace, the launch goes through Boost.Process
    std::filesystem::permissions(dir.path(), std::filesystem::perms::all);
    Args as_user =
        root ? Args{} : Args{"setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"};
    auto wrapped = [&](const Args& warden_args, const Args& command) {
      Args args = as_user;
      args.push_back(probe_bin());
      args.insert(args.end(), {"addfd-einval", warden_bin(), "run"});
      args.insert(args.end(), warden_args.begin(), warden_args.end());
      args.push_back("--");
      args.insert(args.end(), command.begin(), command.end());
      return run_native(args);
    };
    // auto: the ptrace backend, which a target that traces its own child tells (EPERM), and
    // which decides the calls by the same policy.
    auto traced =
        wrapped({"--log-level", "info", "--audit", "/dev/null"}, {probe_bin(), "ptrace-child"});
    CHECK(traced.exit_code == EPERM);
    CHECK(traced.err.find("kernel lacks ADDFD with SEND: using the ptrace backend") !=
          std::string::npos);
    std::string audit = dir.file(root ? "root.jsonl" : "user.jsonl");
    auto denied =
        wrapped({"--policy", policy, "--audit", audit}, {probe_bin(), "create", "evil-x"});
    CHECK(denied.exit_code == EDOM);
    read_audit(audit, denied);
    REQUIRE(denied.decisions.size() == 1);
    CHECK(denied.decisions[0]["decision"] == "deny");
    // With strict_writes the child's report through its pipe is itself a trapped write (to a
    // listener nobody holds): the word on the handshake socket must carry it. Either way the
    // program runs once, under ptrace (auto), or not at all (unotify), with a clear error.
    for (bool strict : {false, true}) {
      CAPTURE(strict);
      Args quota = strict ? Args{"--strict-writes", "--max-bytes", "1G"} : Args{};
      std::string tag = std::string(root ? "root" : "user") + (strict ? "-strict" : "");
      std::string ran = dir.file("ran-" + tag);
      Args once = quota;
      once.insert(once.end(), {"--audit", "/dev/null"});
      auto auto_run = wrapped(once, {"/bin/sh", "-c", "echo ran >> " + ran});
      CHECK(auto_run.exit_code == 0);
      std::ifstream lines(ran);
      std::string text((std::istreambuf_iterator<char>(lines)), std::istreambuf_iterator<char>());
      CHECK(text == "ran\n");
      std::string mark = dir.file("mark-" + tag);
      Args unotify = quota;
      unotify.insert(unotify.end(), {"--backend", "unotify", "--audit", "/dev/null"});
      auto refused = wrapped(unotify, {"/bin/sh", "-c", "touch " + mark});
      CHECK(refused.exit_code == 125);
      CHECK(refused.err.find("lacks SECCOMP_IOCTL_NOTIF_ADDFD with SECCOMP_ADDFD_FLAG_SEND") !=
            std::string::npos);
      CHECK_FALSE(std::filesystem::exists(mark));
    }
    // The PID namespace warning (not root) comes once, though auto launched twice.
    if (!root) {
      std::string warning = "cannot make a PID namespace";
      auto first = traced.err.find(warning);
      CHECK(first != std::string::npos);
      CHECK(traced.err.find(warning, first + 1) == std::string::npos);
    }
  }
  // The control: the same runs without the filter use user notification.
  auto control =
      spawn_warden_auto({"run", "--audit", "/dev/null", "--", probe_bin(), "ptrace-child"});
  CHECK(control.exit_code == 0);
  auto control_unotify =
      spawn_warden_auto({"run", "--backend", "unotify", "--audit", "/dev/null", "--", "/bin/sh",
                         "-c", "touch " + dir.file("ran-control")});
  CHECK(control_unotify.exit_code == 0);
  CHECK(std::filesystem::exists(dir.file("ran-control")));
}

// A memfd-warden under another's listener cannot load its own (a task is under one listener
// at most; under the ptrace backend memfd-warden's filter refuses a new listener with the same
// EBUSY): a clear error that says so, not a guess about the kernel.
TEST_CASE("memfd-warden under another memfd-warden says why it cannot start its own listener") {
  // LeakSanitizer (the CI's ASan stage) stops the world with ptrace at exit, which a target under
  // the ptrace backend may not use, and then exits 1: the inner one's leak check is off.
  const char* asan = std::getenv("ASAN_OPTIONS");
  std::string no_leak_check =
      std::string("ASAN_OPTIONS=") + (asan ? std::string(asan) + ":" : "") + "detect_leaks=0";
  auto run = run_warden({}, {"env", no_leak_check, warden_bin(), "run", "--backend", "unotify",
                             "--audit", "/dev/null", "--", "/bin/true"});
  CHECK(run.exit_code == 125);
  CHECK(run.err.find("already runs under a seccomp listener") != std::string::npos);

  // Nor under ptrace: the outer listener's USER_NOTIF outranks RET_TRACE, so the outer
  // memfd-warden would see the target's memfd_create first and allow it, and the inner policy
  // (deny everything) would never be asked. The inner one refuses before the program runs.
  TempDir dir;
  std::string ran = dir.file("ran");
  std::string created = "import os; os.memfd_create('inner-denied'); open('" + ran + "', 'w')";
  Args inner{"env",  no_leak_check, warden_bin(), "run", "--backend", "ptrace", "--default",
             "deny", "--audit",     "/dev/null",  "--",  "python3",   "-c",     created};
  // The outer one is auto, so user notification here whatever the suite's backend: under an
  // outer ptrace backend the inner one cannot even seize its child.
  Args outer{"run", "--audit", dir.file("outer.jsonl"), "--"};
  outer.insert(outer.end(), inner.begin(), inner.end());
  auto nested = spawn_warden_auto(outer);
  read_audit(dir.file("outer.jsonl"), nested);
  REQUIRE(nested.start.has_value());
  INFO(nested.err);
  CHECK(nested.exit_code == 125);
  CHECK(nested.err.find("could let it through") != std::string::npos);
  CHECK_FALSE(std::filesystem::exists(ran));
  for (const auto& decision : nested.decisions) {  // the outer one saw none of the program's
    CHECK(decision["name"] != "inner-denied");
  }
  // The control: the same inner run on its own enforces its policy.
  Args alone(inner.begin() + 2, inner.end());
  auto control = run_native(alone);
  CHECK(control.exit_code == 1);  // python's PermissionError
  CHECK_FALSE(std::filesystem::exists(ran));
  Args allowing = alone;
  allowing[5] = "allow";
  CHECK(run_native(allowing).exit_code == 0);
  CHECK(std::filesystem::exists(ran));

  // probe says the same: neither backend, not a guess.
  auto probed = run_warden({}, {"env", no_leak_check, warden_bin(), "probe"});
  CHECK(probed.exit_code == 1);
  CHECK(probed.out.find("auto backend: none") != std::string::npos);
  CHECK(probed.out.find("ADDFD with SEND (5.14): unknown") != std::string::npos);
  CHECK(probed.out.find("runs under a seccomp listener") != std::string::npos);
}

TEST_CASE("probe short of fds or processes says unknown, never guesses, and kills nothing") {
  // Out of fds: pidfd_getfd, the test filter's listener and the test memfds cannot be tried.
  // (Not in the sanitizer builds: their runtimes, and the shared libraries they link, need file
  // descriptors of their own; kSanitizerThreads is true in both of them.)
  if (!kSanitizerThreads) {
    auto short_of_fds = run_native({"sh", "-c", "ulimit -n 4; exec " + warden_bin() + " probe"});
    CHECK(short_of_fds.exit_code == 1);
    CHECK(short_of_fds.out.find("probe error: ") != std::string::npos);
    CHECK(short_of_fds.out.find("pidfd_getfd (5.6): unknown") != std::string::npos);
    CHECK(short_of_fds.out.find("auto backend: unknown") != std::string::npos);
    CHECK(short_of_fds.out.find("byte quotas unavailable") == std::string::npos);
  }
  auto control = run_warden_raw({"probe"});
  CHECK(control.exit_code == 0);
  CHECK(control.out.find("unknown") == std::string::npos);

  // Out of processes (RLIMIT_NPROC, as a user of its own whose only other process is a
  // sleeper): no thread and no child can be made. The answers they decide are unknown, and the
  // sleeper lives: a failed fork must never become kill(-1, SIGKILL).
  if (kSanitizerThreads) {
    MESSAGE("skipped in a sanitizer build: its runtime's own threads fail under the same limit");
    return;
  }
  // 62500-64999, apart from audit_integrity_test.cc's 60000-62499: the two may run side by
  // side, and each would count the other's processes.
  std::string uid = std::to_string(62500 + ::getpid() % 2500);
  std::string script = "sleep 30 & S=$!; " + warden_bin() +
                       " probe; echo probe=$?; kill -0 $S && echo sleeper-alive; kill $S";
  auto short_of_processes = run_native({"prlimit", "--nproc=3", "setpriv", "--reuid", uid,
                                        "--regid", uid, "--clear-groups", "sh", "-c", script});
  INFO(short_of_processes.out);
  INFO(short_of_processes.err);
  CHECK(short_of_processes.out.find("probe=1") != std::string::npos);
  CHECK(short_of_processes.out.find("sleeper-alive") != std::string::npos);
  CHECK(short_of_processes.out.find("ptrace: unknown") != std::string::npos);
  CHECK(short_of_processes.out.find("auto backend: unknown") != std::string::npos);
}

}  // namespace warden::test
