// Live: the target cannot erase or forge the record of what it did. A hostile target whose
// memfd_create was denied truncates, rewrites, appends to, unlinks or renames the audit log, or
// writes to memfd-warden's audit fd or socket; as root (the default privileges, and --user
// nobody) and as the same unprivileged user as memfd-warden. `memfd-warden verify` must catch
// every change that got through, and the destinations out of the target's reach must come out
// untouched.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <thread>
#include <vector>

#include "tests/live/harness.h"

namespace warden::test {
namespace {

constexpr const char* kModes[] = {"truncate", "rewrite", "append", "unlink", "rename", "relink"};

// memfd-warden as the unprivileged user nobody (what most CI jobs are: one user for both).
Args as_nobody(const Args& args) {
  Args out{"setpriv", "--reuid", "65534", "--regid", "65534", "--clear-groups", warden_bin()};
  out.insert(out.end(), args.begin(), args.end());
  return out;
}

// `memfd-warden run` arguments with the suite's backend.
Args run_args(const Args& options, const Args& command) {
  Args out{"run"};
  if (!backend().empty()) out.insert(out.end(), {"--backend", backend()});
  out.insert(out.end(), options.begin(), options.end());
  out.push_back("--");
  out.insert(out.end(), command.begin(), command.end());
  return out;
}

RunResult verify(const std::string& path) { return spawn_warden_auto({"verify", path}); }

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// A directory nobody may write in, for the unprivileged runs.
void give_to_nobody(const TempDir& dir) {
  REQUIRE(::chown(dir.path().c_str(), 65534, 65534) == 0);
  REQUIRE(::chmod(dir.path().c_str(), 0755) == 0);
}

// Runs ARGS with a pipe's write end as fd 3; returns what came out of the pipe, and the status.
std::pair<std::string, int> run_with_pipe(const Args& args) {
  int pipe_fds[2];
  REQUIRE(::pipe2(pipe_fds, O_CLOEXEC) == 0);
  pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    ::dup2(pipe_fds[1], 3);  // without CLOEXEC: inherited
    int null = ::open("/dev/null", O_RDWR);
    ::dup2(null, 0);
    ::dup2(null, 1);
    std::vector<char*> argv;
    for (const auto& arg : args) argv.push_back(const_cast<char*>(arg.c_str()));
    argv.push_back(nullptr);
    ::execvp(argv[0], argv.data());
    _exit(127);
  }
  ::close(pipe_fds[1]);
  std::string collected;
  char buffer[4096];
  for (ssize_t got; (got = ::read(pipe_fds[0], buffer, sizeof(buffer))) > 0;) {
    collected.append(buffer, static_cast<size_t>(got));
  }
  ::close(pipe_fds[0]);
  int status = 0;
  ::waitpid(child, &status, 0);
  return {collected, WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status)};
}

// A unix stream listener that keeps what each connection sends, in the order they connected.
class Collector {
 public:
  explicit Collector(const std::string& path) : path_(path) {
    listener_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::strncpy(address.sun_path, path.c_str(), sizeof(address.sun_path) - 1);
    REQUIRE(::bind(listener_, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0);
    REQUIRE(::chmod(path.c_str(), 0777) == 0);
    REQUIRE(::listen(listener_, 8) == 0);
    thread_ = std::thread([this] { serve(); });
  }
  ~Collector() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    ::close(listener_);
  }
  // Waits for every connection to end (up to a few seconds), then returns their data.
  std::vector<std::string> finish() {
    for (int i = 0; i < 500 && open_connections() > 0; ++i) ::usleep(10 * 1000);
    stop_ = true;
    thread_.join();
    return streams_;
  }

 private:
  int open_connections() const { return open_.load(); }
  void serve() {
    std::vector<pollfd> fds{{listener_, POLLIN, 0}};
    std::vector<size_t> index;
    while (!stop_) {
      if (::poll(fds.data(), fds.size(), 20) <= 0) continue;
      if (fds[0].revents & POLLIN) {
        int connection = ::accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
        if (connection >= 0) {
          fds.push_back({connection, POLLIN, 0});
          index.push_back(streams_.size());
          streams_.emplace_back();
          ++open_;
        }
      }
      for (size_t i = 1; i < fds.size(); ++i) {
        if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP))) continue;
        char buffer[4096];
        ssize_t got = ::read(fds[i].fd, buffer, sizeof(buffer));
        if (got > 0) {
          streams_[index[i - 1]].append(buffer, static_cast<size_t>(got));
        } else {
          ::close(fds[i].fd);
          fds[i].fd = -1;
          --open_;
        }
      }
    }
  }
  std::string path_;
  int listener_ = -1;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::atomic<int> open_{0};
  std::vector<std::string> streams_;
};

