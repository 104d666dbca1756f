// Reads the caller's memory (and writes a call's result back into it): a NUL-terminated memfd name
// or path, once, the way the kernel's strnlen_user would see it (EFAULT for an unreadable byte
// before the NUL, EINVAL past 249 bytes), or plain bytes (iovecs, data, arguments in memory). Reads
// are split at page boundaries so that a string ending just before an unmapped page still reads.
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

// How a backend reads the caller's memory. process_vm_readv waits, as the caller's own access
// would, for a page that a userfaultfd of the target's must fill. A read of /proc/TID/mem fails
// there at once (EIO, as for an unmapped page). The ptrace backend reads through /proc: its
// freeze has stopped the thread that would fill the page, so a wait would be for ever.
enum class MemoryReader : uint8_t { kProcessVm, kProcMem };

// Up to `size` bytes from `address` on, stopping at the first page that cannot be read: the
// number of bytes read, or -errno when none could be (-EFAULT or -EIO: nothing readable there).
// kProcessVm falls back to /proc/TID/mem where process_vm_readv is refused (ENOSYS, or EPERM
// under some LSMs).
ssize_t read_target_memory(MemoryReader reader, pid_t tid, uint64_t address, void* buffer,
                           size_t size);

// Writes `size` bytes to `address` in the caller's memory, as the kernel's put_user would for a
// call's result (a copy's updated offset): 0, or -errno (-EFAULT where it cannot). kProcMem
// writes through /proc/TID/mem, which also writes a read-only page the caller's own call would
// fault on.
int write_target_memory(MemoryReader reader, pid_t tid, uint64_t address, const void* data,
                        size_t size);

// `buffer` must hold kMaxMemfdName + 1 bytes.
NameRead read_target_name(MemoryReader reader, pid_t tid, uint64_t address, char* buffer);

// The same for any NUL-terminated string of at most `capacity` bytes with its NUL (at most one
// page): a path (PATH_MAX) reads the way the kernel's getname() sees it, kTooLong standing for
// its ENAMETOOLONG.
inline constexpr size_t kMaxPath = 4096;  // PATH_MAX, the NUL included
NameRead read_target_string(MemoryReader reader, pid_t tid, uint64_t address, char* buffer,
                            size_t capacity);

}  // namespace warden
