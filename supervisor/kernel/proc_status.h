// Lines of /proc/TID files, for the few facts only they give: a thread's tgid, state and
// namespace-local ids, its caught signals, its capability bounding set, its resource limits.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

namespace warden {

// The line of /proc/TID/FILE that begins with `prefix`, without the prefix and the blanks after
// it, as a view into `buffer`; nullopt when the file cannot be read, has no such line, or the
// line does not fit in `buffer`. The file is read a piece at a time, so that long lines before it
// (Groups: holds up to 65536 groups) cannot push it out of reach. No allocation.
std::optional<std::string_view> proc_line(pid_t tid, const char* file, std::string_view prefix,
                                          std::span<char> buffer);

// The last number of the "FIELD:" line of /proc/TID/status, in `base` (16 for the signal and
// capability masks, all 64 bits of them), or nullopt.
std::optional<uint64_t> status_number(pid_t tid, const char* field, int base);

// The state letter of /proc/TID/status ('R', 'S', 'D', 'T', 't', 'Z', 'X', ...), or '\0' when the
// thread is gone or its state cannot be read.
char thread_state(pid_t tid);

}  // namespace warden