std::string write_temp(const TempDir& dir, const std::string& name, const std::string& text) {
  return dir.write(name, text);
}

}  // namespace

TEST_CASE("a root target cannot touch memfd-warden's audit file: it stays complete and verifies") {
  for (const Args& who : {Args{}, Args{"--user", "nobody"}}) {
    for (const char* mode : kModes) {
      CAPTURE(who.size());
      CAPTURE(mode);
      TempDir dir;
      std::string log = dir.file("audit.jsonl");
      Args options = who;
      options.insert(options.end(), {"--deny", "evil", "--audit", log});
      auto run = spawn_warden_auto(run_args(options, {attack_bin(), "tamper", mode, log}));
      CHECK(run.exit_code == 0);
      auto checked = verify(log);
      CHECK(checked.exit_code == 0);
      CHECK(checked.out.find("complete and unaltered") != std::string::npos);
      RunResult records;
      read_audit(log, records);
      CHECK(records.count("deny") == 1);  // the record the target wanted gone
      CHECK(records.tamper.empty());
      // Afterwards the file is an ordinary one again (the append-only flag is lifted).
      std::ofstream(log, std::ios::app) << "";
      CHECK(::truncate(log.c_str(), 0) == 0);
    }
  }
}

TEST_CASE(
    "on a file system without the append-only flag, memfd-warden warns and still hides the log") {
  // ramfs keeps no file attributes. It is mounted in a mount namespace of the run's own, where
  // the log is verified too before the namespace goes.
  TempDir dir;
  std::string log = dir.file("audit.jsonl");
  Args command{"unshare",
               "-m",
               "sh",
               "-c",
               "mount -t ramfs none \"$0\" && \"$@\"; status=$?; \"$1\" verify \"$0/audit.jsonl\" "
               ">/dev/null && echo verified=1; exit $status",
               dir.path().string(),
               warden_bin()};
  for (const auto& arg :
       run_args({"--deny", "evil", "--audit", log}, {attack_bin(), "tamper", "truncate", log})) {
    command.push_back(arg);
  }
  auto run = run_native(command);
  CHECK(run.exit_code == 0);
  CHECK(run.err.find("cannot make the audit log append-only for the run") != std::string::npos);
  CHECK(run.fact("tampered") != "0");  // the path leads the target to a read-only /dev/null
  CHECK(run.fact("verified") == "1");
  // Control: on such a mount, without memfd-warden, the same truncation succeeds.
  auto native =
      run_native({"unshare", "-m", "sh", "-c",
                  "mount -t ramfs none \"$0\" && echo x > \"$0/audit.jsonl\" && exec \"$@\"",
                  dir.path().string(), attack_bin(), "tamper", "truncate", log});
  CHECK(native.fact("tampered") == "0");
}

TEST_CASE("as the same unprivileged user the target can change the file, and verify says where") {
  for (const char* mode : kModes) {
    CAPTURE(mode);
    TempDir dir;
    give_to_nobody(dir);
    std::string log = dir.file("audit.jsonl");
    auto run = run_native(as_nobody(
        run_args({"--deny", "evil", "--audit", log}, {attack_bin(), "tamper", mode, log})));
    REQUIRE(run.exit_code == 0);
    REQUIRE(run.fact("tampered") == "0");  // nothing stopped it
    auto checked = verify(log);
    CHECK(checked.exit_code == 1);
    CHECK(checked.out.find("NOT intact") != std::string::npos);
    std::string mode_name = mode;
    if (mode_name == "truncate" || mode_name == "unlink" || mode_name == "rename" ||
        mode_name == "relink") {
      // Noticed during the run, on stderr and (where the file still gets our records) in it.
      // A link elsewhere and an unlink here moves it as a rename does.
      std::string seen = mode_name == "truncate" ? "truncated" : mode_name + "ed";
      if (mode_name == "rename" || mode_name == "relink") seen = "renamed";
      CHECK(run.err.find("the audit log was " + seen) != std::string::npos);
    }
    if (mode_name == "truncate") {
      RunResult records;
      read_audit(log, records);
      REQUIRE(records.tamper.size() == 1);
      CHECK(records.tamper[0]["what"] == "truncated");
      // The size seen, below what memfd-warden had written by then (the start record at least).
      REQUIRE(records.tamper[0]["size"].is_number_unsigned());
      REQUIRE(records.tamper[0]["expected_at_least"].is_number_unsigned());
      CHECK(records.tamper[0]["size"] < records.tamper[0]["expected_at_least"]);
      CHECK(records.tamper[0]["expected_at_least"] > 100);
      CHECK(records.summary.value()["audit_tampering"] == "truncated");
    }
    if (mode_name == "rename" || mode_name == "relink") {
      // The records went on into the file where it was moved: complete there, and saying so.
      CHECK(verify(log + ".moved").exit_code == 0);
      RunResult moved;
      read_audit(log + ".moved", moved);
      CHECK(moved.summary.value()["audit_tampering"] == "renamed");
    }
  }
}

