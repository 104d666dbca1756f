#include "policy/decide.h"

#include <re2/re2.h>

#include <string>

#include "policy/glob.h"

namespace warden {

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
  }
  return "?";
}

bool rule_matches(const Rule& rule, const MemfdRequest& request) {
  if (rule.flags_any && !(request.flags & rule.flags_any)) return false;
  if ((request.flags & rule.flags_all) != rule.flags_all) return false;
  if (request.flags & rule.flags_none) return false;
  // fnmatch wants NUL-terminated strings; names are at most 249 bytes, so the copy is small.
  if (rule.name_glob && !glob_match(*rule.name_glob, std::string(request.name))) return false;
  if (rule.name_regex &&
      !RE2::PartialMatch(re2::StringPiece(request.name.data(), request.name.size()),
                         *rule.name_regex)) {
    return false;
  }
  if (rule.exe_glob && !glob_match(*rule.exe_glob, std::string(request.exe))) return false;
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
  if (policy.quota.max_calls && quota.calls >= *policy.quota.max_calls) {
    verdict.action = Action::kDeny;
    verdict.errno_value = policy.quota.errno_value;
    verdict.reason = Reason::kQuotaCalls;
  } else if (policy.quota.max_live && quota.live >= *policy.quota.max_live) {
    verdict.action = Action::kDeny;
    verdict.errno_value = policy.quota.errno_value;
    verdict.reason = Reason::kQuotaLive;
  }
  return verdict;
}

}  // namespace warden
