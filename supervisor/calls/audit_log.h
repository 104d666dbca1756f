// The JSON-lines audit log: a start record, one object per decision, one summary at exit. Each
// record goes out in a single write(2), so lines from the target sharing stderr never interleave
// inside ours (on a pipe, for records up to PIPE_BUF: a longer one, naming a long path, may be
// split when the reader falls behind; docs/containers.md, "Limits"). Names, comms and paths are attacker-chosen bytes: they are JSON-escaped, and bytes
// that are not UTF-8 are kept exactly in a companion "<field>_hex".
//
// Every record is chained (audit_chain.h) and the summary seals the chain. Destinations: stderr,
// a file, an inherited fd (--audit-fd), a unix socket (--audit-socket). A file is watched for
// truncation, unlinking and renaming while the run lasts; each is recorded in the chain and on
// stderr, and with `strict` ends the run. As root, a file is made append-only for the run
// (FS_APPEND_FL) and hidden from the target (tree_init mounts over its path).
#pragma once

#include <sys/types.h>

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "policy/decide.h"
#include "policy/policy.h"
#include "policy/result.h"
#include "supervisor/calls/audit_chain.h"
#include "supervisor/calls/container_identity.h"
#include "supervisor/calls/supervision.h"
#include "supervisor/kernel/caller_info.h"
#include "supervisor/kernel/unique_fd.h"

namespace warden {

enum class Decision { kAllow, kDeny, kKill, kAbort, kWouldDeny, kWouldKill };
inline constexpr size_t kDecisionCount = 6;
const char* decision_name(Decision decision);

// Reflective code loading: running a program from memory (a memfd).
inline constexpr const char* kFilelessTechnique = "T1620";

// How a growth call changes one memfd's charge.
struct ChargeChange {
  uint64_t old_charge = 0;
  uint64_t new_charge = 0;
};

struct DecisionRecord {
  const char* syscall = "memfd_create";
  const char* abi = "x86_64";
  pid_t pid = 0;
  pid_t tid = 0;
  // Absent (null in the record) when not collected: the caller's names are read for refusals
  // always, for allowed calls when a rule matches on exe or --record-exe asks. Empty when
  // collected but unreadable.
  std::optional<std::string_view> exe;
  std::optional<std::string_view> comm;
  std::optional<std::string_view> name;  // absent when it could not be read
  uint32_t flags = 0;
  Decision decision = Decision::kAllow;
  int errno_value = 0;             // the error the call returns, 0 for none
  const char* reason = "default";  // rule, default, quota.*, invalid-flags, bad-name, ...
  std::optional<size_t> rule_index;
  std::string_view rule_id;
  int fd = -1;  // the fd the target received (create) or named (growth), -1 for none
  std::optional<ChargeChange> charge;  // growth records
  const char* technique = nullptr;     // MITRE ATT&CK technique id, e.g. "T1620"
  bool noexec_seal = false;            // the memfd was made with MFD_NOEXEC_SEAL
  // Exec and mapping records: the path as the caller gave it (exec, truncate) or the interpreter
  // an exec would load; the kind of memory file reached (memory_file.h); and for a mapping the
  // protection asked for (then "prot" replaces "flags").
  std::optional<std::string_view> path;
  const char* file = nullptr;
  std::optional<uint64_t> prot;
  QuotaState quota;
};

class AuditEncoder;  // audit_log.cc: the JSON writer and its reused buffers

struct AuditDestination {
  enum class Kind { kStderr, kFile, kFd, kSocket };
  Kind kind = Kind::kStderr;
  std::string path;  // kFile, kSocket
  int fd = -1;       // kFd: inherited from whoever started memfd-warden
  // "-" is stderr, anything else a file (the --audit spelling).
  static AuditDestination from_option(const std::string& text);
};

struct AuditOptions {
  bool protect_file = false;  // root: append-only for the run, hidden from the target
  bool strict = false;        // a tampered log ends the run
  bool watch = true;          // false: no watch on a file (record_unopened_run only)
};

class AuditLog {
 public:
  // Opens (or connects to) the destination and draws the run's chain key. A file is opened for
  // appending (created 0600); an fd is made close-on-exec so that the target never holds it.
  static Result<AuditLog> open(const AuditDestination& destination, const Quota& limits,
                               const AuditOptions& options = {});
  ~AuditLog();

  // From now on every record carries "container": {id, bundle, pod, namespace, name} (the agent's
  // runs; `run` has none).
  void set_container(ContainerIdentity identity);
  // The run's first record: who wrote the log, and for which program.
  void write_start(std::string_view version, std::string_view program);
  // Encodes into buffers reused from record to record: no allocation once they have grown.
  void write(const DecisionRecord& record);
  // Looks once more for tampering with the file (renamed, unlinked, truncated since the last
  // record), so that strict_failure() is final; write_summary() does it as well.
  void settle();
  // The last record: the totals, and the seal (the run's key). Lifts the file's protection.
  void write_summary(const SuperviseResult& result);
  // The last record of a run memfd-warden itself could not carry on: exit_status 125, `error`.
  void write_failure_summary(std::string error);

