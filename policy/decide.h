// The decision: a pure function of (policy, request, quota state) -> Verdict. Both backends and
// every test call this one function; nothing here reads the target or the clock.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "policy/policy.h"

namespace warden {

// What the supervisor learned about one memfd_create call.
struct MemfdRequest {
  std::string_view name;  // the exact bytes read from the target, without the NUL
  uint32_t flags = 0;
  std::string_view exe;  // the caller's executable, empty when unknown
};

// The tree-wide counts as they stand before this call.
struct QuotaState {
  uint64_t calls = 0;  // memfd_create calls that succeeded so far
  uint64_t live = 0;   // memfds alive now
};

enum class Reason { kRule, kDefault, kQuotaCalls, kQuotaLive };

const char* reason_name(Reason reason);

struct Verdict {
  Action action = Action::kAllow;
  int errno_value = 0;               // set for deny
  std::optional<size_t> rule_index;  // which rule matched, when one did
  Reason reason = Reason::kDefault;
};

// True when `rule` matches `request` (all of its conditions hold).
bool rule_matches(const Rule& rule, const MemfdRequest& request);

// First matching rule wins, else the default; an allow is then checked against the quotas.
Verdict decide(const Policy& policy, const MemfdRequest& request, const QuotaState& quota);

}  // namespace warden
