#include "policy/policy_parse.h"

#include <re2/re2.h>
#include <toml++/toml.h>

#include <initializer_list>
#include <sstream>

#include "policy/errno_names.h"
#include "policy/glob.h"
#include "policy/memfd_flags.h"
#include "policy/sizes.h"

namespace warden {
namespace {

// The first error wins; each helper returns false once something is wrong and `error_` is set.
class Parser {
 public:
  explicit Parser(const std::string& origin) : origin_(origin) {}

  Result<Policy> parse(std::string_view text) {
    toml::table root;
    try {
      root = toml::parse(text, origin_);
    } catch (const toml::parse_error& e) {
      const auto& where = e.source().begin;
      return Error{0, origin_ + ":" + std::to_string(where.line) + ":" +
                          std::to_string(where.column) + ": " + std::string(e.description())};
    }
    Policy policy;
    if (!parse_root(root, policy)) return Error{0, error_};
    return policy;
  }

  Result<Rule> glob_rule(Action action, const std::string& glob, const std::string& option) {
    if (auto problem = glob_problem(glob)) {
      return Error{0, option + " '" + glob + "': bad glob: " + *problem};
    }
    Rule rule;
    rule.id = option + "=" + glob;
    rule.name_glob = glob;
    rule.action = action;
    return rule;
  }

 private:
  bool fail(const toml::node& node, const std::string& message) {
    const auto& where = node.source().begin;
    error_ = origin_ + ":" + std::to_string(where.line) + ":" + std::to_string(where.column) +
             ": " + message;
    return false;
  }
  bool fail_at_top(const std::string& message) {
    error_ = origin_ + ":1:1: " + message;
    return false;
  }

  // Refuses keys outside `allowed`, pointing at the offending key itself.
  bool only_keys(const toml::table& table, std::initializer_list<std::string_view> allowed,
                 const std::string& where) {
    for (const auto& [key, value] : table) {
      bool known = false;
      for (auto name : allowed) known = known || key.str() == name;
      if (!known) {
        std::string list;
        for (auto name : allowed) list += (list.empty() ? "" : ", ") + std::string(name);
        error_ = origin_ + ":" + std::to_string(key.source().begin.line) + ":" +
                 std::to_string(key.source().begin.column) + ": unknown key '" +
                 std::string(key.str()) + "' in " + where + " (known keys: " + list + ")";
        return false;
      }
    }
    return true;
  }

  bool get_string(const toml::node& node, const std::string& what, std::string& out) {
    auto value = node.value<std::string>();
    if (!node.is_string() || !value) return fail(node, what + " must be a string");
    out = *value;
    return true;
  }

  bool get_count(const toml::node& node, const std::string& what, uint64_t& out) {
    if (!node.is_integer()) return fail(node, what + " must be an integer");
    int64_t value = *node.value<int64_t>();
    if (value < 0) return fail(node, what + " must not be negative");
    out = static_cast<uint64_t>(value);
    return true;
  }

  bool get_size(const toml::node& node, const std::string& what, uint64_t& out) {
    if (node.is_integer()) {
      return get_count(node, what, out);
    }
    if (!node.is_string()) {
      return fail(node, what + " must be a size: an integer, or a string such as \"512MiB\"");
    }
    std::string problem;
    auto size = parse_size(*node.value<std::string>(), &problem);
    if (!size) return fail(node, what + ": " + problem);
    out = *size;
    return true;
  }

  bool get_bool(const toml::node& node, const std::string& what, bool& out) {
    if (!node.is_boolean()) return fail(node, what + " must be true or false");
    out = *node.value<bool>();
    return true;
  }

  bool get_allow_deny(const toml::node& node, const std::string& what, bool& allowed) {
    std::string text;
    if (!get_string(node, what, text)) return false;
    if (text != "allow" && text != "deny") {
      return fail(node, what + " must be \"allow\" or \"deny\", not \"" + text + "\"");
    }
    allowed = text == "allow";
    return true;
  }

