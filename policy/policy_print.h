// Writes a Policy back as normalized TOML: every field explicit, in a fixed order, so that
// `memfd-warden check` shows exactly what will be enforced and its output parses back to the
// same policy.
#pragma once

#include <string>

#include "policy/policy.h"

namespace warden {

std::string format_policy(const Policy& policy);

}  // namespace warden
