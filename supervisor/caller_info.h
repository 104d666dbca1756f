// Who made a trapped call: process id, the credentials a file it creates would carry, its comm
// and executable, read from /proc/TID. Everything read here may already be stale; the caller
// re-checks the notification id afterwards, which proves TID was the waiting thread throughout.
#pragma once

#include <linux/limits.h>
#include <sys/types.h>

#include <cstddef>
#include <string_view>

namespace warden {

struct CallerInfo {
  pid_t tgid = 0;
  uid_t fsuid = 0;
  gid_t fsgid = 0;
  bool have_creds = false;
  char comm[17] = {};
  size_t comm_length = 0;
  char exe[PATH_MAX] = {};
  size_t exe_length = 0;

  std::string_view comm_view() const { return {comm, comm_length}; }
  std::string_view exe_view() const { return {exe, exe_length}; }
};

// Fills `out` from /proc/TID; fields it could not read stay empty. Returns false when /proc/TID
// is gone (the thread exited).
bool read_caller_info(pid_t tid, CallerInfo& out);

}  // namespace warden
