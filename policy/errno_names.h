// errno values by name ("EACCES" <-> 13), for policy files and audit records. Backed by glibc's
// strerrorname_np, so the table is the C library's own rather than one we keep by hand.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace warden {

// "EACCES" -> 13; also accepts a decimal number in 1..4095. nullopt for anything else.
std::optional<int> errno_from_name(std::string_view name);

// 13 -> "EACCES"; an unnamed value comes back as its decimal digits.
std::string errno_name(int value);

}  // namespace warden
