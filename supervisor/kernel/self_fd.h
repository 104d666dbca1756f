// One of our own fds by name: /proc/self/fd/N. Opening it reopens the file behind the fd (with
// access of our choosing, an O_PATH fd included); its link text says what an unnamed file is
// ("/memfd:NAME (deleted)", "/secretmem (deleted)").
#pragma once

#include <unistd.h>

#include <cstddef>
#include <cstdio>
#include <string_view>

namespace warden {

class SelfFdPath {
 public:
  explicit SelfFdPath(int fd) noexcept {
    std::snprintf(text_, sizeof(text_), "/proc/self/fd/%d", fd);
  }
  const char* c_str() const noexcept { return text_; }

 private:
  char text_[32];  // "/proc/self/fd/" and ten digits
};

// The link text of our fd, read into `buffer`: empty if it cannot be read, cut at the buffer's
// size.
template <std::size_t N>
std::string_view self_fd_link(int fd, char (&buffer)[N]) {
  ssize_t n = ::readlink(SelfFdPath(fd).c_str(), buffer, N);
  return {buffer, n > 0 ? static_cast<std::size_t>(n) : 0};
}

}  // namespace warden
