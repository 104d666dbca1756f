// libFuzzer: audit encoding. Whatever bytes a target puts in a name (and comm, and path), the
// record must be one line of valid JSON, and the exact bytes must come back from it: from
// "name" when they are UTF-8, from "name_hex" when they are not.
#include <cstdint>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string>

#include "supervisor/audit_log.h"

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
  return 0;
}
