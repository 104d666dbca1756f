// Live: memfd-warden behaves like the program it wraps: exit statuses pass through, signals sent
// to it reach the target, and its own failures use the shell's codes (125, 126, 127).
#include <doctest/doctest.h>
#include <elf.h>
#include <sys/stat.h>

#include <csignal>
#include <cstdio>
#include <cstring>
#include <fstream>

#include "tests/live/harness.h"

namespace warden::test {

TEST_CASE("exit status passes through - death by signal N is 128+N") {
  CHECK(run_warden({}, {probe_bin(), "exit", "7"}).exit_code == 7);
  CHECK(run_warden({}, {probe_bin(), "exit", "0"}).exit_code == 0);
  CHECK(run_warden({}, {probe_bin(), "raise", "15"}).exit_code == 128 + 15);
  CHECK(run_warden({}, {probe_bin(), "raise", "6"}).exit_code == 128 + 6);
  auto run = run_warden({}, {probe_bin(), "exit", "42"});
  CHECK(run.summary.value()["exit_status"] == 42);
}

TEST_CASE("SIGINT, SIGTERM and SIGHUP sent to memfd-warden reach the target") {
  for (int sig : {SIGTERM, SIGINT, SIGHUP}) {
    CAPTURE(sig);
    LiveRun live({}, {probe_bin(), "wait-signal"});
    REQUIRE(live.wait_for_line("ready"));
    live.signal_warden(sig);
    auto run = live.finish();
    CHECK(run.exit_code == 40 + sig);  // the target's handler saw it and exited 40+N
  }
  LiveRun live({}, {probe_bin(), "wait-default"});
  REQUIRE(live.wait_for_line("ready"));
  live.signal_warden(SIGTERM);
  CHECK(live.finish().exit_code == 128 + SIGTERM);
}

TEST_CASE("a missing program is 127, a non-executable one 126, with a message") {
  auto missing = run_warden({}, {"/nonexistent/program"});
  CHECK(missing.exit_code == 127);
  CHECK(missing.err.find("/nonexistent/program") != std::string::npos);
  auto not_in_path = run_warden({}, {"no-such-command-memfd-warden"});
  CHECK(not_in_path.exit_code == 127);
  CHECK(not_in_path.err.find("not found") != std::string::npos);

  TempDir dir;
  std::string plain = dir.write("not-executable", "#!/bin/sh\nexit 0\n");
  ::chmod(plain.c_str(), 0644);
  auto denied = run_warden({}, {plain});
  CHECK(denied.exit_code == 126);
  CHECK(denied.err.find("cannot execute") != std::string::npos);
  CHECK(run_warden({}, {dir.path().string()}).exit_code == 126);  // a directory

  // The summary: a program that never ran left no orphans to count (null), and said no error of
  // memfd-warden's own; a program that ran and exited 126 itself has its orphans counted (0).
  for (const auto* run : {&missing, &denied}) {
    REQUIRE(run->summary.has_value());
    CHECK((*run->summary)["orphans_ended"].is_null());
    CHECK((*run->summary)["error"].is_null());
  }
  auto ran = run_warden({}, {"sh", "-c", "exit 126"});
  CHECK(ran.exit_code == 126);
  CHECK((*ran.summary)["orphans_ended"] == 0);
}

TEST_CASE("memfd-warden's own failure is 125 with a message that says what failed") {
  // Starve memfd-warden of file descriptors at each step of its setup. Every outcome must be a
  // clean 125 with the reason (or success, once there are enough). This once found
  // kill(-1, SIGKILL) on a Boost.Process failure path, so it runs in a PID namespace of its own
  // where such a bug cannot reach past the namespace. (127 is the dynamic loader failing to load
  // memfd-warden itself, before any of our code runs, in a build that links glibc shared; the
  // default build is static and gets as far as opening the audit log, whose EMFILE must be 125
  // like the rest, not the 2 of a bad --audit path below.)
  if (kSanitized) {
    MESSAGE("skipped in the sanitizer build: ASan's runtime needs file descriptors of its own");
    return;
  }
  bool saw_fd_failure = false, saw_sealed_failure = false;
  TempDir dir;
  for (int limit = 4; limit <= 12; ++limit) {
    CAPTURE(limit);
    // A file that opened before the failure must end sealed, with the reason in its summary.
    std::string audit = dir.file("audit-" + std::to_string(limit) + ".jsonl");
    auto run = run_native({"unshare", "--fork", "--pid", "--mount-proc", "/bin/sh", "-c",
                           "ulimit -n " + std::to_string(limit) + "; exec " + warden_bin() +
                               " run " + backend_flag() + "--audit " + audit + " -- /bin/true"});
    INFO("exit " << run.exit_code << " err " << run.err);
    CHECK((run.exit_code == 0 || run.exit_code == 125 || run.exit_code == 127));
    if (run.exit_code == 125) {
      CHECK(run.err.find("memfd-warden: error:") != std::string::npos);
      saw_fd_failure = saw_fd_failure || run.err.find("Too many open files") != std::string::npos;
      std::ifstream in(audit);
      if (in.peek() != std::ifstream::traits_type::eof()) {
        read_audit(audit, run);
        REQUIRE(run.summary.has_value());
        CHECK((*run.summary)["exit_status"] == 125);
        CHECK(run.err.find((*run.summary)["error"].get<std::string>()) != std::string::npos);
        CHECK(run_warden_raw({"verify", audit}).exit_code == 0);
        saw_sealed_failure = true;
      }
    }
  }
  CHECK(saw_fd_failure);
  CHECK(saw_sealed_failure);
  CHECK(run_warden_raw({"run", "--audit", "/dev/null", "--", "/bin/true"}).exit_code == 0);
  // The control: an audit path that cannot be opened is the command line's fault.
  auto bad_path = run_warden_raw({"run", "--audit", "/nonexistent/audit.jsonl", "--", "/bin/true"});
  CHECK(bad_path.exit_code == 2);
  CHECK(bad_path.err.find("/nonexistent/audit.jsonl") != std::string::npos);
}

TEST_CASE("short of inotify watches, a memfd that cannot be tracked is refused, not let through") {
  // Counting live memfds takes a watch per memfd (user.max_inotify_watches in a namespace of our
  // own, on top of the host's limit). Here 3: the audit file's and two memfds'. The third create
  // fails closed (EMFILE, reason "untrackable"), naming the limit to raise.
  TempDir dir;
  std::string audit = dir.file("audit.jsonl");
  auto run = [&](int watches, const std::string& extra = "") {
    std::remove(audit.c_str());
    std::string script =
        "export ASAN_OPTIONS=\"${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0\"; echo " +
        std::to_string(watches) + " > /proc/sys/user/max_inotify_watches && exec " + warden_bin() +
        " run " + backend_flag() + extra + " --count-live --audit " + audit +
        " --log-level error -- " + probe_bin() + " many 5";
    auto result = run_native({"unshare", "-Ur", "/bin/sh", "-c", script});
    read_audit(audit, result);
    return result;
  };
  auto starved = run(3);
  INFO(starved.err);
  CHECK(starved.count("allow") == 2);
  if (backend() == "ptrace") {
    // The caller's own call has made the third memfd by the time it can be watched: it cannot be
    // taken back, so the caller is killed, and the record says so.
    CHECK(starved.exit_code == 128 + SIGKILL);
    REQUIRE(starved.count("kill") == 1);
  } else {
    CHECK(starved.fact_number("made") == 2);
    CHECK(starved.fact_number("errno") == EMFILE);
    REQUIRE(starved.count("deny") == 1);
  }
  CHECK(starved.decisions.back()["reason"] == "untrackable");
  CHECK(starved.err.find("raise fs.inotify.max_user_watches") != std::string::npos);
  auto control = run(100);
  CHECK(control.fact_number("made") == 5);
  CHECK(control.count("deny") == 0);
  // A dry run lets through what the policy would refuse, not this: the same refusal, for real.
  auto dry = run(3, " --dry-run");
  INFO(dry.err);
  CHECK(dry.count("allow") == 2);
  CHECK(dry.count("would-deny") == 0);
  if (backend() == "ptrace") {
    CHECK(dry.exit_code == 128 + SIGKILL);
    CHECK(dry.count("kill") == 1);
  } else {
    CHECK(dry.fact_number("made") == 2);
    CHECK(dry.fact_number("errno") == EMFILE);
    CHECK(dry.count("deny") == 1);
  }
  CHECK(dry.decisions.back()["reason"] == "untrackable");
}

TEST_CASE("short of inotify instances, only what needs one fails, naming the limit to raise") {
  // inotify instances are per user, and each user namespace has its own limit on top of the
  // host's (user.max_inotify_instances): a namespace of our own lets a test use them up without
  // touching the host's. The default policy with no audit file needs none; a file destination
  // (its rename and unlink watch) and a count of live memfds need one each.
  TempDir dir;
  std::string audit = dir.file("audit.jsonl");
  auto run = [&](int instances, const std::string& args) {
    std::remove(audit.c_str());
    // (LeakSanitizer's exit check cannot trace memfd-warden, which is not dumpable, from inside
    // a user namespace: the sanitizer build runs without it here.)
    std::string script =
        "export ASAN_OPTIONS=\"${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0\"; "
        "echo " +
        std::to_string(instances) + " > /proc/sys/user/max_inotify_instances && exec " +
        warden_bin() + " run " + backend_flag() + args + " --log-level error -- " + probe_bin() +
        " create made 0";
    return run_native({"unshare", "-Ur", "/bin/sh", "-c", script});
  };
  std::string file = " --audit " + dir.file("audit.jsonl");
  struct Case {
    int instances;
    std::string args;
    int exit_code;
    const char* needs;  // what the error names
  } cases[] = {
      {0, " --audit /dev/null", 0, nullptr},
      {0, file, 125, "watching the audit log"},
      {0, " --count-live --audit /dev/null", 125, "watching memfds to count the live ones"},
      {1, file, 0, nullptr},
      {1, " --count-live --audit /dev/null", 0, nullptr},
      {1, " --count-live" + file, 125, "watching memfds to count the live ones"},
      {2, " --count-live" + file, 0, nullptr},
      {0, " --max-live 5 --audit /dev/null", 125, "watching memfds to count the live ones"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.instances);
    CAPTURE(c.args);
    auto result = run(c.instances, c.args);
    INFO("err: " << result.err);
    CHECK(result.exit_code == c.exit_code);
    if (c.needs != nullptr) {
      CHECK(result.err.find(c.needs) != std::string::npos);
      CHECK(result.err.find("raise fs.inotify.max_user_instances") != std::string::npos);
      CHECK(result.out.find("fd=") == std::string::npos);  // the target never ran
      if (c.args.find(" --audit /dev/null") == std::string::npos) {
        // The audit file opened, whatever failed next (its own watch, or the ledger): the run
        // is in it all the same, sealed, saying why.
        read_audit(audit, result);
        REQUIRE(result.summary.has_value());
        CHECK((*result.summary)["exit_status"] == 125);
        CHECK((*result.summary)["error"].get<std::string>().find(c.needs) != std::string::npos);
        CHECK(run_warden_raw({"verify", audit}).exit_code == 0);
        auto report = run_warden_raw({"report", audit});
        CHECK(report.out.find("memfd-warden failed: " + std::string(c.needs)) != std::string::npos);
      }
    } else {
      CHECK(result.fact("link") == "/memfd:made (deleted)");
    }
  }
}

TEST_CASE("stdin, stdout, environment and working directory pass through") {
  auto run = run_native({"/bin/sh", "-c",
                         "cd /tmp && echo piped | WARDEN_TEST_VAR=seen " + warden_bin() + " run " +
                             backend_flag() +
                             "--audit /dev/null -- /bin/sh -c "
                             "'read line; echo \"line=$line\"; echo \"var=$WARDEN_TEST_VAR\"; "
                             "echo \"cwd=$(pwd)\"'"});
  CHECK(run.exit_code == 0);
  CHECK(run.fact("line") == "piped");
  CHECK(run.fact("var") == "seen");
  CHECK(run.fact("cwd") == "/tmp");
}

TEST_CASE("the default build's memfd-warden needs no shared library: no program interpreter") {
  // A dynamic ELF names its loader in a PT_INTERP segment; -static-pie has none, and its own
  // PT_DYNAMIC only relocates itself (docs/containers.md, docs/performance.md).
#ifndef WARDEN_STATIC_BUILD
  MESSAGE("not the static build (WARDEN_STATIC_DEPS=OFF, or a sanitizer build); nothing checked");
#else
  std::ifstream file(warden_bin(), std::ios::binary);
  Elf64_Ehdr header{};
  REQUIRE(file.read(reinterpret_cast<char*>(&header), sizeof(header)));
  REQUIRE(std::memcmp(header.e_ident, ELFMAG, SELFMAG) == 0);
  CHECK(header.e_type == ET_DYN);  // position-independent: ASLR applies
  size_t interpreters = 0, loads = 0;
  for (unsigned i = 0; i < header.e_phnum; ++i) {
    Elf64_Phdr segment{};
    file.seekg(static_cast<std::streamoff>(header.e_phoff + i * header.e_phentsize));
    REQUIRE(file.read(reinterpret_cast<char*>(&segment), sizeof(segment)));
    if (segment.p_type == PT_INTERP) ++interpreters;
    if (segment.p_type == PT_LOAD) ++loads;
  }
  CHECK(loads > 0);  // the headers were read
  CHECK(interpreters == 0);
#endif
}

}  // namespace warden::test
