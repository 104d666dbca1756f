// Performs a target's write to a memfd in the supervisor, from the bytes it reads out of the
// target once: the size check and the write see the same data, position and iovecs, which a
// CONTINUE (the kernel rereading them) could not promise. Used for write, pwrite64, writev,
// pwritev and pwritev2 when quota.strict_writes is on.
#pragma once

#include <sys/types.h>
#include <sys/uio.h>

#include <cstdint>
#include <memory>
#include <vector>

#include "supervisor/calls/call_channel.h"
#include "supervisor/calls/growth_args.h"

namespace warden {

// A write's data as iovecs in the target's memory (one for write/pwrite64), validated the way
// the kernel does (count, total), with the total capped at kMaxRwCount.
struct TargetIovecs {
  std::vector<iovec> segments;
  uint64_t total = 0;
  int error = 0;  // EINVAL or EFAULT, as the kernel would answer
};

TargetIovecs read_target_iovecs(MemoryReader reader, pid_t tid, const GrowthArgs& args);

class EmulatedWriter {
 public:
  // Writes `data` (in the target `tid`) to `fd` at `position`, chunk by chunk, each at its own
  // position whatever O_APPEND `fd` has by then, re-checking the notification before each chunk
  // is written. Returns bytes written, or -errno when nothing
  // was (EFAULT when the first byte cannot be read). With `as_caller` (a set-ID file, see
  // clears_setid_bits()) the first chunk is written with the caller's credentials, so that the
  // kernel clears the file's set-ID bits, or keeps them, as for the caller's own write.
  int64_t write(pid_t tid, CallChannel& channel, int fd, const TargetIovecs& data,
                uint64_t position, int rwf_flags, bool as_caller);

 private:
  std::unique_ptr<char[]> bounce_;  // allocated on first use, reused after
};

}  // namespace warden
