// `memfd-warden suggest`: a policy that admits what recorded runs did and nothing more. Pure:
// the runs arrive as observations (the supervisor reads them out of audit logs) and leave as
// policy text, with comments saying what each rule is based on.
#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "policy/policy.h"

namespace warden {

struct ObservedCreate {
  std::string exe;
  std::string name;
  uint32_t flags = 0;
  CreateCall call = CreateCall::kMemfdCreate;
  bool refused = false;  // denied or killed in an enforcing run: the run did without it
  bool exe_recorded = true;  // false: the record's exe was null (not collected for an allowed call)
};

struct Observations {
  std::vector<ObservedCreate> creates;
  std::set<std::pair<std::string, std::string>> exec_attempts;  // (exe, memfd name) run or mapped
  bool io_uring = false;                                         // io_uring_setup was asked for
  std::optional<uint64_t> peak_live;          // the highest of the runs' summaries (if counted)
  std::optional<uint64_t> peak_bytes;         // when the runs tracked bytes (a byte limit was set)
  std::optional<uint64_t> peak_memfd_bytes;   // the largest single memfd, from growth records
  std::vector<std::string> sources;           // what was read: files, runs, containers
};

struct SuggestOptions {
  unsigned headroom_percent = 25;  // quotas: the observed peak plus this much
  Action default_action = Action::kDeny;
};

// The policy text (TOML). It parses, and admits every create that was not refused.
std::string suggest_policy(const Observations& observations, const SuggestOptions& options);

// The glob a name generalises to: each run of digits, and each run of six or more letters and
// digits with at least one of each (random parts, as mkstemp makes), becomes `*`; glob
// characters elsewhere are escaped. nullopt when fewer than three literal bytes would be left,
// which would admit too much.
std::optional<std::string> generalized_name(std::string_view name);

// `name` as a glob that matches it alone.
std::string literal_glob(std::string_view name);

}  // namespace warden
