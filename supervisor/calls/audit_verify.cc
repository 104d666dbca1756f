#include "supervisor/calls/audit_verify.h"

#include <rapidjson/document.h>

#include <cstring>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>

#include "policy/printable.h"
#include "supervisor/calls/audit_chain.h"

namespace warden {
namespace {

constexpr std::string_view kChainKey = ",\"chain\":\"";

struct Entry {
  const AuditLine* line;
  uint64_t seq = 0;
  std::string event;
  std::string_view prefix;  // the bytes the chain covers
  ChainValue chain{};
  std::optional<RunKey> key;      // summary: the disclosed key
  std::optional<uint64_t> count;  // summary: records in the run
};

std::string range(uint64_t first, uint64_t last) {
  return first == last ? std::to_string(first) : std::to_string(first) + "-" + std::to_string(last);
}

// Splits a chained record into the part the chain covers and the chain value.
bool split_chain(std::string_view text, std::string_view& prefix, ChainValue& chain) {
  size_t at = text.rfind(kChainKey);
  if (at == std::string_view::npos) return false;
  std::string_view tail = text.substr(at + kChainKey.size());
  if (tail.size() != 2 * kChainBytes + 2 || tail.substr(2 * kChainBytes) != "\"}") return false;
  prefix = text.substr(0, at);
  return from_hex(tail.substr(0, 2 * kChainBytes), chain.data(), chain.size());
}

void check_run(RunVerdict& verdict, const std::vector<Entry>& entries) {
  const Entry* seal = nullptr;
  for (const auto& entry : entries) {
    if (entry.event != "summary") continue;
    if (seal == nullptr) {
      seal = &entry;
    } else {
      verdict.problems.push_back(entry.line->where + ": a second summary for the run (forged)");
    }
  }
  verdict.records = entries.size();
  if (seal == nullptr || !seal->key || !seal->count) {
    verdict.problems.push_back(
        "not sealed: no summary with the run's key (memfd-warden was killed before the end, or "
        "the log was cut after " +
        entries.back().line->where + "); its " + std::to_string(entries.size()) +
        " records cannot be checked");
    return;
  }
  verdict.sealed = true;
  uint64_t expected = 0;
  ChainValue previous{};
  bool past_seal = false;
  for (const auto& entry : entries) {
    if (past_seal) {
      verdict.problems.push_back(entry.line->where + ": a record after the run's seal (forged)");
      continue;
    }
    if (entry.seq < expected) {
      verdict.problems.push_back(entry.line->where + ": record " + std::to_string(entry.seq) +
                                 " again, or out of order (replayed or forged)");
      continue;
    }
    if (entry.seq > expected) {
      verdict.problems.push_back("records " + range(expected, entry.seq - 1) + " missing before " +
                                 entry.line->where + " (the log was cut or records removed)");
    } else if (chain_mac(*seal->key, previous, entry.prefix) != entry.chain) {
      verdict.problems.push_back(entry.line->where + ": record " + std::to_string(entry.seq) +
                                 " was changed, or forged (its chain value does not match)");
    }
    previous = entry.chain;
    expected = entry.seq + 1;
    if (&entry == seal) past_seal = true;
  }
  if (*seal->count != seal->seq + 1) {
    verdict.problems.push_back(seal->line->where + ": the seal counts " +
                               std::to_string(*seal->count) + " records but closes at " +
                               std::to_string(seal->seq + 1));
  }
}

}  // namespace

bool VerifyReport::intact() const {
  if (runs.empty() || !problems.empty()) return false;
  for (const auto& run : runs) {
    if (!run.problems.empty()) return false;
  }
  return true;
}

VerifyReport verify_audit(const std::vector<AuditLine>& lines) {
  VerifyReport report;
  std::vector<std::string> order;  // runs by first appearance
  std::map<std::string, std::vector<Entry>> runs;
  std::map<std::string, std::string> programs;
  for (const auto& line : lines) {
    if (line.text.empty()) continue;
    rapidjson::Document doc;
    // Iterative: a line of nested brackets must not exhaust our stack.
    doc.Parse<rapidjson::kParseIterativeFlag>(line.text.data(), line.text.size());
    if (doc.HasParseError() || !doc.IsObject()) {
      report.problems.push_back(line.where + ": not an audit record");
      continue;
    }
    Entry entry;
    entry.line = &line;
    auto run = doc.FindMember("run");
    auto seq = doc.FindMember("seq");
    auto event = doc.FindMember("event");
    if (run == doc.MemberEnd() || !run->value.IsString() || seq == doc.MemberEnd() ||
        !seq->value.IsUint64() || event == doc.MemberEnd() || !event->value.IsString() ||
        !split_chain(line.text, entry.prefix, entry.chain)) {
      report.problems.push_back(line.where +
                                ": a record without a chain (forged, or written by a "
                                "memfd-warden that did not chain its records)");
      continue;
    }
    entry.seq = seq->value.GetUint64();
    entry.event = event->value.GetString();
    std::string id = run->value.GetString();
    if (entry.event == "start") {
      auto program = doc.FindMember("program");
      if (program != doc.MemberEnd() && program->value.IsString()) {
        programs[id] = program->value.GetString();
      }
    }
    if (entry.event == "summary") {
      auto seal = doc.FindMember("seal");
      if (seal != doc.MemberEnd() && seal->value.IsObject()) {
        auto key = seal->value.FindMember("key");
        auto count = seal->value.FindMember("records");
        RunKey parsed{};
        if (key != seal->value.MemberEnd() && key->value.IsString() &&
            from_hex(key->value.GetString(), parsed.data(), parsed.size())) {
          entry.key = parsed;
        }
        if (count != seal->value.MemberEnd() && count->value.IsUint64()) {
          entry.count = count->value.GetUint64();
        }
      }
    }
    if (!runs.count(id)) order.push_back(id);
    runs[id].push_back(std::move(entry));
  }
  for (const auto& id : order) {
    RunVerdict verdict;
    verdict.run = id;
    verdict.program = programs.count(id) ? programs[id] : "";
    check_run(verdict, runs[id]);
    report.runs.push_back(std::move(verdict));
  }
  return report;
}

Result<std::vector<AuditLine>> read_audit_lines(const std::vector<std::string>& paths) {
  std::vector<AuditLine> lines;
  for (const auto& path : paths) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return errno_error("cannot read " + path);
    std::string text;
    for (size_t number = 1; std::getline(in, text); ++number) {
      lines.push_back({path + ":" + std::to_string(number), std::move(text)});
    }
    if (in.bad()) return Error{0, "reading " + path + " failed"};
  }
  return lines;
}

int run_verify(const std::vector<std::string>& paths, std::ostream& out) {
  auto read = read_audit_lines(paths);
  if (!read) {
    std::cerr << "memfd-warden: error: " << read.error().message() << std::endl;
    return 2;
  }
  const std::vector<AuditLine>& lines = read.value();
  VerifyReport report = verify_audit(lines);
  // A run's id and program are the log's bytes, which whoever could append to it chose: shown
  // printable, they can neither end a line nor send a terminal an escape.
  for (const auto& run : report.runs) {
    out << "run " << printable(run.run);
    if (!run.program.empty()) out << " (" << printable(run.program) << ")";
    out << ": " << run.records << " records, " << (run.sealed ? "sealed" : "not sealed") << ", "
        << (run.problems.empty() ? "complete and unaltered" : "NOT intact") << "\n";
    for (const auto& problem : run.problems) out << "  - " << printable(problem) << "\n";
  }
  for (const auto& problem : report.problems) out << "- " << printable(problem) << "\n";
  if (report.runs.empty()) out << "no audit records found\n";
  out << (report.intact() ? "verdict: intact\n" : "verdict: NOT intact\n");
  return report.intact() ? 0 : 1;
}

}  // namespace warden