  bool get_action(const toml::node& node, const std::string& what, Action& out) {
    std::string text;
    if (!get_string(node, what, text)) return false;
    auto action = action_from_name(text);
    if (!action)
      return fail(node, what + " must be \"allow\", \"deny\" or \"kill\", not \"" + text + "\"");
    out = *action;
    return true;
  }

  bool get_errno(const toml::node& node, const std::string& what, int& out) {
    std::optional<int> value;
    if (node.is_integer()) {
      int64_t number = *node.value<int64_t>();
      if (number >= 1 && number <= 4095) value = static_cast<int>(number);
    } else if (node.is_string()) {
      value = errno_from_name(*node.value<std::string>());
    } else {
      return fail(node, what + " must be an errno name such as \"EACCES\" or a number");
    }
    if (!value)
      return fail(node, what +
                            ": unknown errno (use a name such as \"EPERM\" or a "
                            "number from 1 to 4095)");
    out = *value;
    return true;
  }

  bool get_flags(const toml::node& node, const std::string& what, uint32_t& out) {
    const auto* array = node.as_array();
    if (array == nullptr) return fail(node, what + " must be an array of flag names");
    for (const auto& element : *array) {
      std::string name;
      if (!get_string(element, what + " entries", name)) return false;
      auto bit = memfd_flag_from_name(name);
      if (!bit) {
        std::string known;
        for (auto flag : all_memfd_flag_names())
          known += (known.empty() ? "" : ", ") + std::string(flag);
        return fail(element, what + ": unknown flag \"" + name + "\" (known: " + known + ")");
      }
      out |= *bit;
    }
    return true;
  }

  bool get_glob(const toml::node& node, const std::string& what, std::optional<std::string>& out) {
    std::string pattern;
    if (!get_string(node, what, pattern)) return false;
    if (auto problem = glob_problem(pattern)) return fail(node, what + ": bad glob: " + *problem);
    out = pattern;
    return true;
  }

  bool parse_root(const toml::table& root, Policy& policy) {
    if (!only_keys(root,
                   {"version", "default", "default_errno", "exec", "fuse_exec", "io_uring", "quota",
                    "rule"},
                   "the top level")) {
      return false;
    }
    const toml::node* version = root.get("version");
    if (version == nullptr) return fail_at_top("missing 'version = 1' at the top level");
    if (!version->is_integer() || *version->value<int64_t>() != 1) {
      return fail(*version, "unsupported policy version (this memfd-warden reads version = 1)");
    }
    if (const auto* node = root.get("default")) {
      if (!get_action(*node, "default", policy.default_action)) return false;
    }
    if (const auto* node = root.get("default_errno")) {
      if (!get_errno(*node, "default_errno", policy.default_errno)) return false;
      if (policy.default_action != Action::kDeny) {
        return fail(*node, "default_errno only applies when default = \"deny\"");
      }
    }
    if (const auto* node = root.get("exec")) {
      if (!get_allow_deny(*node, "exec", policy.exec_allowed)) return false;
    }
    if (const auto* node = root.get("fuse_exec")) {
      if (!get_allow_deny(*node, "fuse_exec", policy.fuse_exec_allowed)) return false;
      if (!policy.fuse_exec_allowed && policy.exec_allowed) {
        return fail(*node,
                    "fuse_exec = \"deny\" needs exec = \"deny\": with exec = \"allow\" no "
                    "program or mapping is checked");
      }
    }
    if (const auto* node = root.get("io_uring")) {
      if (!get_allow_deny(*node, "io_uring", policy.io_uring_allowed)) return false;
    }
    if (const auto* node = root.get("quota")) {
      if (!node->is_table()) return fail(*node, "quota must be a table ([quota])");
      if (!parse_quota(*node->as_table(), policy.quota)) return false;
    }
    if (const auto* node = root.get("rule")) {
      const auto* rules = node->as_array();
      if (rules == nullptr || !rules->is_array_of_tables()) {
        return fail(*node, "rule must be an array of tables ([[rule]])");
      }
      for (const auto& element : *rules) {
        Rule rule;
        std::string where = "rule " + std::to_string(policy.rules.size() + 1);
        if (!parse_rule(*element.as_table(), where, rule)) return false;
        policy.rules.push_back(std::move(rule));
      }
    }
    return true;
  }

