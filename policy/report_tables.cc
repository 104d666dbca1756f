#include "policy/report_tables.h"

#include <algorithm>
#include <array>
#include <cinttypes>
#include <cstdio>
#include <map>
#include <set>
#include <tuple>

#include "policy/printable.h"
#include "policy/suggest.h"

namespace warden {
namespace {

constexpr std::array<const char*, 6> kDecisions = {"allow",      "deny",      "kill",
                                                   "would-deny", "would-kill", "abort"};

std::string seconds_text(double seconds) {
  char text[32];
  std::snprintf(text, sizeof text, "%.3f s", seconds < 0 ? 0.0 : seconds);
  return text;
}

std::string count_text(uint64_t value) { return std::to_string(value); }

std::string program_of(const RecordedRun& run) {
  if (!run.container.empty()) return "container " + printable(run.container);
  return printable(run.program);
}

// Whether the log holds the run's summary; whether the chain is intact is `verify`'s to say.
std::string log_state(const RecordedRun& run) {
  if (!run.summary) return "no summary: cut short or truncated";
  // Everything that went wrong, one after the other: a failure does not hide tampering.
  std::string state;
  auto add = [&state](const std::string& part) { state += (state.empty() ? "" : "; ") + part; };
  if (!run.summary->error.empty()) add("memfd-warden failed: " + printable(run.summary->error));
  if (!run.summary->tampering.empty()) add("tampered: " + printable(run.summary->tampering));
  if (run.summary->write_errors != 0) {
    add(count_text(run.summary->write_errors) + " records lost to write errors");
  }
  return state.empty() ? "summary present" : state;
}

ReportTable runs_table(const std::vector<RecordedRun>& runs) {
  ReportTable table{"Runs",
                    {"Run", "Program", "Started", "Lasted", "Exit", "Calls", "Peak live",
                     "Peak bytes", "Log"},
                    {},
                    "No run was recorded."};
  for (const auto& run : runs) {
    std::string lasted = "-";
    if (run.start_time > 0 && run.end_time >= run.start_time) {
      lasted = seconds_text(run.end_time - run.start_time);
    }
    const auto& summary = run.summary;
    std::string exit = "-";
    if (summary && summary->exit_status) exit = std::to_string(*summary->exit_status);
    table.rows.push_back({printable(run.id.substr(0, 8)), program_of(run), printable(run.started),
                          lasted, exit, summary ? count_text(summary->calls) : "-",
                          summary && summary->peak_live ? count_text(*summary->peak_live) : "-",
                          summary && summary->peak_bytes ? count_text(*summary->peak_bytes)
                                                         : "not tracked",
                          log_state(run)});
  }
  return table;
}

// Within one executable's calls of one kind, names that differ only in numbers or random parts
// are one row (the glob suggest would write), when two or more names stand behind it.
struct NameGroups {
  using Row = std::pair<std::string, std::string>;  // exe, syscall
  std::map<std::pair<Row, std::string>, std::set<std::string>> names_by_key;
  static std::string key_of(const std::string& subject) {
    return generalized_name(subject).value_or(literal_glob(subject));
  }
  void add(const Row& row, const std::string& subject) {
    names_by_key[{row, key_of(subject)}].insert(subject);
  }
  std::string shown(const Row& row, const std::string& subject) const {
    auto it = names_by_key.find({row, key_of(subject)});
    if (it == names_by_key.end() || it->second.size() < 2) return printable(subject);
    return printable(it->first.second) + " (" + count_text(it->second.size()) + " names)";
  }
};

}  // namespace

std::string shown_subject(const RecordedDecision& decision) {
  if (decision.name) return *decision.name;
  if (decision.path) return *decision.path;
  return "-";
}

ReportTables tabulate(const std::vector<RecordedRun>& runs) {
  ReportTables out;
  NameGroups groups;
  uint64_t total = 0;
  std::map<std::string, uint64_t> by_decision;
  for (const auto& run : runs) {
    for (const auto& decision : run.decisions) {
      groups.add({decision.exe, decision.syscall}, shown_subject(decision));
      ++by_decision[decision.decision];
      ++total;
    }
  }

  // Decisions per executable, call and name group.
  using Key = std::tuple<std::string, std::string, std::string>;  // exe, syscall, name shown
  std::map<Key, std::map<std::string, uint64_t>> tallies;
  // Refusals: exe, syscall, name, decision, reason, errno.
  using RefusalKey =
      std::tuple<std::string, std::string, std::string, std::string, std::string, std::string>;
  std::map<RefusalKey, uint64_t> refusals;
  for (const auto& run : runs) {
    for (const auto& decision : run.decisions) {
      std::string name = groups.shown({decision.exe, decision.syscall}, shown_subject(decision));
      ++tallies[{printable(decision.exe), printable(decision.syscall), name}][decision.decision];
      if (!is_refusal(decision.decision)) continue;
      std::string reason = printable(decision.reason);
      if (!decision.rule_id.empty()) reason += " (rule " + printable(decision.rule_id) + ")";
      if (!decision.technique.empty()) reason += ", " + printable(decision.technique);
      std::string error = decision.error.empty() ? "-" : printable(decision.error);
      ++refusals[{printable(decision.exe), printable(decision.syscall), name,
                  printable(decision.decision), reason, error}];
    }
  }

  uint64_t refused = 0, would = 0;
  for (const auto& [decision, count] : by_decision) {
    if (decision.rfind("would-", 0) == 0) {
      would += count;
    } else if (is_refusal(decision)) {
      refused += count;
    }
  }
  out.headline = count_text(runs.size()) + (runs.size() == 1 ? " run, " : " runs, ") +
                 count_text(total) + (total == 1 ? " decision: " : " decisions: ") +
                 count_text(by_decision["allow"]) + " allowed, " + count_text(refused) +
                 " refused" +
                 (would ? ", " + count_text(would) + " would have been refused (dry run)" : "") +
                 (by_decision["abort"] ? ", " + count_text(by_decision["abort"]) +
                                             " abandoned (the caller gone before the answer)"
                                       : "") +
                 ".";

  out.tables.push_back(runs_table(runs));

  ReportTable decisions{"Decisions per executable and name", {"Executable", "Call", "Name"}, {},
                        "No call was decided."};
  // The decisions that happened, in their usual order, then any other the log names.
  std::vector<std::string> columns;
  for (const char* kind : kDecisions) {
    if (by_decision.count(kind) && by_decision[kind] != 0) columns.push_back(kind);
  }
  for (const auto& [kind, count] : by_decision) {
    if (count != 0 && std::find(kDecisions.begin(), kDecisions.end(), kind) == kDecisions.end()) {
      columns.push_back(kind);
    }
  }
  for (const auto& kind : columns) decisions.headers.push_back(printable(kind));
  for (const auto& [key, counts] : tallies) {
    auto& [exe, syscall, name] = key;
    std::vector<std::string> row = {exe, syscall, name};
    for (const auto& kind : columns) {
      auto it = counts.find(kind);
      row.push_back(it == counts.end() ? "" : count_text(it->second));
    }
    decisions.rows.push_back(std::move(row));
  }
  out.tables.push_back(std::move(decisions));

  ReportTable refusal_table{"Refusals",
                            {"Executable", "Call", "Name", "Decision", "Reason", "Errno", "Count"},
                            {},
                            "Nothing was refused, and nothing would have been."};
  for (const auto& [key, count] : refusals) {
    auto& [exe, syscall, name, decision, reason, error] = key;
    refusal_table.rows.push_back({exe, syscall, name, decision, reason, error, count_text(count)});
  }
  out.tables.push_back(std::move(refusal_table));
  return out;
}

}  // namespace warden
