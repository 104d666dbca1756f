// Shell-style globs on memfd names and executable paths (fnmatch(3) without flags: `*` and `?`
// match any byte, `/` included). fnmatch quietly treats a malformed pattern as literal text, so
// patterns are validated here first and a policy with a broken one is refused.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace warden {

// nullopt when `pattern` is well formed, else what is wrong with it.
std::optional<std::string> glob_problem(std::string_view pattern);

// True when `text` matches the whole of `pattern`. `text` may hold any bytes but NUL.
bool glob_match(const std::string& pattern, std::string_view text);

}  // namespace warden