  uint64_t count(Decision decision) const { return counts_[static_cast<size_t>(decision)]; }
  // What --fail-on-deny counts: calls denied or killed, and in a dry run those that would have
  // been. Not an abort: its caller died or was interrupted, and nothing refused it.
  uint64_t refusals() const {
    return count(Decision::kDeny) + count(Decision::kKill) + count(Decision::kWouldDeny) +
           count(Decision::kWouldKill);
  }
  uint64_t write_errors() const { return write_errors_; }
  // With `strict`: the log was tampered with, and the run must end (exit non-zero).
  bool strict_failure() const { return strict_ && !tampering_.empty(); }
  // What happened to the log file during the run ("truncated", "unlinked", "renamed").
  const std::string& tampering() const { return tampering_; }
  // A file destination's watch: readable when the file was renamed or its links changed. The
  // supervisor loop polls it and calls check_watch(); -1 when there is nothing to watch.
  int watch_fd() const { return watch_.get(); }
  void check_watch();
  // A truncation raises no event of its own (IN_MODIFY, which every record of ours raises too),
  // and each record checks the size after it. With `strict`, a target that truncates the file
  // and then makes no trapped call is found by looking this often: the supervisor loops wait no
  // longer (`wait_ms`, -1 for ever) and call check_size_now() when their wait times out.
  int wait_ms(int wait_ms) const;
  void check_size_now() {
    if (is_file_) check_size(0);
  }
  static constexpr int kStrictSizeCheckMs = 100;
  // The protected file's absolute path, for tree_init to hide; empty when there is none.
  const std::string& protected_path() const { return protected_path_; }

  // Destination of the audit when moved; the protection is lifted by the destructor too.
  AuditLog(AuditLog&&) noexcept;
  AuditLog& operator=(AuditLog&&) noexcept = delete;

 private:
  AuditLog(UniqueFd owned, int fd, const Quota& limits, AuditChain chain);
  void emit(std::string_view line);
  // Writes all of `bytes`, or counts a write error (and notes a record cut short).
  bool write_all(std::string_view bytes);
  // After each write to a file (`just_written` bytes of ours, 0: none): was it truncated?
  void check_size(uint64_t just_written);
  void note_tampering(const char* what, uint64_t size, uint64_t expected);
  void unprotect();

  UniqueFd owned_;
  int fd_;
  Quota limits_;
  std::unique_ptr<AuditEncoder> encoder_;
  AuditChain chain_;
  std::array<uint64_t, kDecisionCount> counts_{};
  uint64_t write_errors_ = 0;
  int first_write_errno_ = 0;
  // A record was cut short (a full disk): the next one starts on a line of its own.
  bool torn_ = false;
  // File destinations only.
  bool is_file_ = false;
  bool strict_ = false;
  UniqueFd watch_;    // inotify: IN_MOVE_SELF and IN_ATTRIB (unlink) on the file
  std::string path_;  // the path it was opened by, and what it led to: (dev, ino)
  dev_t dev_ = 0;
  ino_t ino_ = 0;
  uint64_t written_size_ = 0;  // where the file ended after our last write
  std::string tampering_;      // what was seen, comma-separated, each once
  std::string protected_path_;
  bool append_only_set_ = false;
  bool in_tamper_record_ = false;
};

// For a run whose AuditLog::open failed with `failure` (a file whose watch could not be had, for
// one): tries the destination once more without a watch, and if it opens, records the run there
// all the same, start and sealed summary, the summary's error saying why; nothing otherwise.
void record_unopened_run(const AuditDestination& destination, const Quota& limits,
                         std::string_view version, std::string_view program, const Error& failure,
                         const std::optional<ContainerIdentity>& container = std::nullopt);

// RFC 3339 UTC with microseconds: 2026-11-27T19:00:00.123456Z.
struct Rfc3339 {
  char text[32] = {};
  size_t size = 0;
  std::string_view view() const { return {text, size}; }
};
Rfc3339 rfc3339_now();

// Fills the record's pid, and its exe and comm when they were read and `named` (a handler that
// read them for another purpose leaves them out of a record that need not name the caller),
// from what /proc said about the caller.
inline void describe_caller(DecisionRecord& record, const CallerInfo& caller, bool named = true) {
  record.pid = caller.tgid;
  record.exe.reset();
  record.comm.reset();
  if (caller.names_read && named) {
    record.exe = caller.exe_view();
    record.comm = caller.comm_view();
  }
}

// Whether AuditLog::open failing with `code` is the command line's fault: a destination that is
// not there, not ours to write, or nothing one can write to (0: a path too long for a socket).
// Anything else (no fds, memory, space or entropy left) is memfd-warden's own failure.
bool audit_open_failure_is_usage(int code);

// One decision record as a JSON line (newline included), as AuditLog::write emits it.
std::string encode_decision(const DecisionRecord& record, const Quota& limits);

}  // namespace warden