TEST_CASE("a symlink on the log's path re-pointed is seen once the log's own attributes change") {
  TempDir dir;
  give_to_nobody(dir);
  std::filesystem::create_directory(dir.path() / "real");
  REQUIRE(::chown((dir.path() / "real").c_str(), 65534, 65534) == 0);
  std::filesystem::create_directory_symlink("real", dir.path() / "current");
  REQUIRE(::lchown((dir.path() / "current").c_str(), 65534, 65534) == 0);
  std::string log = dir.file("current/audit.jsonl");
  auto run = run_native(as_nobody(
      run_args({"--deny", "evil", "--audit", log}, {attack_bin(), "tamper", "repoint", log})));
  INFO(run.out << run.err);
  REQUIRE(run.exit_code == 0);
  REQUIRE(run.fact("tampered") == "0");
  CHECK(run.err.find("the audit log was renamed") != std::string::npos);
  RunResult real;
  read_audit(dir.file("real/audit.jsonl"), real);  // the run's log, where it really is
  CHECK(real.summary.value()["audit_tampering"] == "renamed");
  CHECK(verify(dir.file("real/audit.jsonl")).exit_code == 0);
  CHECK(verify(log).exit_code != 0);  // the fake the path leads to now
}

TEST_CASE(
    "a run memfd-warden cannot supervise (no thread left to it) still ends sealed, saying why") {
  // RLIMIT_NPROC 1: the backend's thread cannot be made (std::system_error). The limit counts
  // the user's processes, so the run is a user of its own: as nobody, other tests' processes
  // would make even its execve fail.
  if (kSanitizerThreads) {
    MESSAGE("skipped in a sanitizer build: its runtime's own threads fail under the same limit");
    return;
  }
  // 60000-62499, apart from probe_test.cc's 62500-64999: the two may run side by side, and each
  // would count the other's processes.
  auto id = static_cast<uid_t>(60000 + ::getpid() % 2500);
  std::string uid = std::to_string(id);
  TempDir dir;
  REQUIRE(::chown(dir.path().c_str(), id, id) == 0);
  std::string log = dir.file("audit.jsonl");
  Args as_own_user{"setpriv", "--reuid", uid, "--regid", uid, "--clear-groups", warden_bin()};
  for (const auto& arg : run_args({"--audit", log}, {"/bin/true"})) as_own_user.push_back(arg);
  Args command{"prlimit", "--nproc=1"};
  command.insert(command.end(), as_own_user.begin(), as_own_user.end());
  auto run = run_native(command);
  INFO(run.err);
  CHECK(run.exit_code == 125);
  CHECK(run.err.find("starting the supervisor's thread") != std::string::npos);
  CHECK(run.err.find("raise RLIMIT_NPROC") != std::string::npos);
  read_audit(log, run);
  REQUIRE(run.summary.has_value());
  CHECK((*run.summary)["exit_status"] == 125);
  CHECK((*run.summary)["error"].get<std::string>().find("RLIMIT_NPROC") != std::string::npos);
  CHECK(verify(log).exit_code == 0);
  // The control: with threads to spare the same run is a plain one.
  std::remove(log.c_str());
  auto control = run_native(as_own_user);
  CHECK(control.exit_code == 0);
}

TEST_CASE("--audit-strict ends a run whose audit file was tampered with") {
  TempDir dir;
  give_to_nobody(dir);
  std::string log = dir.file("audit.jsonl");
  auto run = run_native(as_nobody(run_args({"--deny", "evil", "--audit", log, "--audit-strict"},
                                           {attack_bin(), "tamper", "truncate", log})));
  CHECK(run.exit_code == 125);
  CHECK(run.err.find("--audit-strict") != std::string::npos);
  read_audit(log, run);  // what survived the truncation, and what came after it
  REQUIRE(run.summary.has_value());
  CHECK((*run.summary)["exit_status"] == 125);
  CHECK((*run.summary)["error"].get<std::string>().find("--audit-strict") != std::string::npos);
  auto loose = run_native(as_nobody(
      run_args({"--deny", "evil", "--audit", log}, {attack_bin(), "tamper", "truncate", log})));
  CHECK(loose.exit_code == 0);
}

