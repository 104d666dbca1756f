#include "supervisor/kernel/proc_status.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>

#include "supervisor/kernel/unique_fd.h"

namespace warden {

namespace {

std::string_view without_blanks(std::string_view line) {
  while (!line.empty() && (line.front() == ' ' || line.front() == '\t')) line.remove_prefix(1);
  return line;
}

}  // namespace

std::optional<std::string_view> proc_line(pid_t tid, const char* file, std::string_view prefix,
                                          std::span<char> buffer) {
  if (buffer.size() < 2) return std::nullopt;
  char path[64];
  std::snprintf(path, sizeof(path), "/proc/%d/%s", tid, file);
  UniqueFd fd(::open(path, O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return std::nullopt;
  const size_t capacity = buffer.size() - 1;
  size_t kept = 0;        // the start of a line that may be the one, kept at the buffer's start
  bool skipping = false;  // in a line that is not the one, whose end has not been read yet
  for (;;) {
    ssize_t got = ::read(fd.get(), buffer.data() + kept, capacity - kept);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) return std::nullopt;
    bool end_of_file = got == 0;
    std::string_view text(buffer.data(), kept + static_cast<size_t>(got));
    kept = 0;
    while (!text.empty()) {
      size_t newline = text.find('\n');
      if (skipping) {
        skipping = newline == std::string_view::npos;
        text.remove_prefix(skipping ? text.size() : newline + 1);
        continue;
      }
      std::string_view line = text.substr(0, newline);  // all of it when there is no newline
      bool complete = newline != std::string_view::npos || end_of_file;
      size_t compared = std::min(line.size(), prefix.size());
      if (line.substr(0, compared) != prefix.substr(0, compared)) {
        skipping = !complete;
        text.remove_prefix(complete ? std::min(text.size(), line.size() + 1) : text.size());
        continue;
      }
      if (complete && line.size() >= prefix.size()) {
        return without_blanks(line.substr(prefix.size()));
      }
      if (complete) {  // shorter than the prefix: not it
        text.remove_prefix(std::min(text.size(), line.size() + 1));
        continue;
      }
      // The start of the one, or of a line like it: keep it and read on, if there is room.
      if (line.data() == buffer.data() && line.size() == capacity) return std::nullopt;
      std::memmove(buffer.data(), line.data(), line.size());
      kept = line.size();
      break;
    }
    if (end_of_file) return std::nullopt;
  }
}

std::optional<uint64_t> status_number(pid_t tid, const char* field, int base) {
  char buffer[4096];
  auto line = proc_line(tid, "status", field, buffer);
  if (!line || line->empty()) return std::nullopt;
  size_t last = line->find_last_of(" \t");
  std::string_view number = last == std::string_view::npos ? *line : line->substr(last + 1);
  uint64_t value = 0;
  auto [end, error] = std::from_chars(number.data(), number.data() + number.size(), value, base);
  if (error != std::errc() || end != number.data() + number.size()) return std::nullopt;
  return value;
}

char thread_state(pid_t tid) {
  char buffer[256];
  auto line = proc_line(tid, "status", "State:", buffer);
  return line && !line->empty() ? line->front() : '\0';
}

}  // namespace warden
