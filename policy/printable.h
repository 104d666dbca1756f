// Hostile bytes made safe to show: names and paths from an audit log go to terminals, comments,
// Markdown and HTML, where a control byte or an escape sequence must never act.
#pragma once

#include <string>
#include <string_view>

namespace warden {

// Printable ASCII as is, every other byte and the backslash itself as \xNN: printable ASCII
// that reads back to the exact bytes.
std::string printable(std::string_view text);

}  // namespace warden
