#include "supervisor/kernel/proc_status.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace warden {

long long status_field(pid_t tid, const char* field, int base) {
  char path[64], buffer[4096] = {};
  std::snprintf(path, sizeof(path), "/proc/%d/status", tid);
  FILE* status = std::fopen(path, "re");
  if (status == nullptr) return -1;
  size_t got = std::fread(buffer, 1, sizeof(buffer) - 1, status);
  std::fclose(status);
  buffer[got] = '\0';
  size_t length = std::strlen(field);
  for (char* line = buffer; line != nullptr && *line != '\0';) {
    char* end = std::strchr(line, '\n');
    if (end != nullptr) *end = '\0';
    if (std::strncmp(line, field, length) == 0) {
      const char* last = std::strrchr(line, '\t');
      const char* space = std::strrchr(line, ' ');
      if (last == nullptr || (space != nullptr && space > last)) last = space;
      return last != nullptr ? std::strtoll(last + 1, nullptr, base) : -1;
    }
    line = end != nullptr ? end + 1 : nullptr;
  }
  return -1;
}

}  // namespace warden
