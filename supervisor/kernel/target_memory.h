// Reads a NUL-terminated memfd name out of the target, once, the way the kernel's strnlen_user
// would see it: EFAULT for an unreadable byte before the NUL, EINVAL past 249 bytes. Reads are
// split at page boundaries so that a name ending just before an unmapped page still reads.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>

namespace warden {

inline constexpr size_t kMaxMemfdName = 249;  // NAME_MAX minus "memfd:"

enum class NameStatus {
  kOk,          // `length` bytes, no NUL among them
  kFault,       // the kernel would answer EFAULT
  kTooLong,     // the kernel would answer EINVAL
  kUnreadable,  // we could not read the target at all (errno in `error`)
};

struct NameRead {
  NameStatus status = NameStatus::kUnreadable;
  size_t length = 0;
  int error = 0;
};

// `buffer` must hold kMaxMemfdName + 1 bytes.
NameRead read_target_name(pid_t tid, uint64_t address, char* buffer);

// The same for any NUL-terminated string of at most `capacity` bytes with its NUL (at most one
// page): a path (PATH_MAX) reads the way the kernel's getname() sees it, kTooLong standing for
// its ENAMETOOLONG.
inline constexpr size_t kMaxPath = 4096;  // PATH_MAX, the NUL included
NameRead read_target_string(pid_t tid, uint64_t address, char* buffer, size_t capacity);

}  // namespace warden
