#include "tests/live/harness.h"

#include <doctest/doctest.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/fs.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <boost/process.hpp>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <optional>
#include <sstream>

namespace warden::test {
namespace bp = boost::process;
namespace fs = std::filesystem;

std::string warden_bin() { return WARDEN_BIN; }

std::string backend() {
  const char* chosen = std::getenv("WARDEN_BACKEND");
  return chosen ? chosen : "";
}

std::string backend_flag() { return backend().empty() ? "" : "--backend " + backend() + " "; }
std::string probe_bin() { return PROBE_BIN; }
std::string attack_bin() { return ATTACK_BIN; }
std::string tiny_fuse_bin() { return TINY_FUSE_BIN; }
std::string payload_library() { return PAYLOAD_LIBRARY; }
std::string sample_bin(const std::string& name) { return std::string(SAMPLES_DIR) + "/" + name; }

TempDir::TempDir() {
  std::string pattern = (fs::temp_directory_path() / "warden-test-XXXXXX").string();
  REQUIRE(::mkdtemp(pattern.data()) != nullptr);
  path_ = pattern;
}

TempDir::~TempDir() {
  std::error_code ec;
  // An audit file of a memfd-warden that was killed keeps its append-only flag (docs/hardening.md:
  // `chattr -a` lifts it), and the directory could not be removed: lift it on every file first.
  for (const auto& entry : fs::recursive_directory_iterator(path_, ec)) {
    if (!entry.is_regular_file(ec)) continue;
    int fd = ::open(entry.path().c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) continue;
    int flags = 0;
    if (::ioctl(fd, FS_IOC_GETFLAGS, &flags) == 0 && (flags & FS_APPEND_FL) != 0) {
      flags &= ~FS_APPEND_FL;
      ::ioctl(fd, FS_IOC_SETFLAGS, &flags);
    }
    ::close(fd);
  }
  fs::remove_all(path_, ec);
}

std::string TempDir::write(const std::string& name, const std::string& text) const {
  std::string path = file(name);
  std::ofstream(path, std::ios::binary) << text;
  return path;
}

std::string RunResult::fact(const std::string& key) const {
  auto it = facts.find(key);
  return it == facts.end() ? std::string("<missing " + key + ">") : it->second;
}

long RunResult::fact_number(const std::string& key) const {
  auto it = facts.find(key);
  REQUIRE_MESSAGE(it != facts.end(), "no fact " << key << " in output:\n" << out << err);
  return std::stol(it->second);
}

void check_facts(const RunResult& run, const std::map<std::string, std::string>& expected) {
  for (const auto& [key, value] : expected) {
    CAPTURE(key);
    CHECK(run.fact(key) == value);
  }
  CHECK(run.facts.size() == expected.size());
}

size_t RunResult::count(const std::string& decision) const {
  size_t n = 0;
  for (const auto& record : decisions) n += record.value("decision", "") == decision ? 1 : 0;
  return n;
}

const Json* RunResult::record_of(const std::string& syscall) const {
  for (const auto& record : decisions) {
    if (record.value("syscall", "") == syscall) return &record;
  }
  return nullptr;
}

namespace {

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

void parse_facts(RunResult& result) {
  std::istringstream lines(result.out);
  std::string line;
  while (std::getline(lines, line)) {
    auto eq = line.find('=');
    if (eq != std::string::npos) result.facts[line.substr(0, eq)] = line.substr(eq + 1);
  }
}

int shell_status(int native) {
  if (WIFEXITED(native)) return WEXITSTATUS(native);
  if (WIFSIGNALED(native)) return 128 + WTERMSIG(native);
  return -1;
}

RunResult spawn_and_wait(const std::string& exe, const Args& args) {
  TempDir dir;
  RunResult result;
  std::string out = dir.file("stdout"), err = dir.file("stderr");
  bp::child child(exe, bp::args = args, bp::std_out > out, bp::std_err > err,
                  bp::std_in < bp::null);
  child.wait();
  result.exit_code = shell_status(child.native_exit_code());
  result.out = slurp(out);
  result.err = slurp(err);
  parse_facts(result);
  return result;
}

// The whole of a /proc file, or nothing if it cannot be opened or read: a process may exit
// between the open and the read, which then fails with ESRCH (an ifstream would throw).
std::optional<std::string> read_proc_file(const fs::path& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  std::string text;
  char chunk[4096];
  ssize_t got;
  while ((got = ::read(fd, chunk, sizeof chunk)) > 0) text.append(chunk, static_cast<size_t>(got));
  ::close(fd);
  if (got < 0) return std::nullopt;
  return text;
}

}  // namespace

Args warden_run_args(const Args& warden_args, const std::string& audit, const Args& command) {
  Args args{"run"};
  if (!backend().empty()) args.insert(args.end(), {"--backend", backend()});
  // The test's own --audit (e.g. /dev/null for a long run) wins; read_audit then finds nothing.
  if (std::find(warden_args.begin(), warden_args.end(), "--audit") == warden_args.end()) {
    args.insert(args.end(), {"--audit", audit});
  }
  args.insert(args.end(), warden_args.begin(), warden_args.end());
  args.push_back("--");
  args.insert(args.end(), command.begin(), command.end());
  return args;
}

bool with_child_listener(unsigned flags, const std::function<void(int)>& use) {
  int pipe_fds[2];
  REQUIRE(::pipe(pipe_fds) == 0);
  pid_t child = ::fork();
  if (child == 0) {
    sock_filter allow[] = {BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW)};
    sock_fprog prog{1, allow};
    ::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
    int listener = static_cast<int>(::syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &prog));
    (void)::write(pipe_fds[1], &listener, sizeof(listener));
    ::pause();
    _exit(0);
  }
  ::close(pipe_fds[1]);
  int listener = -1;
  REQUIRE(::read(pipe_fds[0], &listener, sizeof(listener)) == sizeof(listener));
  ::close(pipe_fds[0]);
  if (listener >= 0 && use) {
    int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, child, 0));
    int copy = static_cast<int>(::syscall(SYS_pidfd_getfd, pidfd, listener, 0));
    use(copy);
    ::close(copy);
    ::close(pidfd);
  }
  ::kill(child, SIGKILL);
  ::waitpid(child, nullptr, 0);
  return listener >= 0;
}

