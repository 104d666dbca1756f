// One field of /proc/TID/status, for the few facts only it gives: a thread's tgid and
// namespace-local ids, its caught signals, its capability bounding set.
#pragma once

#include <sys/types.h>

namespace warden {

// The last number of the "FIELD:" line of /proc/TID/status (base 16 for the signal and capability
// masks), or -1.
long long status_field(pid_t tid, const char* field, int base);

}  // namespace warden
