// libFuzzer: audit encoding and verification. Whatever bytes a target puts in a name (and comm,
// and path), the record must be one line of valid JSON, and the exact bytes must come back from
// it: from "name" when they are UTF-8, from "name_hex" when they are not. And whatever lines a
// target writes into a log, verify must neither crash nor call them intact: without the key of
// a run nothing it writes can be a sealed run of memfd-warden's (bar a 2^-256 guess). The same
// lines go to `report`: an error naming a line, or a report whose every format is printable
// ASCII (text, Markdown) and whose page holds no markup that the lines put there.
#include <cstdint>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string>

#include "policy/report.h"
#include "supervisor/calls/audit_log.h"
#include "supervisor/calls/audit_observations.h"
#include "supervisor/calls/audit_verify.h"

namespace {
std::string unhex(const std::string& hex) {
  std::string out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2) {
    out += static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16));
  }
  return out;
}

void check(const nlohmann::json& record, const char* key, const std::string& bytes) {
  std::string hex_key = std::string(key) + "_hex";
  std::string got = record.contains(hex_key) ? unhex(record[hex_key].get<std::string>())
                                             : record[key].get<std::string>();
  if (got != bytes) std::abort();
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string bytes(reinterpret_cast<const char*>(data), size);
  std::string name = bytes.substr(0, bytes.find('\0'));  // names cannot hold NUL
  warden::DecisionRecord record;
  record.name = name;
  record.comm = std::string_view(name).substr(0, 15);
  record.exe = name;
  record.rule_index = 0;
  record.rule_id = name;
  std::string line = warden::encode_decision(record, warden::Quota{});
  if (line.empty() || line.back() != '\n' || line.find('\n') != line.size() - 1) std::abort();
  auto parsed = nlohmann::json::parse(line);  // throws (and so fails the run) if not JSON
  check(parsed, "name", name);
  check(parsed, "comm", name.substr(0, 15));
  check(parsed, "exe", name);
  check(parsed["rule"], "id", name);

  std::vector<warden::AuditLine> lines;
  for (size_t start = 0; start < bytes.size();) {
    size_t end = bytes.find('\n', start);
    if (end == std::string::npos) end = bytes.size();
    lines.push_back({"fuzz:" + std::to_string(lines.size() + 1), bytes.substr(start, end - start)});
    start = end + 1;
  }
  auto report = warden::verify_audit(lines);
  // A sealed, intact run needs chain values that only the key reproduces; the fuzzer may find
  // one only by making the key and the chain agree, which a target cannot do for a real run.
  // So intact is allowed only for logs whose every run carries its own seal: check consistency.
  for (const auto& run : report.runs) {
    if (run.problems.empty() && !run.sealed) std::abort();
  }

  auto runs = warden::recorded_runs_from_audit(lines, std::nullopt);
  if (runs) {
    for (auto format : {warden::ReportFormat::kText, warden::ReportFormat::kMarkdown}) {
      for (char c : warden::render_report(*runs, format)) {
        auto u = static_cast<unsigned char>(c);
        if ((u < 0x20 && c != '\n') || u >= 0x7f) std::abort();
      }
    }
    std::string page = warden::render_report(*runs, warden::ReportFormat::kHtml);
    size_t ends = 0;
    for (size_t at = page.find("</script>"); at != std::string::npos; at = page.find("</script>", at + 1)) {
      ++ends;
    }
    if (ends != 2 || page.find("<img") != std::string::npos) std::abort();
  }
  return 0;
}
