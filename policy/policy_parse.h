// Turns policy text (TOML, version 1) into a validated Policy. Every problem is reported as
// "FILE:LINE:COLUMN: what is wrong", and the first problem stops the parse: nothing runs on a
// policy that did not parse whole. Pure: the caller reads the file.
#pragma once

#include <string>
#include <string_view>

#include "policy/policy.h"
#include "policy/result.h"

namespace warden {

// `origin` names the text in messages (a path, or "<default policy>").
Result<Policy> parse_policy(std::string_view text, const std::string& origin);

// A rule made from --allow GLOB / --deny GLOB; `option` names it in the error message.
Result<Rule> rule_from_glob_option(Action action, const std::string& glob,
                                   const std::string& option);

// Compiles a name regex the way policy files do (bytes, unanchored); nullptr and `problem` set
// when it does not compile.
std::shared_ptr<const re2::RE2> compile_name_regex(const std::string& source, std::string* problem);

}  // namespace warden
