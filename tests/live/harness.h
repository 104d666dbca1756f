// Live-test harness: runs the real memfd-warden binary on real programs and returns what a test
// asserts on: exit status, the probe's key=value facts, and the parsed audit records. Every run
// has a control: the same command without the supervisor (run_native).
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace warden::test {

using Json = nlohmann::json;
using Args = std::vector<std::string>;

// True in the sanitizer build (-DWARDEN_SANITIZE=ON), where memfd-warden carries ASan: memory
// figures then measure ASan's quarantine, and ASan's runtime needs file descriptors of its own.
// (The driver itself is built plain: WARDEN_SANITIZED_BUILD says what memfd-warden is.)
#if defined(__SANITIZE_ADDRESS__) || defined(WARDEN_SANITIZED_BUILD)
inline constexpr bool kSanitized = true;
#else
inline constexpr bool kSanitized = false;
#endif

// True when memfd-warden's sanitizer runtime makes threads of its own (LeakSanitizer's check at
// exit, ThreadSanitizer's background thread), which a process limit then refuses as well.
#if defined(WARDEN_THREAD_SANITIZED_BUILD)
inline constexpr bool kSanitizerThreads = true;
#else
inline constexpr bool kSanitizerThreads = kSanitized;
#endif

std::string warden_bin();
// The backend this run of the suite uses ("unotify" or "ptrace"; empty: memfd-warden's default).
std::string backend();
// "--backend NAME " for shell command lines, or "" when no backend was chosen.
std::string backend_flag();
std::string probe_bin();
std::string attack_bin();       // the hostile target (tests/probes/attack.cc)
std::string tiny_fuse_bin();    // a one-file FUSE filesystem (tests/probes/tiny_fuse.c)
std::string payload_library();  // a shared library the attack loads from memory
std::string sample_bin(const std::string& name);

// Sentinel errnos: a memfd_create can never fail with these on its own, so seeing one proves the
// supervisor answered.
inline constexpr int kSentinel = 33;  // EDOM
inline constexpr const char* kSentinelName = "EDOM";
inline constexpr int kSentinel2 = 76;  // ENOTUNIQ

// A path (a file, or a directory with everything in it) removed at the end of the test.
struct RemovedAtEnd {
  std::string path;
  ~RemovedAtEnd() {
    std::error_code ignored;
    std::filesystem::remove_all(path, ignored);
  }
};

// A directory removed with everything in it at the end of the test.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::filesystem::path& path() const { return path_; }
  std::string file(const std::string& name) const { return (path_ / name).string(); }
  // Writes `text` to NAME and returns its path.
  std::string write(const std::string& name, const std::string& text) const;

 private:
  std::filesystem::path path_;
};

struct RunResult {
  int exit_code = -1;  // shell style: 128+N after signal N
  std::string out;
  std::string err;
  std::map<std::string, std::string> facts;  // key=value lines of stdout
  std::vector<Json> decisions;               // audit records with event == "decision"
  std::optional<Json> start;                 // event == "start"
  std::vector<Json> tamper;                  // event == "tamper"
  std::optional<Json> summary;

  std::string fact(const std::string& key) const;
  long fact_number(const std::string& key) const;
  // Decision records whose "decision" field is `decision`.
  size_t count(const std::string& decision) const;
  // The first decision record of `syscall`, or nullptr.
  const Json* record_of(const std::string& syscall) const;
};

// Checks that `run` printed exactly the facts `expected`, fact by fact, so that a failure names
// the case.
void check_facts(const RunResult& run, const std::map<std::string, std::string>& expected);

// The first decision record of `syscall` in `run`, or nullptr.
inline const Json* find_record(const RunResult& run, const std::string& syscall) {
  return run.record_of(syscall);
}

// memfd-warden run WARDEN_ARGS --audit FILE -- COMMAND. The audit goes to a fresh file.
RunResult run_warden(const Args& warden_args, const Args& command);
// The arguments after memfd-warden for that, with the suite's --backend and the audit to AUDIT
// (unless WARDEN_ARGS has an --audit): for a run started some other way (read_audit after it).
Args warden_run_args(const Args& warden_args, const std::string& audit, const Args& command);
// The same, for a run that used to hang: ended (SIGTERM, then SIGKILL 5 s later) after `seconds`,
// so that a hang fails its test (exit 124 or 137) rather than the whole suite.
RunResult run_warden_bounded(const Args& warden_args, const Args& command, int seconds = 60);
// `memfd-warden run` as user nobody (65534, no groups): memfd-warden without root, with the
// suite's backend. WARDEN_ARGS and `-- COMMAND` follow.
Args warden_run_as_nobody();
// That, with WARDEN_ARGS --audit FILE -- COMMAND; the audit goes to a fresh file anyone may write.
RunResult run_warden_as_nobody(const Args& warden_args, const Args& command);
// memfd-warden ARGS as given (for check, policy, --help, bad command lines); `run` gets the
// suite's --backend.
RunResult run_warden_raw(const Args& args);
// memfd-warden ARGS exactly as given: no --backend added, so `run` uses auto.
RunResult spawn_warden_auto(const Args& args);
// COMMAND alone: the control run.
RunResult run_native(const Args& command);

// A running memfd-warden for tests that talk to the target while it runs.
class LiveRun {
 public:
  LiveRun(const Args& warden_args, const Args& command);
  ~LiveRun();
  int warden_pid() const;
  // Reads target stdout lines until one equals `line` (false at EOF). Lines before it are kept.
  bool wait_for_line(const std::string& line);
  void send_line(const std::string& line);
  void signal_warden(int sig);
  RunResult finish();  // waits for exit

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// The probe's `script` command: "create a ; ftruncate a 1M" -> {PROBE, "script", "create", "a",
// ";", "ftruncate", "a", "1M"}. It prints opN=ERRNO for each operation (0 on success).
Args probe_script(const std::string& text);

// Writes a policy denying names "evil*" with the sentinel EDOM into `dir`; returns its path.
std::string policy_denying_evil(const TempDir& dir);

// A child loads an allow-all filter with `flags` and (when asked) hands us its listener by
// number; `use` runs on our copy of it while the child waits. Returns whether the kernel took the
// filter.
bool with_child_listener(unsigned flags, const std::function<void(int)>& use);

// Gone, a zombie (whose parent is no longer there to reap it), or being reaped (state X).
bool process_dead(pid_t pid);
// Live processes whose command line starts with `command` (as the host numbers them: inside the
// tree's PID namespace getpid() differs), in /proc order.
std::vector<pid_t> processes_running(const Args& command);

// Parses a JSON-lines audit file; every line must be a JSON object (a test failure otherwise).
void read_audit(const std::string& path, RunResult& into);

}  // namespace warden::test
