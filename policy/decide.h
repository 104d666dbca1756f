// The decision: a pure function of (policy, request, quota state) -> Verdict. Both backends and
// every test call this one function; nothing here reads the target or the clock.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include "policy/policy.h"

namespace warden {

// What the supervisor learned about one call that makes a memfd.
struct MemfdRequest {
  std::string_view name;  // the exact bytes read from the target, without the NUL
  uint32_t flags = 0;
  std::string_view exe;  // the caller's executable, empty when unknown
  CreateCall call = CreateCall::kMemfdCreate;
};

// What the memfds admitted by one rule hold now.
struct RuleUsage {
  uint64_t live = 0;
  uint64_t bytes = 0;
};

// The tree-wide counts as they stand before this call.
struct QuotaState {
  uint64_t calls = 0;                // create calls that succeeded so far
  uint64_t live = 0;                 // memfds alive now (when live_counted)
  uint64_t bytes = 0;                // the sum of their charges
  std::span<const RuleUsage> rules;  // indexed like Policy::rules; may be empty
  bool live_counted = true;          // false: nothing needed `live` (Policy::counts_live)
};

enum class Reason {
  kRule,
  kDefault,
  kQuotaCalls,
  kQuotaLive,
  kRuleLive,
  kGrowth,  // a growth within every limit
  kQuotaBytes,
  kQuotaMemfdBytes,
  kRuleBytes,
  kFilelessExec,  // MFD_EXEC, or executing a memfd, where exec = "deny" (T1620)
};

const char* reason_name(Reason reason);

struct Verdict {
  Action action = Action::kAllow;
  int errno_value = 0;               // set for deny
  std::optional<size_t> rule_index;  // which rule matched, when one did
  Reason reason = Reason::kDefault;
  // For an allowed memfd_create: add MFD_NOEXEC_SEAL (exec = "deny" applies to it).
  bool seal_noexec = false;
};

// Whether a memfd admitted with this verdict's rule (or the default) may be executed.
bool exec_allowed(const Policy& policy, std::optional<size_t> rule_index);

// True when `rule` matches `request` (all of its conditions hold).
bool rule_matches(const Rule& rule, const MemfdRequest& request);

// First matching rule wins, else the default; an allow is then checked against the quotas.
Verdict decide(const Policy& policy, const MemfdRequest& request, const QuotaState& quota);

// A call that would change one memfd's charge (its largest extent: max(size, fallocated end)).
enum class GrowthKind { kFtruncate, kFallocate, kWrite };

struct GrowthRequest {
  GrowthKind kind = GrowthKind::kFtruncate;
  uint64_t old_charge = 0;
  uint64_t new_charge = 0;
  std::optional<size_t> rule_index;  // the rule that admitted this memfd, if any
};

// Never refuses a call that does not raise the charge. Otherwise checks the per-memfd cap, the
// tree's max_bytes and the admitting rule's max_bytes, and refuses with quota.ftruncate_errno
// (ftruncate) or quota.write_errno (fallocate, writes).
Verdict decide_growth(const Policy& policy, const GrowthRequest& request, const QuotaState& quota);

}  // namespace warden
