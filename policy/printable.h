// Hostile bytes made safe to show: names and paths from an audit log go to terminals, comments,
// Markdown and HTML, where a control byte or an escape sequence must never act.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace warden {

// Printable ASCII as is, every other byte and the backslash itself as \xNN: printable ASCII
// that reads back to the exact bytes.
std::string printable(std::string_view text);

// The length of the well-formed UTF-8 sequence that begins `text`, or 0 when it is not one
// (Unicode's table 3-7: no overlong form, no surrogate, nothing past U+10FFFF, nothing cut).
size_t utf8_sequence_length(std::string_view text);

}  // namespace warden
