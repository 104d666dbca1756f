// Decodes the arguments of a call that can grow a file (ftruncate, truncate, fallocate, the write
// family, the copies) from seccomp_data.args, for each ABI: i386 passes 64-bit values as register
// pairs and takes 32-bit iovecs. Pure: a unit test pins every layout.
#pragma once

#include <array>
#include <cstdint>

#include "policy/decide.h"
#include "supervisor/kernel/trapped_syscalls.h"

namespace warden {

// The kernel's limit on one read, write or copy (MAX_RW_COUNT).
inline constexpr uint64_t kMaxRwCount = 0x7ffff000;
// pwritev2's flags that choose where a write goes.
inline constexpr int kRwfAppend = 0x10;    // RWF_APPEND
inline constexpr int kRwfNoAppend = 0x20;  // RWF_NOAPPEND (6.9): this write ignores O_APPEND

struct GrowthArgs {
  int fd = -1;           // the file that may grow (the destination of a copy)
  bool by_path = false;  // truncate, truncate64: the file is named by a path instead ...
  uint64_t path = 0;     // ... at this address (which may be 0: EFAULT)
  GrowthKind kind = GrowthKind::kFtruncate;
  int64_t length = 0;               // ftruncate: new size; fallocate: length; writes: byte count
  int64_t offset = 0;               // fallocate offset, or an explicit write position
  bool has_offset = false;          // pwrite64, pwritev, and pwritev2 with an offset other than -1
  int mode = 0;                     // fallocate mode
  int rwf_flags = 0;                // pwritev2 flags
  uint64_t buffer = 0;              // write, pwrite64: where the data is
  uint64_t iov = 0;                 // writev, pwritev, pwritev2: the iovec array ...
  uint64_t iov_count = 0;           // ... and its length
  bool compat_iov = false;          // ... made of 32-bit iovecs (i386, x32)
  uint64_t out_offset_pointer = 0;  // splice, copy_file_range: loff_t* for the destination
  int in_fd = -1;                   // sendfile, copy_file_range: the source
  uint64_t in_offset_pointer = 0;   // sendfile, copy_file_range: the source's offset in memory
  unsigned in_offset_size = 8;      // ... a loff_t, or i386 sendfile's 32-bit off_t
  unsigned copy_flags = 0;          // copy_file_range's flags
  // True for the writes memfd-warden performs itself from bytes it read when they target a
  // memfd (exactly, without races). Copies (sendfile, copy_file_range) from a regular file it
  // performs itself too, on its own references; the others (splice, sendfile from anything
  // else) are checked, then continued.
  bool emulated = false;
};

GrowthArgs decode_growth_args(TrappedCall call, Abi abi, const std::array<uint64_t, 6>& a);

}  // namespace warden
