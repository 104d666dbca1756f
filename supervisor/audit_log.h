// The JSON-lines audit log: one object per decision, one summary at exit. Each record goes out
// in a single write(2), so lines from the target sharing stderr never interleave inside ours.
// Names, comms and paths are attacker-chosen bytes: they are JSON-escaped, and bytes that are not
// UTF-8 are kept exactly in a companion "<field>_hex".
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
#include "supervisor/backend.h"
#include "supervisor/caller_info.h"
#include "supervisor/unique_fd.h"

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
  std::string_view exe;
  std::string_view comm;
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

class AuditLog {
 public:
  // "-" writes to stderr; anything else is a file opened for appending (created 0600).
  static Result<AuditLog> open(const std::string& destination, const Quota& limits);
  AuditLog(AuditLog&&) noexcept;
  AuditLog& operator=(AuditLog&&) noexcept;
  ~AuditLog();

  // Encodes into buffers reused from record to record: no allocation once they have grown.
  void write(const DecisionRecord& record);
  void write_summary(const SuperviseResult& result);

  uint64_t count(Decision decision) const { return counts_[static_cast<size_t>(decision)]; }
  uint64_t write_errors() const { return write_errors_; }

 private:
  AuditLog(UniqueFd owned, int fd, const Quota& limits);
  void emit(std::string_view line);

  UniqueFd owned_;
  int fd_;
  Quota limits_;
  std::unique_ptr<AuditEncoder> encoder_;
  std::array<uint64_t, kDecisionCount> counts_{};
  uint64_t write_errors_ = 0;
};

// RFC 3339 UTC with microseconds: 2026-11-27T19:00:00.123456Z.
struct Rfc3339 {
  char text[32] = {};
  size_t size = 0;
  std::string_view view() const { return {text, size}; }
};
Rfc3339 rfc3339_now();

// Fills the record's pid, exe and comm from what /proc said about the caller.
inline void describe_caller(DecisionRecord& record, const CallerInfo& caller) {
  record.pid = caller.tgid;
  record.exe = caller.exe_view();
  record.comm = caller.comm_view();
}

// One decision record as a JSON line (newline included), as AuditLog::write emits it.
std::string encode_decision(const DecisionRecord& record, const Quota& limits);

}  // namespace warden