  bool parse_quota(const toml::table& table, Quota& quota) {
    if (!only_keys(table,
                   {"max_calls", "max_live", "max_bytes", "max_memfd_bytes", "errno",
                    "ftruncate_errno", "write_errno", "strict_writes"},
                   "[quota]")) {
      return false;
    }
    uint64_t value = 0;
    if (const auto* node = table.get("max_calls")) {
      if (!get_count(*node, "quota.max_calls", value)) return false;
      quota.max_calls = value;
    }
    if (const auto* node = table.get("max_live")) {
      if (!get_count(*node, "quota.max_live", value)) return false;
      quota.max_live = value;
    }
    if (const auto* node = table.get("max_bytes")) {
      if (!get_size(*node, "quota.max_bytes", value)) return false;
      quota.max_bytes = value;
    }
    if (const auto* node = table.get("max_memfd_bytes")) {
      if (!get_size(*node, "quota.max_memfd_bytes", value)) return false;
      quota.max_memfd_bytes = value;
    }
    if (const auto* node = table.get("errno")) {
      if (!get_errno(*node, "quota.errno", quota.errno_value)) return false;
    }
    if (const auto* node = table.get("ftruncate_errno")) {
      if (!get_errno(*node, "quota.ftruncate_errno", quota.ftruncate_errno)) return false;
    }
    if (const auto* node = table.get("write_errno")) {
      if (!get_errno(*node, "quota.write_errno", quota.write_errno)) return false;
    }
    if (const auto* node = table.get("strict_writes")) {
      if (!get_bool(*node, "quota.strict_writes", quota.strict_writes)) return false;
      quota.strict_writes_at = std::to_string(node->source().begin.line) + ":" +
                               std::to_string(node->source().begin.column);
    }
    return true;
  }

