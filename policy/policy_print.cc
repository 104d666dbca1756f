#include "policy/policy_print.h"

#include <toml++/toml.h>

#include <sstream>

#include "policy/errno_names.h"
#include "policy/memfd_flags.h"
#include "policy/sizes.h"

namespace warden {
namespace {

// A TOML basic string with toml++ doing the escaping.
std::string quoted(const std::string& text) {
  std::ostringstream out;
  // Basic ("double-quoted") strings only, as in the docs; toml++ would pick 'literal' ones.
  out << toml::toml_formatter{toml::value<std::string>(text), toml::format_flags::none};
  return out.str();
}

std::string flag_list(uint32_t flags) {
  std::string out = "[";
  for (const auto& name : memfd_flag_names(flags)) {
    out += (out.size() > 1 ? ", " : "") + quoted(name);
  }
  return out + "]";
}

}  // namespace

std::string format_policy(const Policy& policy) {
  std::ostringstream out;
  out << "version = " << policy.version << "\n";
  out << "default = " << quoted(action_name(policy.default_action)) << "\n";
  if (policy.default_action == Action::kDeny) {
    out << "default_errno = " << quoted(errno_name(policy.default_errno)) << "\n";
  }
  out << "exec = " << quoted(policy.exec_allowed ? "allow" : "deny") << "\n";
  out << "fuse_exec = " << quoted(policy.fuse_exec_allowed ? "allow" : "deny") << "\n";
  out << "io_uring = " << quoted(policy.io_uring_allowed ? "allow" : "deny") << "\n";
  out << "\n[quota]\n";
  if (policy.quota.max_calls) out << "max_calls = " << *policy.quota.max_calls << "\n";
  if (policy.quota.max_live) out << "max_live = " << *policy.quota.max_live << "\n";
  if (policy.quota.max_bytes) {
    out << "max_bytes = " << quoted(format_size(*policy.quota.max_bytes)) << "\n";
  }
  if (policy.quota.max_memfd_bytes) {
    out << "max_memfd_bytes = " << quoted(format_size(*policy.quota.max_memfd_bytes)) << "\n";
  }
  out << "errno = " << quoted(errno_name(policy.quota.errno_value)) << "\n";
  out << "ftruncate_errno = " << quoted(errno_name(policy.quota.ftruncate_errno)) << "\n";
  out << "write_errno = " << quoted(errno_name(policy.quota.write_errno)) << "\n";
  out << "strict_writes = " << (policy.quota.strict_writes ? "true" : "false") << "\n";
  for (const auto& rule : policy.rules) {
    out << "\n[[rule]]\n";
    if (!rule.id.empty()) out << "id = " << quoted(rule.id) << "\n";
    out << "syscall = " << quoted(create_call_name(rule.syscall)) << "\n";  // its default too
    if (rule.name_glob) out << "name = " << quoted(*rule.name_glob) << "\n";
    if (rule.name_regex) out << "name_regex = " << quoted(rule.name_regex_source) << "\n";
    if (rule.flags_any) out << "flags_any = " << flag_list(rule.flags_any) << "\n";
    if (rule.flags_all) out << "flags_all = " << flag_list(rule.flags_all) << "\n";
    if (rule.flags_none) out << "flags_none = " << flag_list(rule.flags_none) << "\n";
    if (rule.exe_glob) out << "exe = " << quoted(*rule.exe_glob) << "\n";
    out << "action = " << quoted(action_name(rule.action)) << "\n";
    if (rule.action == Action::kDeny) {
      out << "errno = " << quoted(errno_name(rule.errno_value)) << "\n";
    }
    if (rule.max_bytes) out << "max_bytes = " << quoted(format_size(*rule.max_bytes)) << "\n";
    if (rule.max_live) out << "max_live = " << *rule.max_live << "\n";
    if (rule.exec_allowed)
      out << "exec = " << quoted(*rule.exec_allowed ? "allow" : "deny") << "\n";
  }
  return out.str();
}

}  // namespace warden