TEST_CASE("--audit-strict ends the run at the tampering, not at the target's next call") {
  // The target tampers, then makes no trapped call for a long while: it must not get that
  // while. (A truncation raises no event of its own; memfd-warden looks at the size every
  // tenth of a second meanwhile.) A shell with a sleep: neither makes a memfd.
  for (const char* tamper : {": > LOG", "rm LOG", "mv LOG LOG.moved"}) {
    CAPTURE(tamper);
    TempDir dir;
    give_to_nobody(dir);
    std::string log = dir.file("audit.jsonl");
    std::string script =
        std::regex_replace(tamper, std::regex("LOG"), log) + "; sleep 20; echo still-here";
    auto run =
        run_native(as_nobody(run_args({"--audit", log, "--audit-strict"}, {"sh", "-c", script})));
    CHECK(run.exit_code == 125);
    CHECK(run.out.find("still-here") == std::string::npos);
    CHECK(run.err.find("--audit-strict") != std::string::npos);
    // The control: without --audit-strict the target runs on (its sleep cut short here).
    if (std::string(tamper) == ": > LOG") {
      auto loose = run_native(as_nobody(run_args(
          {"--audit", log},
          {"sh", "-c", std::regex_replace(tamper, std::regex("LOG"), log) + "; echo still-here"})));
      CHECK(loose.exit_code == 0);
      CHECK(loose.out.find("still-here") != std::string::npos);
    }
  }
}

TEST_CASE("an inherited audit fd is out of the target's reach, as root and as the same user") {
  for (bool unprivileged : {false, true}) {
    CAPTURE(unprivileged);
    Args args = run_args({"--deny", "evil", "--audit-fd", "3"}, {attack_bin(), "tamper-fd", "3"});
    args.insert(args.begin(), warden_bin());
    if (unprivileged) args = as_nobody(Args(args.begin() + 1, args.end()));
    auto [collected, status] = run_with_pipe(args);
    CHECK(status == 0);
    TempDir dir;
    std::string copy = write_temp(dir, "collected.jsonl", collected);
    auto checked = verify(copy);
    CHECK(checked.exit_code == 0);
    RunResult records;
    read_audit(copy, records);
    CHECK(records.count("deny") == 1);
    CHECK(collected.find("benign") == std::string::npos);  // the forged record never got in
  }
}

TEST_CASE("an audit socket keeps memfd-warden's stream intact, and a forged stream fails verify") {
  for (bool unprivileged : {false, true}) {
    CAPTURE(unprivileged);
    TempDir dir;
    REQUIRE(::chmod(dir.path().c_str(), 0755) == 0);
    std::string socket = dir.file("audit.sock");
    Collector collector(socket);
    Args args = run_args({"--deny", "evil", "--audit-socket", socket},
                         {attack_bin(), "tamper-socket", socket});
    auto run = unprivileged ? run_native(as_nobody(args)) : spawn_warden_auto(args);
    CHECK(run.exit_code == 0);
    CHECK(run.fact("tampered") == "0");  // it could connect and send: a socket is for anyone
    auto streams = collector.finish();
    REQUIRE(streams.size() == 2);  // memfd-warden's, connected before the target started
    auto ours = verify(write_temp(dir, "ours.jsonl", streams[0]));
    CHECK(ours.exit_code == 0);
    auto forged = verify(write_temp(dir, "forged.jsonl", streams[1]));
    CHECK(forged.exit_code == 1);
  }
}

