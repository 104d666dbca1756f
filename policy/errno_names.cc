#include "policy/errno_names.h"

#include <charconv>
#include <cstring>

namespace warden {
namespace {
// The kernel's errno space tops out at MAX_ERRNO; glibc names every value it knows below ~134.
constexpr int kMaxErrno = 4095;
}  // namespace

std::optional<int> errno_from_name(std::string_view name) {
  if (name.empty()) return std::nullopt;
  if (name.front() >= '0' && name.front() <= '9') {
    int value = 0;
    auto [end, ec] = std::from_chars(name.data(), name.data() + name.size(), value);
    if (ec != std::errc{} || end != name.data() + name.size()) return std::nullopt;
    if (value < 1 || value > kMaxErrno) return std::nullopt;
    return value;
  }
  for (int value = 1; value < 256; ++value) {
    const char* known = strerrorname_np(value);
    if (known != nullptr && name == known) return value;
  }
  return std::nullopt;
}

std::string errno_name(int value) {
  const char* known = strerrorname_np(value);
  return known != nullptr ? std::string(known) : std::to_string(value);
}

}  // namespace warden
