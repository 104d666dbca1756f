#include "policy/sizes.h"

#include <array>
#include <charconv>
#include <cstdint>
#include <utility>

namespace warden {
namespace {

constexpr std::array<std::pair<std::string_view, uint64_t>, 14> kUnits{{
    {"", 1},
    {"B", 1},
    {"K", 1ULL << 10},
    {"KiB", 1ULL << 10},
    {"M", 1ULL << 20},
    {"MiB", 1ULL << 20},
    {"G", 1ULL << 30},
    {"GiB", 1ULL << 30},
    {"T", 1ULL << 40},
    {"TiB", 1ULL << 40},
    {"KB", 1000ULL},
    {"MB", 1000ULL * 1000},
    {"GB", 1000ULL * 1000 * 1000},
    {"TB", 1000ULL * 1000 * 1000 * 1000},
}};

}  // namespace

std::optional<uint64_t> parse_size(std::string_view text, std::string* problem) {
  uint64_t number = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), number);
  if (ec == std::errc::result_out_of_range) {
    *problem = "too large";
    return std::nullopt;
  }
  if (ec != std::errc{}) {
    *problem = "not a size (use a number of bytes, or a number with a unit such as 512MiB or 2G)";
    return std::nullopt;
  }
  std::string_view unit(end, static_cast<size_t>(text.data() + text.size() - end));
  while (!unit.empty() && unit.front() == ' ') unit.remove_prefix(1);
  for (const auto& [name, scale] : kUnits) {
    if (unit != name) continue;
    if (number > UINT64_MAX / scale) {
      *problem = "too large";
      return std::nullopt;
    }
    return number * scale;
  }
  *problem = "unknown unit \"" + std::string(unit) +
             "\" (use B, K, KiB, M, MiB, G, GiB, T, TiB, KB, MB, GB or TB)";
  return std::nullopt;
}

std::optional<uint64_t> parse_count(std::string_view text, std::string* problem) {
  if (text.empty()) {
    *problem = "empty (give a whole number, e.g. 64)";
    return std::nullopt;
  }
  for (char c : text) {
    if (c < '0' || c > '9') {
      *problem = "not a whole number of decimal digits (no sign, blanks or units)";
      return std::nullopt;
    }
  }
  uint64_t number = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), number);
  if (ec != std::errc{} || number > static_cast<uint64_t>(INT64_MAX)) {
    *problem = "too large (at most 9223372036854775807)";
    return std::nullopt;
  }
  return number;
}

std::optional<uint64_t> parse_duration_ms(std::string_view text, std::string* problem) {
  uint64_t scale = 1000;
  if (text.ends_with("ms")) {
    scale = 1;
    text.remove_suffix(2);
  } else if (text.ends_with("s")) {
    text.remove_suffix(1);
  }
  auto number = parse_count(text, problem);
  constexpr uint64_t kHourMs = 3600 * 1000;
  if (!number || *number > kHourMs / scale) {
    if (number) *problem = "longer than an hour";
    *problem += " (give e.g. 2s or 500ms)";
    return std::nullopt;
  }
  return *number * scale;
}

std::string format_size(uint64_t bytes) {
  static constexpr std::array<std::pair<const char*, uint64_t>, 4> kBinary{
      {{"TiB", 1ULL << 40}, {"GiB", 1ULL << 30}, {"MiB", 1ULL << 20}, {"KiB", 1ULL << 10}}};
  for (const auto& [name, scale] : kBinary) {
    if (bytes != 0 && bytes % scale == 0) return std::to_string(bytes / scale) + name;
  }
  return std::to_string(bytes);
}

}  // namespace warden
