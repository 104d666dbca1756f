// The policy that applies when no --policy is given, embedded in the binary and printed by
// `memfd-warden policy --default`.
#pragma once

#include <string_view>

namespace warden {

// TOML text; it parses with parse_policy (a unit test holds it to that).
std::string_view default_policy_text();

}  // namespace warden
