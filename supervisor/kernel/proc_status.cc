#include "supervisor/kernel/proc_status.h"

#include <fcntl.h>
#include <unistd.h>

#include <charconv>
#include <cstdio>

#include "supervisor/kernel/unique_fd.h"

namespace warden {

std::optional<std::string_view> proc_line(pid_t tid, const char* file, std::string_view prefix,
                                          std::span<char> buffer) {
  if (buffer.empty()) return std::nullopt;
  char path[64];
  std::snprintf(path, sizeof(path), "/proc/%d/%s", tid, file);
  UniqueFd fd(::open(path, O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return std::nullopt;
  size_t got = 0;
  for (ssize_t n; got < buffer.size() - 1 &&
                  (n = ::read(fd.get(), buffer.data() + got, buffer.size() - 1 - got)) != 0;) {
    if (n < 0) return std::nullopt;
    got += static_cast<size_t>(n);
  }
  std::string_view text(buffer.data(), got);
  for (size_t at = 0; at < text.size();) {
    size_t end = text.find('\n', at);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(at, end - at);
    if (line.starts_with(prefix)) {
      line.remove_prefix(prefix.size());
      while (!line.empty() && (line.front() == ' ' || line.front() == '\t')) line.remove_prefix(1);
      return line;
    }
    at = end + 1;
  }
  return std::nullopt;
}

long long status_field(pid_t tid, const char* field, int base) {
  char buffer[4096];
  auto line = proc_line(tid, "status", field, buffer);
  if (!line || line->empty()) return -1;
  size_t last = line->find_last_of(" \t");
  std::string_view number = last == std::string_view::npos ? *line : line->substr(last + 1);
  long long value = -1;
  auto [end, error] = std::from_chars(number.data(), number.data() + number.size(), value, base);
  return error == std::errc() ? value : -1;
}

char thread_state(pid_t tid) {
  char buffer[4096];
  auto line = proc_line(tid, "status", "State:", buffer);
  return line && !line->empty() ? line->front() : '\0';
}

}  // namespace warden
