#include "policy/suggest.h"

#include <algorithm>
#include <map>
#include <sstream>
#include <toml++/toml.h>

#include "policy/memfd_flags.h"
#include "policy/printable.h"

namespace warden {
namespace {

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_alnum(char c) {
  return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

void append_literal(std::string& glob, char c) {
  if (c == '*' || c == '?' || c == '[' || c == ']' || c == '\\') glob += '\\';
  glob += c;
}

// A TOML basic string. toml++ writes the escapes; bytes that are not UTF-8 cannot be in a TOML
// string at all, so a glob gets `?` (any one byte) for each of them.
std::string quoted(std::string_view text) {
  std::string valid;
  for (size_t i = 0; i < text.size();) {
    size_t length = utf8_sequence_length(text.substr(i));
    if (length > 0) {
      valid.append(text.substr(i, length));
      i += length;
    } else {
      valid += '?';
      ++i;
    }
  }
  std::ostringstream out;
  out << toml::value<std::string>(valid);
  return out.str();
}

uint64_t with_headroom(uint64_t peak, unsigned percent) {
  uint64_t grown = peak + (peak * percent + 99) / 100;
  return std::max<uint64_t>(grown, peak + 1);
}

std::string flag_list(uint32_t flags) {
  std::string out = "[";
  for (const auto& name : memfd_flag_names(flags)) {
    if (out.size() > 1) out += ", ";
    out += "\"" + name + "\"";
  }
  return out + "]";
}

// The rules for one executable's creates, by name pattern.
struct NameGroup {
  std::set<std::string> names;
  uint32_t flags = 0;  // every flag seen
  size_t calls = 0;
  bool exec = false;
};

}  // namespace

std::optional<std::string> generalized_name(std::string_view name) {
  std::string glob;
  size_t literal = 0;
  for (size_t i = 0; i < name.size();) {
    size_t end = i;
    while (end < name.size() && is_alnum(name[end])) ++end;
    std::string_view word = name.substr(i, end - i);
    if (!word.empty()) {
      bool digits = std::any_of(word.begin(), word.end(), is_digit);
      bool letters = std::any_of(word.begin(), word.end(), [](char c) { return !is_digit(c); });
      if (digits && letters && word.size() >= 6) {  // random-looking: the whole word goes
        if (glob.empty() || glob.back() != '*') glob += '*';
      } else {
        for (char c : word) {
          if (is_digit(c)) {
            if (glob.empty() || glob.back() != '*') glob += '*';
          } else {
            glob += c;
            ++literal;
          }
        }
      }
      i = end;
      continue;
    }
    append_literal(glob, name[i]);
    ++literal;
    ++i;
  }
  if (literal < 3) return std::nullopt;
  return glob;
}

std::string literal_glob(std::string_view name) {
  std::string glob;
  for (char c : name) append_literal(glob, c);
  return glob;
}

std::string suggest_policy(const Observations& seen, const SuggestOptions& options) {
  std::ostringstream out;
  out << "# Suggested by memfd-warden suggest: it admits what the recorded runs did, and nothing\n"
         "# more. Read it before you enforce it.\n";
  for (const auto& source : seen.sources) out << "# from " << printable(source) << "\n";
  out << "version = 1\n"
      << "default = \"" << action_name(options.default_action) << "\"\n";
  if (seen.io_uring) {
    out << "# io_uring_setup was asked for in the recorded runs.\nio_uring = \"allow\"\n";
  }

  // Quotas from the peaks.
  out << "\n[quota]\n";
  if (seen.peak_live) {
    out << "# peak: " << *seen.peak_live << " memfds alive at once; plus "
        << options.headroom_percent
        << "%\nmax_live = " << with_headroom(*seen.peak_live, options.headroom_percent) << "\n";
  } else {
    out << "# No live counts were recorded: run the trial with --count-live to have max_live\n"
           "# suggested.\n";
  }
  if (seen.peak_bytes) {
    out << "# peak: " << *seen.peak_bytes << " bytes held by all memfds together\nmax_bytes = "
        << with_headroom(*seen.peak_bytes, options.headroom_percent) << "\n";
  } else {
    out << "# No byte figures were recorded: run the trial with a byte limit (for example\n"
           "# --max-bytes 1T) to have them suggested.\n";
  }
  if (seen.peak_memfd_bytes) {
    out << "# peak: " << *seen.peak_memfd_bytes << " bytes in one memfd\nmax_memfd_bytes = "
        << with_headroom(*seen.peak_memfd_bytes, options.headroom_percent) << "\n";
  }

  // Rules: per executable, per name pattern. A create whose record did not name its executable
  // gets a rule for any executable (the key nullopt).
  using Exe = std::optional<std::string>;
  std::map<Exe, std::map<std::string, NameGroup>> by_exe;  // exe -> glob -> group
  std::map<Exe, size_t> secrets;                           // exe -> memfd_secret calls
  std::vector<const ObservedCreate*> refused;
  bool unnamed = false;
  // A create recorded without its executable matches an exec of its memfd by name alone.
  std::set<std::string> exec_names;
  for (const auto& [exe, name] : seen.exec_attempts) exec_names.insert(name);
  for (const auto& create : seen.creates) {
    if (create.refused) {
      refused.push_back(&create);
      continue;
    }
    Exe exe = create.exe_recorded ? Exe(create.exe) : std::nullopt;
    unnamed = unnamed || !exe;
    if (create.call == CreateCall::kMemfdSecret) {
      ++secrets[exe];
      continue;
    }
    auto general = generalized_name(create.name);
    auto& group = by_exe[exe][general.value_or(literal_glob(create.name))];
    group.names.insert(create.name);
    group.flags |= create.flags;
    ++group.calls;
    group.exec = group.exec || (exe ? seen.exec_attempts.count({*exe, create.name}) > 0
                                    : exec_names.count(create.name) > 0);
  }
  // A pattern only one name stands behind stays that name: nothing showed that it varies.
  for (auto& [exe, groups] : by_exe) {
    std::map<std::string, NameGroup> settled;
    for (auto& [glob, group] : groups) {
      auto& kept = settled[group.names.size() > 1 ? glob : literal_glob(*group.names.begin())];
      kept.names.insert(group.names.begin(), group.names.end());
      kept.flags |= group.flags;
      kept.calls += group.calls;
      kept.exec = kept.exec || group.exec;
    }
    groups = std::move(settled);
  }

  if (unnamed) {
    out << "\n# Some allowed calls were recorded without their executable (no rule matched on exe\n"
           "# and the trial ran without --record-exe): their rules below match any executable.\n";
  }
  // "by /usr/bin/x" or "by an executable not recorded"; the rule's exe line, if any.
  auto by = [](const Exe& exe) { return exe ? printable(*exe) : "an executable not recorded"; };
  auto exe_line = [](const Exe& exe) {
    return exe ? "\nexe = " + quoted(literal_glob(*exe)) : std::string();
  };

  uint32_t every_flag = 0;
  for (const auto& name : all_memfd_flag_names()) every_flag |= *memfd_flag_from_name(name);
  size_t index = 0;
  for (const auto& [exe, groups] : by_exe) {
    for (const auto& [glob, group] : groups) {
      out << "\n# " << group.calls << " call" << (group.calls == 1 ? "" : "s") << " by "
          << by(exe) << ": ";
      size_t listed = 0;
      for (const auto& name : group.names) {
        if (listed == 5) {
          out << ", ... (" << group.names.size() << " names)";
          break;
        }
        out << (listed++ ? ", " : "") << "\"" << printable(name) << "\"";
      }
      out << "; flags seen: " << flag_list(group.flags) << "\n";
      if (group.exec) out << "# A memfd of these was run or mapped executable.\n";
      out << "[[rule]]\nid = \"seen-" << ++index << "\"" << exe_line(exe)
          << "\nname = " << quoted(glob) << "\n";
      uint32_t unseen = every_flag & ~group.flags;
      if (unseen != 0) out << "flags_none = " << flag_list(unseen) << "\n";
      out << "action = \"allow\"\n";
      if (group.exec || (group.flags & *memfd_flag_from_name("MFD_EXEC"))) {
        out << "exec = \"allow\"\n";
      }
    }
  }
  for (const auto& [exe, calls] : secrets) {
    out << "\n# " << calls << " memfd_secret call" << (calls == 1 ? "" : "s") << " by "
        << by(exe) << "\n[[rule]]\nid = \"seen-" << ++index
        << "\"\nsyscall = \"memfd_secret\"" << exe_line(exe) << "\naction = \"allow\"\n";
  }
  if (!refused.empty()) {
    out << "\n# Refused in the recorded runs, and not admitted here:\n";
    for (const auto* create : refused) {
      out << "#   " << printable(create->exe) << ": "
          << (create->call == CreateCall::kMemfdSecret ? "memfd_secret" : "\"" + printable(create->name) + "\"")
          << "\n";
    }
  }
  return out.str();
}

}  // namespace warden
