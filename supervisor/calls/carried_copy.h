// Performs a target's copy into a memfd in the supervisor (sendfile from a regular file or a
// memory device, copy_file_range), on its own references to
// both open file descriptions (pidfd_getfd) and with the length it checked: what lands is at most
// what was booked, whatever a second thread does to the fd numbers, the offsets in memory or the
// source in the meantime. A continued copy could promise none of that (docs/memory-quotas.md). Used
// when quota.strict_writes is on.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>

#include "supervisor/calls/call_channel.h"
#include "supervisor/calls/growth_args.h"
#include "supervisor/kernel/trapped_syscalls.h"
#include "supervisor/kernel/unique_fd.h"

namespace warden {

// Where a carried-out copy reads from.
struct CopySource {
  UniqueFd file;                  // our reference to the source's open file description
  mode_t mode = 0;                // its type
  std::optional<int64_t> offset;  // the call's *offset for the source, when it gave one
  uint64_t bound = 0;             // the most it can copy: to the source's end, MAX_RW_COUNT
};

struct CopySourceLookup {
  int error = 0;                     // what the kernel would answer first (EBADF, EFAULT, EINVAL)
  std::optional<CopySource> source;  // none: a copy continued as it is (sendfile from a pipe)
};

// Whether `call` is a copy memfd-warden may carry out itself: sendfile, sendfile64,
// copy_file_range. (Not splice: its source is a pipe, whose lock a page fault of the target's
// may hold, and whose reader waits for data; the kernel runs it after the check.)
bool may_carry_out(TrappedCall call);

// The source of such a call, for a copy of at most `length` bytes to `out_position`:
// copy_file_range always (the kernel takes only regular files, and answers the rest itself),
// sendfile when its source is a regular file or /dev/null, zero, random or urandom (a pipe or
// another device may make a copy wait for ever).
CopySourceLookup open_copy_source(TrappedCall call, const GrowthArgs& args, int pidfd,
                                  MemoryReader reader, pid_t tid, uint64_t out_position,
                                  uint64_t length);

// Copies at most `length` bytes from `source` into the memfd `destination` (ours, the caller's
// description) at `out_position`, the position that was booked, through a description of its
// own, in pieces while the caller waits; moves the caller's position on, and writes the offsets the
// call keeps in memory back, as the kernel would. With `as_caller` (a set-ID file) the copy runs
// with the caller's credentials. Returns bytes copied, or -errno when nothing was.
int64_t carry_out_copy(TrappedCall call, const GrowthArgs& args, CopySource& source,
                       int destination, uint64_t out_position, uint64_t length,
                       CallChannel& channel, pid_t tid, bool as_caller);

}  // namespace warden
