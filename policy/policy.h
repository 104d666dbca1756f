// The policy as plain data: what a policy file or the command line says, already validated.
// Built by policy_parse, read by decide() and the supervisor; nothing here runs or allocates
// on the decision path.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace re2 {
class RE2;
}

namespace warden {

enum class Action { kAllow, kDeny, kKill };

const char* action_name(Action action);
std::optional<Action> action_from_name(std::string_view name);

inline constexpr int kDefaultDenyErrno = 1;        // EPERM
inline constexpr int kDefaultQuotaErrno = 24;      // EMFILE
inline constexpr int kDefaultFtruncateErrno = 27;  // EFBIG
inline constexpr int kDefaultWriteErrno = 28;      // ENOSPC

// The calls that make a new memfd. Rules without `syscall` apply to memfd_create.
enum class CreateCall { kMemfdCreate, kMemfdSecret };
const char* create_call_name(CreateCall call);

struct Rule {
  std::string id;  // optional, echoed in the audit
  CreateCall syscall = CreateCall::kMemfdCreate;
  std::optional<std::string> name_glob;
  std::string name_regex_source;               // empty when the rule has no regex
  std::shared_ptr<const re2::RE2> name_regex;  // compiled once; RE2 is linear-time
  uint32_t flags_any = 0;               // matches when any of these bits is set (0: no condition)
  uint32_t flags_all = 0;               // matches when all of these bits are set
  uint32_t flags_none = 0;              // matches when none of these bits is set
  std::optional<std::string> exe_glob;  // glob on the caller's /proc/PID/exe
  Action action = Action::kDeny;
  int errno_value = kDefaultDenyErrno;  // for deny
  // Limits on the memfds this rule admitted (allow rules only), apart from the tree's.
  std::optional<uint64_t> max_bytes;
  std::optional<uint64_t> max_live;
  // Whether memfds this rule admits may be executed (allow rules only); unset: Policy::exec.
  std::optional<bool> exec_allowed;
};

struct Quota {
  std::optional<uint64_t> max_calls;             // successful memfd_create calls over the run
  std::optional<uint64_t> max_live;              // memfds alive at once across the tree
  std::optional<uint64_t> max_bytes;             // sum of the charges of the tree's live memfds
  std::optional<uint64_t> max_memfd_bytes;       // the charge of any single memfd
  int errno_value = kDefaultQuotaErrno;          // a create over max_calls / max_live
  int ftruncate_errno = kDefaultFtruncateErrno;  // an ftruncate over a byte limit
  int write_errno = kDefaultWriteErrno;          // fallocate or a write over a byte limit
  bool strict_writes = false;  // also check growth through the write family (costly)
  std::string strict_writes_at;  // "LINE:COLUMN" of the key in its file, for later errors

  bool has_byte_limit() const { return max_bytes || max_memfd_bytes; }
};

struct Policy {
  int version = 1;
  Action default_action = Action::kAllow;
  int default_errno = kDefaultDenyErrno;  // when default_action is deny
  Quota quota;
  std::vector<Rule> rules;  // first match wins
  // exec = "deny" (the default): admitted memfds get MFD_NOEXEC_SEAL, MFD_EXEC is refused with
  // EACCES, and executing a memfd is refused (MITRE ATT&CK T1620). Rules may say exec = "allow".
  bool exec_allowed = false;
  // fuse_exec = "deny": running or mapping executable a file of a FUSE filesystem is refused too
  // (its server, which may be the target's own, serves whatever it reads from: a memfd's bytes
  // as well). Only with exec = "deny". Default: allow.
  bool fuse_exec_allowed = true;
  // io_uring = "deny" (the default): io_uring_setup fails with ENOSYS, because io_uring
  // operations would bypass seccomp.
  bool io_uring_allowed = false;

  // True when a decision needs to know which admitted memfds are still alive: a live or byte
  // limit, or a rule whose memfds are executable (or not) apart from the rest. Otherwise
  // memfd-warden counts calls only, and the audit's live figures are null.
  bool counts_live() const {
    if (quota.max_live || tracks_bytes()) return true;
    for (const auto& rule : rules) {
      if (rule.max_live || rule.exec_allowed) return true;
    }
    return false;
  }

  // True when a rule matches on the caller's executable: every create's caller is read then.
  bool matches_exe() const {
    for (const auto& rule : rules) {
      if (rule.exe_glob) return true;
    }
    return false;
  }

  // True when some limit needs the size of memfds, so growth calls must be trapped.
  bool tracks_bytes() const {
    if (quota.has_byte_limit()) return true;
    for (const auto& rule : rules) {
      if (rule.max_bytes) return true;
    }
    return false;
  }
};

}  // namespace warden