bool process_dead(pid_t pid) {
  auto line = read_proc_file("/proc/" + std::to_string(pid) + "/stat");
  if (!line) return true;         // gone, or went between open and read (ESRCH)
  auto close = line->rfind(')');  // the comm field may itself hold ')'
  if (close == std::string::npos || close + 2 >= line->size()) return false;
  // Z: a zombie; X: being reaped right now (seen for an instant between Z and gone).
  char state = (*line)[close + 2];
  return state == 'Z' || state == 'X';
}

std::vector<pid_t> processes_running(const Args& command) {
  std::string wanted;
  for (const auto& arg : command) wanted += arg + '\0';
  std::vector<pid_t> pids;
  for (const auto& entry : fs::directory_iterator("/proc")) {
    std::string name = entry.path().filename();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    auto text = read_proc_file(entry.path() / "cmdline");
    pid_t pid = static_cast<pid_t>(std::stol(name));
    if (text && text->rfind(wanted, 0) == 0 && !process_dead(pid)) pids.push_back(pid);
  }
  return pids;
}

Args probe_script(const std::string& text) {
  Args args{probe_bin(), "script"};
  std::istringstream words(text);
  for (std::string word; words >> word;) args.push_back(word);
  return args;
}

std::string policy_denying_evil(const TempDir& dir) {
  return dir.write("policy.toml",
                   "version = 1\n[[rule]]\nname = \"evil*\"\naction = \"deny\"\n"
                   "errno = \"EDOM\"\n");
}

void read_audit(const std::string& path, RunResult& into) {
  std::ifstream in(path, std::ios::binary);
  std::string line;
  while (std::getline(in, line)) {
    Json record;
    try {
      record = Json::parse(line);
    } catch (const Json::exception& e) {
      FAIL("audit line is not JSON (" << e.what() << "): " << line);
    }
    REQUIRE(record.is_object());
    std::string event = record.value("event", "");
    if (event == "summary") {
      into.summary = record;
    } else if (event == "start") {
      into.start = record;
    } else if (event == "tamper") {
      into.tamper.push_back(record);
    } else {
      into.decisions.push_back(record);
    }
  }
}

namespace {

// memfd-warden's own failure (exit 125) is written out, with what it said: a test that did not
// expect one then shows why in its log, not only the code.
void show_own_failure(const RunResult& result) {
  if (result.exit_code != 125) return;
  std::fprintf(stderr, "memfd-warden exited 125; it said:\n%s\n", result.err.c_str());
}

}  // namespace

