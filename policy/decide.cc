#include "policy/decide.h"

#include <re2/re2.h>

#include <string>

#include "policy/glob.h"
#include "policy/memfd_flags.h"

namespace warden {
namespace {
constexpr int kExecErrno = 13;  // EACCES, as the kernel answers a noexec memfd
}  // namespace

const char* reason_name(Reason reason) {
  switch (reason) {
    case Reason::kRule:
      return "rule";
    case Reason::kDefault:
      return "default";
    case Reason::kQuotaCalls:
      return "quota.max_calls";
    case Reason::kQuotaLive:
      return "quota.max_live";
    case Reason::kRuleLive:
      return "rule.max_live";
    case Reason::kGrowth:
      return "growth";
    case Reason::kQuotaBytes:
      return "quota.max_bytes";
    case Reason::kQuotaMemfdBytes:
      return "quota.max_memfd_bytes";
    case Reason::kRuleBytes:
      return "rule.max_bytes";
    case Reason::kFilelessExec:
      return "fileless-exec";
  }
  return "?";
}

bool rule_matches(const Rule& rule, const MemfdRequest& request) {
  if (rule.syscall != request.call) return false;
  if (rule.flags_any && !(request.flags & rule.flags_any)) return false;
  if ((request.flags & rule.flags_all) != rule.flags_all) return false;
  if (request.flags & rule.flags_none) return false;
  if (rule.name_glob && !glob_match(*rule.name_glob, request.name)) return false;
  if (rule.name_regex &&
      !RE2::PartialMatch(re2::StringPiece(request.name.data(), request.name.size()),
                         *rule.name_regex)) {
    return false;
  }
  if (rule.exe_glob) {
    // Unknown (a caller that made itself non-dumpable, seen by a memfd-warden without
    // CAP_SYS_PTRACE): a rule that refuses applies, one that admits does not. Hiding the
    // executable never gets a call what only a known one would.
    if (request.exe.empty()) return rule.action != Action::kAllow;
    if (!glob_match(*rule.exe_glob, request.exe)) return false;
  }
  return true;
}

Verdict decide(const Policy& policy, const MemfdRequest& request, const QuotaState& quota) {
  Verdict verdict;
  verdict.action = policy.default_action;
  verdict.errno_value = policy.default_errno;
  verdict.reason = Reason::kDefault;
  for (size_t i = 0; i < policy.rules.size(); ++i) {
    if (rule_matches(policy.rules[i], request)) {
      verdict.action = policy.rules[i].action;
      verdict.errno_value = policy.rules[i].errno_value;
      verdict.rule_index = i;
      verdict.reason = Reason::kRule;
      break;
    }
  }
  if (verdict.action != Action::kAllow) return verdict;
  verdict.errno_value = 0;

  // Quotas only ever turn an allow into a deny; the matched rule stays in the verdict.
  auto refuse = [&](Reason reason) {
    verdict.action = Action::kDeny;
    verdict.errno_value = policy.quota.errno_value;
    verdict.reason = reason;
  };
  if (verdict.rule_index) {
    const Rule& rule = policy.rules[*verdict.rule_index];
    uint64_t rule_live =
        *verdict.rule_index < quota.rules.size() ? quota.rules[*verdict.rule_index].live : 0;
    if (rule.max_live && rule_live >= *rule.max_live) {
      refuse(Reason::kRuleLive);
      return verdict;
    }
  }
  if (policy.quota.max_calls && quota.calls >= *policy.quota.max_calls) {
    refuse(Reason::kQuotaCalls);
    return verdict;
  }
  if (policy.quota.max_live && quota.live >= *policy.quota.max_live) {
    refuse(Reason::kQuotaLive);
    return verdict;
  }
  // Fileless execution: an executable memfd is refused; any other is sealed against exec.
  if (request.call == CreateCall::kMemfdCreate && !exec_allowed(policy, verdict.rule_index)) {
    if (request.flags & kMfdExec) {
      verdict.action = Action::kDeny;
      verdict.errno_value = kExecErrno;
      verdict.reason = Reason::kFilelessExec;
    } else {
      verdict.seal_noexec = true;
    }
  }
  return verdict;
}

bool exec_allowed(const Policy& policy, std::optional<size_t> rule_index) {
  if (rule_index && policy.rules[*rule_index].action == Action::kAllow &&
      policy.rules[*rule_index].exec_allowed) {
    return *policy.rules[*rule_index].exec_allowed;
  }
  return policy.exec_allowed;
}

Verdict decide_growth(const Policy& policy, const GrowthRequest& request, const QuotaState& quota) {
  Verdict verdict;
  verdict.action = Action::kAllow;
  verdict.reason = Reason::kGrowth;
  verdict.rule_index = request.rule_index;
  if (request.new_charge <= request.old_charge) return verdict;
  uint64_t added = request.new_charge - request.old_charge;
  auto over = [added](uint64_t used, const std::optional<uint64_t>& limit) {
    return limit && (added > *limit || used > *limit - added);  // used + added > limit, no overflow
  };
  std::optional<Reason> refused;
  if (policy.quota.max_memfd_bytes && request.new_charge > *policy.quota.max_memfd_bytes) {
    refused = Reason::kQuotaMemfdBytes;
  } else if (over(quota.bytes, policy.quota.max_bytes)) {
    refused = Reason::kQuotaBytes;
  } else if (request.rule_index) {
    const Rule& rule = policy.rules[*request.rule_index];
    uint64_t rule_bytes =
        *request.rule_index < quota.rules.size() ? quota.rules[*request.rule_index].bytes : 0;
    if (over(rule_bytes, rule.max_bytes)) refused = Reason::kRuleBytes;
  }
  if (refused) {
    verdict.action = Action::kDeny;
    verdict.reason = *refused;
    verdict.errno_value = request.kind == GrowthKind::kFtruncate ? policy.quota.ftruncate_errno
                                                                 : policy.quota.write_errno;
  }
  return verdict;
}

}  // namespace warden
