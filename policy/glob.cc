#include "policy/glob.h"

#include <fnmatch.h>
#include <linux/limits.h>

#include <cstring>

namespace warden {

std::optional<std::string> glob_problem(std::string_view pattern) {
  if (pattern.find('\0') != std::string_view::npos) return "contains a NUL byte";
  for (size_t i = 0; i < pattern.size(); ++i) {
    char c = pattern[i];
    if (c == '\\') {
      if (i + 1 == pattern.size()) return "ends with a lone backslash";
      ++i;
    } else if (c == '[') {
      // A ']' right after '[' or '[!' / '[^' is a literal member, not the end of the set.
      size_t j = i + 1;
      if (j < pattern.size() && (pattern[j] == '!' || pattern[j] == '^')) ++j;
      if (j < pattern.size() && pattern[j] == ']') ++j;
      while (j < pattern.size() && pattern[j] != ']') {
        if (pattern[j] == '[' && j + 1 < pattern.size() && pattern[j + 1] == ':') {
          size_t end = pattern.find(":]", j + 2);
          if (end == std::string_view::npos)
            return "unterminated character class at offset " + std::to_string(j);
          j = end + 2;
          continue;
        }
        ++j;
      }
      if (j >= pattern.size()) return "unterminated '[' at offset " + std::to_string(i);
      i = j;
    }
  }
  return std::nullopt;
}

bool glob_match(const std::string& pattern, std::string_view text) {
  // fnmatch wants a NUL-terminated string. Names (< 250 bytes) and paths (< PATH_MAX) fit on
  // the stack, so deciding does not allocate.
  char terminated[PATH_MAX + 1];
  if (text.size() < sizeof(terminated)) {
    std::memcpy(terminated, text.data(), text.size());
    terminated[text.size()] = '\0';
    return ::fnmatch(pattern.c_str(), terminated, 0) == 0;
  }
  return ::fnmatch(pattern.c_str(), std::string(text).c_str(), 0) == 0;
}

}  // namespace warden