RunResult run_warden(const Args& warden_args, const Args& command) {
  TempDir dir;
  std::string audit = dir.file("audit.jsonl");
  RunResult result = spawn_and_wait(warden_bin(), warden_run_args(warden_args, audit, command));
  read_audit(audit, result);
  show_own_failure(result);
  return result;
}

RunResult run_warden_bounded(const Args& warden_args, const Args& command, int seconds) {
  TempDir dir;
  std::string audit = dir.file("audit.jsonl");
  Args args = warden_run_args(warden_args, audit, command);
  args.insert(args.begin(), {"-k", "5", std::to_string(seconds), warden_bin()});
  RunResult result = spawn_and_wait(bp::search_path("timeout").string(), args);
  read_audit(audit, result);
  show_own_failure(result);
  return result;
}

Args warden_run_as_nobody() {
  return {"setpriv",    "--reuid=65534", "--regid=65534", "--clear-groups",
          warden_bin(), "run",           "--backend",     backend().empty() ? "auto" : backend()};
}

RunResult run_warden_as_nobody(const Args& warden_args, const Args& command) {
  TempDir dir;
  fs::permissions(dir.path(), fs::perms::all);
  std::string audit = dir.file("audit.jsonl");
  Args args = warden_run_as_nobody();
  if (std::find(warden_args.begin(), warden_args.end(), "--audit") == warden_args.end()) {
    args.insert(args.end(), {"--audit", audit});
  }
  args.insert(args.end(), warden_args.begin(), warden_args.end());
  args.push_back("--");
  args.insert(args.end(), command.begin(), command.end());
  RunResult result = run_native(args);
  read_audit(audit, result);
  return result;
}

RunResult run_warden_raw(const Args& args) {
  Args with_backend = args;
  if (!args.empty() && args[0] == "run" && !backend().empty() &&
      std::find(args.begin(), args.end(), "--backend") == args.end()) {
    with_backend.insert(with_backend.begin() + 1, {"--backend", backend()});
  }
  return spawn_and_wait(warden_bin(), with_backend);
}

RunResult spawn_warden_auto(const Args& args) { return spawn_and_wait(warden_bin(), args); }

RunResult run_native(const Args& command) {
  Args rest(command.begin() + 1, command.end());
  std::string exe = command.front();
  if (exe.find('/') == std::string::npos) exe = bp::search_path(exe).string();
  REQUIRE_MESSAGE(!exe.empty(), command.front() << " not found in PATH");
  return spawn_and_wait(exe, rest);
}

struct LiveRun::Impl {
  TempDir dir;
  std::string audit = dir.file("audit.jsonl");
  std::string err = dir.file("stderr");
  bp::ipstream out;
  bp::opstream in;
  bp::child child;
  std::string seen;
};

LiveRun::LiveRun(const Args& warden_args, const Args& command) : impl_(std::make_unique<Impl>()) {
  impl_->child =
      bp::child(warden_bin(), bp::args = warden_run_args(warden_args, impl_->audit, command),
                bp::std_out > impl_->out, bp::std_err > impl_->err, bp::std_in < impl_->in);
}

LiveRun::~LiveRun() {
  if (impl_->child.valid() && impl_->child.running()) {
    impl_->child.terminate();
  }
}

int LiveRun::warden_pid() const { return impl_->child.id(); }

bool LiveRun::wait_for_line(const std::string& wanted) {
  std::string line;
  while (std::getline(impl_->out, line)) {
    impl_->seen += line + "\n";
    if (line == wanted) return true;
  }
  return false;
}

void LiveRun::send_line(const std::string& line) { impl_->in << line << std::endl; }

void LiveRun::signal_warden(int sig) { ::kill(impl_->child.id(), sig); }

RunResult LiveRun::finish() {
  RunResult result;
  impl_->in.pipe().close();
  std::string line;
  while (std::getline(impl_->out, line)) impl_->seen += line + "\n";
  impl_->child.wait();
  result.exit_code = shell_status(impl_->child.native_exit_code());
  result.out = impl_->seen;
  result.err = slurp(impl_->err);
  parse_facts(result);
  read_audit(impl_->audit, result);
  return result;
}

}  // namespace warden::test