  bool parse_rule(const toml::table& table, const std::string& where, Rule& rule) {
    if (!only_keys(table,
                   {"id", "syscall", "name", "name_regex", "flags_any", "flags_all", "flags_none",
                    "exe", "action", "errno", "max_bytes", "max_live", "exec"},
                   where)) {
      return false;
    }
    if (const auto* node = table.get("syscall")) {
      std::string call;
      if (!get_string(*node, where + ": syscall", call)) return false;
      if (call == "memfd_secret") {
        rule.syscall = CreateCall::kMemfdSecret;
      } else if (call != "memfd_create") {
        return fail(*node, where + ": syscall must be \"memfd_create\" or \"memfd_secret\"");
      }
      if (rule.syscall == CreateCall::kMemfdSecret) {
        for (const char* key : {"name", "name_regex", "flags_any", "flags_all", "flags_none"}) {
          if (const auto* bad = table.get(key)) {
            return fail(*bad, where + ": memfd_secret takes no name and no MFD_ flags, so '" + key +
                                  "' cannot apply");
          }
        }
      }
    }
    if (const auto* node = table.get("id")) {
      if (!get_string(*node, where + ": id", rule.id)) return false;
    }
    if (const auto* node = table.get("name")) {
      if (!get_glob(*node, where + ": name", rule.name_glob)) return false;
    }
    if (const auto* node = table.get("name_regex")) {
      if (rule.name_glob) return fail(*node, where + ": use either name or name_regex, not both");
      if (!get_string(*node, where + ": name_regex", rule.name_regex_source)) return false;
      std::string problem;
      rule.name_regex = compile_name_regex(rule.name_regex_source, &problem);
      if (!rule.name_regex) return fail(*node, where + ": name_regex: bad regex: " + problem);
    }
    if (const auto* node = table.get("flags_any")) {
      if (!get_flags(*node, where + ": flags_any", rule.flags_any)) return false;
      // None of no flags is ever set: such a rule could never match (0 reads as no condition).
      if (rule.flags_any == 0) {
        return fail(*node, where + ": flags_any = [] matches no call; list a flag or drop the key");
      }
    }
    if (const auto* node = table.get("flags_all")) {
      if (!get_flags(*node, where + ": flags_all", rule.flags_all)) return false;
    }
    if (const auto* node = table.get("flags_none")) {
      if (!get_flags(*node, where + ": flags_none", rule.flags_none)) return false;
    }
    if (const auto* node = table.get("exe")) {
      if (!get_glob(*node, where + ": exe", rule.exe_glob)) return false;
    }
    const auto* action = table.get("action");
    if (action == nullptr) {
      error_ = origin_ + ":" + std::to_string(table.source().begin.line) + ":" +
               std::to_string(table.source().begin.column) + ": " + where +
               ": missing action (allow, deny or kill)";
      return false;
    }
    if (!get_action(*action, where + ": action", rule.action)) return false;
    if (const auto* node = table.get("errno")) {
      if (!get_errno(*node, where + ": errno", rule.errno_value)) return false;
      if (rule.action != Action::kDeny) {
        return fail(*node, where + ": errno only applies to action = \"deny\"");
      }
    }
    if (const auto* node = table.get("exec")) {
      if (rule.action != Action::kAllow) {
        return fail(*node, where +
                               ": exec says whether the memfds a rule admits may run, so it "
                               "needs action = \"allow\"");
      }
      bool allowed = false;
      if (!get_allow_deny(*node, where + ": exec", allowed)) return false;
      rule.exec_allowed = allowed;
    }
    uint64_t value = 0;
    for (const char* key : {"max_bytes", "max_live"}) {
      const auto* node = table.get(key);
      if (node == nullptr) continue;
      if (rule.action != Action::kAllow) {
        return fail(*node, where + ": " + key +
                               " limits the memfds a rule admits, so it needs action = \"allow\"");
      }
      bool is_bytes = std::string_view(key) == "max_bytes";
      if (!(is_bytes ? get_size(*node, where + ": max_bytes", value)
                     : get_count(*node, where + ": max_live", value))) {
        return false;
      }
      (is_bytes ? rule.max_bytes : rule.max_live) = value;
    }
    return true;
  }

  std::string origin_;
  std::string error_;
};

}  // namespace

const char* create_call_name(CreateCall call) {
  return call == CreateCall::kMemfdSecret ? "memfd_secret" : "memfd_create";
}

const char* action_name(Action action) {
  switch (action) {
    case Action::kAllow:
      return "allow";
    case Action::kDeny:
      return "deny";
    case Action::kKill:
      return "kill";
  }
  return "?";
}

std::optional<Action> action_from_name(std::string_view name) {
  if (name == "allow") return Action::kAllow;
  if (name == "deny") return Action::kDeny;
  if (name == "kill") return Action::kKill;
  return std::nullopt;
}

std::shared_ptr<const re2::RE2> compile_name_regex(const std::string& source,
                                                   std::string* problem) {
  // Names are arbitrary bytes, so match bytes (Latin-1) rather than UTF-8 code points.
  RE2::Options options(RE2::Latin1);
  options.set_log_errors(false);
  auto compiled = std::make_shared<const re2::RE2>(source, options);
  if (!compiled->ok()) {
    *problem = compiled->error();
    return nullptr;
  }
  return compiled;
}

Result<Policy> parse_policy(std::string_view text, const std::string& origin) {
  return Parser(origin).parse(text);
}

Result<Rule> rule_from_glob_option(Action action, const std::string& glob,
                                   const std::string& option) {
  return Parser(option).glob_rule(action, glob, option);
}

}  // namespace warden