TEST_CASE("an audit socket may be a seqpacket or a datagram one: a record a message, intact") {
  for (int type : {SOCK_SEQPACKET, SOCK_DGRAM}) {
    CAPTURE(type);
    TempDir dir;
    std::string path = dir.file("audit.sock");
    int receiver = ::socket(AF_UNIX, type | SOCK_CLOEXEC, 0);
    REQUIRE(receiver >= 0);
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::strncpy(address.sun_path, path.c_str(), sizeof(address.sun_path) - 1);
    REQUIRE(::bind(receiver, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0);
    if (type == SOCK_SEQPACKET) REQUIRE(::listen(receiver, 1) == 0);
    std::string collected;
    size_t messages = 0;
    std::thread collector([&] {
      int from = type == SOCK_SEQPACKET ? ::accept(receiver, nullptr, nullptr) : receiver;
      char message[65536];
      for (ssize_t got; (got = ::recv(from, message, sizeof(message), 0)) > 0;) {
        collected.append(message, static_cast<size_t>(got));
        ++messages;
        if (collected.find("\"event\":\"summary\"") != std::string::npos) break;
      }
      if (from != receiver) ::close(from);
    });
    auto run = spawn_warden_auto(
        run_args({"--deny", "evil", "--audit-socket", path}, {probe_bin(), "create", "evil", "0"}));
    collector.join();
    ::close(receiver);
    CHECK(run.exit_code == EPERM);
    CHECK(messages == 3);  // start, the denial, summary: one message each
    std::string copy = write_temp(dir, "collected.jsonl", collected);
    CHECK(verify(copy).exit_code == 0);
    RunResult records;
    read_audit(copy, records);
    CHECK(records.count("deny") == 1);
  }
}

TEST_CASE("verify: exit 2 for a file it cannot read, 1 for no records, several files in order") {
  CHECK(spawn_warden_auto({"verify", "/nonexistent/audit.jsonl"}).exit_code == 2);
  TempDir dir;
  CHECK(spawn_warden_auto({"verify", dir.write("empty.jsonl", "")}).exit_code == 1);
  // A log rotated in the middle of a run verifies as the two files in order.
  std::string log = dir.file("audit.jsonl");
  auto run = spawn_warden_auto(run_args({"--audit", log}, {probe_bin(), "many", "4"}));
  REQUIRE(run.exit_code == 0);
  std::string text = slurp(log);
  size_t middle = text.find('\n', text.size() / 2) + 1;
  std::string first = dir.write("audit.jsonl.1", text.substr(0, middle));
  std::string second = dir.write("audit.jsonl.2", text.substr(middle));
  CHECK(spawn_warden_auto({"verify", first, second}).exit_code == 0);
  CHECK(spawn_warden_auto({"verify", second, first}).exit_code == 1);  // out of order
  CHECK(spawn_warden_auto({"verify", second}).exit_code == 1);         // the head missing
}

TEST_CASE(
    "verify shows a forged record's text printable: it cannot fake the verdict on a terminal") {
  // Whoever can append to a log chooses a forged run's id and program. Printed as they were, a
  // newline and an escape in them wrote a line "verdict: intact" and hid the real one (review).
  TempDir dir;
  std::string log = dir.file("audit.jsonl");
  REQUIRE(
      spawn_warden_auto(run_args({"--audit", log}, {probe_bin(), "create", "x", "0"})).exit_code ==
      0);
  {
    std::ofstream out(log, std::ios::app);
    out << R"({"event":"start","run":"r\u001b[2J","seq":0,"program":"x): 3 records, sealed, )"
        << R"(complete and unaltered\nverdict: intact\u001b[8m","chain":")" << std::string(64, '0')
        << "\"}\n";
  }
  auto checked = verify(log);
  CHECK(checked.exit_code == 1);
  CHECK(checked.out.find('\x1b') == std::string::npos);
  std::istringstream lines(checked.out);
  std::vector<std::string> verdicts;
  for (std::string line; std::getline(lines, line);) {
    if (line.starts_with("verdict")) verdicts.push_back(line);
  }
  CHECK(verdicts == std::vector<std::string>{"verdict: NOT intact"});
}

TEST_CASE("verify checks runs one by one: whole runs removed are not seen (the documented limit)") {
  TempDir dir;
  std::string log = dir.file("audit.jsonl");
  for (const char* name : {"first-run", "second-run"}) {
    REQUIRE(spawn_warden_auto({"run", "--audit", log, "--", probe_bin(), "create", name, "0"})
                .exit_code == 0);
  }
  std::ifstream in(log);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  REQUIRE(lines.size() == 6);  // start, decision, summary: twice
  auto keep = [&](size_t from, size_t to) {
    std::ofstream out(dir.file("cut.jsonl"), std::ios::trunc);
    for (size_t i = from; i < to; ++i) out << lines[i] << "\n";
    out.close();
    return verify(dir.file("cut.jsonl")).exit_code;
  };
  CHECK(keep(0, 6) == 0);
  CHECK(keep(0, 3) == 0);  // the second run removed whole: intact
  CHECK(keep(3, 6) == 0);  // the first run removed whole: intact
  CHECK(keep(0, 5) == 1);  // a cut inside a run is seen
  CHECK(keep(1, 6) == 1);
}

