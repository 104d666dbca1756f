// Byte sizes in policies and on the command line: a plain integer, or a number with a unit.
// Binary units (K, KiB, M, MiB, G, GiB, T, TiB) are powers of 1024; decimal ones (KB, MB, GB,
// TB) are powers of 1000; "B" or no unit is bytes. Pure.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace warden {

// A duration on the command line ("--orphans-grace 500ms"): whole milliseconds ("ms") or seconds
// ("s", or no unit), at most one hour. nullopt with `problem` set.
std::optional<uint64_t> parse_duration_ms(std::string_view text, std::string* problem);

// "512MiB" -> 536870912; nullopt (with `problem` set) for anything else, overflow included.
std::optional<uint64_t> parse_size(std::string_view text, std::string* problem);

// A count as the command line takes it ("--max-live 64"): decimal digits only, no sign, no
// blanks, at most INT64_MAX (what a policy file's integer may hold). nullopt with `problem` set.
std::optional<uint64_t> parse_count(std::string_view text, std::string* problem);

// 536870912 -> "512MiB": the largest binary unit that divides it exactly.
std::string format_size(uint64_t bytes);

}  // namespace warden