TEST_CASE("a full disk cuts one record short, not the ones after it, and the loss is said last") {
  // An 8 KiB tmpfs (in a mount namespace of the run's own) with 4 KiB taken: the log fills up
  // part-way through a record. The target then frees the space and makes three more memfds.
  TempDir dir;
  std::string small = dir.file("small");
  std::filesystem::create_directory(small);
  std::string script =
      "import os\n"
      "for i in range(12): os.close(os.memfd_create(f'before{i}'))\n"
      "os.unlink('" +
      small +
      "/filler')\n"
      "for i in range(3): os.close(os.memfd_create(f'after{i}'))\n";
  Args command{"unshare",
               "-m",
               "sh",
               "-c",
               "mount -t tmpfs -o size=8k none \"$0\" && head -c 4096 /dev/zero > \"$0/filler\" "
               "&& \"$@\"; status=$?; cp \"$0/audit.jsonl\" \"$0.jsonl\"; exit $status",
               small,
               warden_bin()};
  for (const auto& arg : run_args({"--audit", small + "/audit.jsonl"}, {"python3", "-c", script})) {
    command.push_back(arg);
  }
  auto run = run_native(command);
  CHECK(run.exit_code == 0);  // the target's: it ran to its end
  std::ifstream in(small + ".jsonl");
  std::vector<Json> records;
  int unreadable = 0;
  for (std::string line; std::getline(in, line);) {
    Json record = Json::parse(line, nullptr, false);
    if (record.is_discarded()) {
      ++unreadable;
    } else {
      records.push_back(record);
    }
  }
  CHECK(unreadable == 1);  // the record cut short, alone on its line
  std::vector<std::string> after;
  for (const auto& record : records) {
    std::string name =
        record.value("name", Json()).is_string() ? record["name"].get<std::string>() : "";
    if (name.starts_with("after")) after.push_back(name);
  }
  CHECK(after == std::vector<std::string>{"after0", "after1", "after2"});
  REQUIRE(!records.empty());
  const Json& summary = records.back();
  REQUIRE(summary["event"] == "summary");
  uint64_t lost = summary["audit_write_errors"].get<uint64_t>();
  CHECK(lost >= 1);
  CHECK(run.err.find("the audit log is incomplete: " + std::to_string(lost) + " record") !=
        std::string::npos);
  CHECK(run.err.find("No space left on device") != std::string::npos);
  // report and suggest read such a log: the line cut short is skipped, and said to be.
  for (const char* command : {"report", "suggest"}) {
    CAPTURE(command);
    auto read = spawn_warden_auto({command, small + ".jsonl"});
    CHECK(read.exit_code == 0);
    CHECK(read.out.find("after2") != std::string::npos);
    CHECK(read.err.find("1 line(s) are not audit records (cut short?)") != std::string::npos);
  }
}

TEST_CASE("past RLIMIT_FSIZE memfd-warden is not killed: its audit writes fail, and it says so") {
  // SIGXFSZ stays blocked in memfd-warden alone: the target starts with the mask it was given.
  TempDir dir;
  std::string log = dir.file("audit.jsonl");
  std::string script =
      "import os\n"
      "for i in range(20): os.close(os.memfd_create(f'x{i}'))\n"
      "status = dict(l.split(':', 1) for l in open('/proc/self/status'))\n"
      "print('sigblk=' + status['SigBlk'].strip())\n";
  // Python blocks SIGUSR1 and runs memfd-warden under a 2 KiB file size limit.
  std::string launcher =
      "import os, signal, sys\n"
      "signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR1})\n"
      "os.execvp('prlimit', ['prlimit', '--fsize=2048'] + sys.argv[1:])\n";
  Args command{"python3", "-c", launcher, warden_bin()};
  for (const auto& arg : run_args({"--audit", log}, {"python3", "-c", script})) {
    command.push_back(arg);
  }
  auto run = run_native(command);
  CHECK(run.exit_code == 0);
  CHECK(run.fact("sigblk") == "0000000000000200");  // SIGUSR1 (10) only, not SIGXFSZ (25)
  CHECK(std::filesystem::file_size(log) == 2048);
  CHECK(run.err.find("writing the audit log: File too large") != std::string::npos);
  CHECK(run.err.find("the audit log is incomplete") != std::string::npos);
}

}  // namespace warden::test
