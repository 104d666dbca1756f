#include "supervisor/calls/carried_copy.h"

#include <fcntl.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "supervisor/kernel/caller_creds.h"
#include "supervisor/kernel/kernel_abi.h"
#include "supervisor/kernel/memory_file.h"
#include "supervisor/kernel/target_memory.h"
#include "supervisor/kernel/target_wait.h"

namespace warden {
namespace {

constexpr uint64_t kCopyPiece = 16 << 20;  // a piece of a copy: well under a second from a disk

// An offset the call keeps in the caller's memory: a loff_t, or i386 sendfile's 32-bit off_t.
int read_offset(MemoryReader reader, pid_t tid, uint64_t address, unsigned size, int64_t& out) {
  if (size == 4) {
    int32_t narrow = 0;
    if (read_target_memory(reader, tid, address, &narrow, sizeof(narrow)) != sizeof(narrow)) {
      return EFAULT;
    }
    out = narrow;
  } else if (read_target_memory(reader, tid, address, &out, sizeof(out)) != sizeof(out)) {
    return EFAULT;
  }
  return out < 0 ? EINVAL : 0;
}

int write_offset(MemoryReader reader, pid_t tid, uint64_t address, unsigned size, int64_t value) {
  if (size == 4) {
    auto narrow = static_cast<int32_t>(value);
    return write_target_memory(reader, tid, address, &narrow, sizeof(narrow));
  }
  return write_target_memory(reader, tid, address, &value, sizeof(value));
}

}  // namespace

bool copies_from_a_file(TrappedCall call) {
  return call == TrappedCall::kSendfile || call == TrappedCall::kSendfile64 ||
         call == TrappedCall::kCopyFileRange;
}

CopySourceLookup open_copy_source(TrappedCall call, const GrowthArgs& args, int pidfd,
                                  MemoryReader reader, pid_t tid, uint64_t out_position,
                                  uint64_t length) {
  CopySourceLookup lookup;
  UniqueFd file(sys::pidfd_getfd(pidfd, args.in_fd));
  if (!file.valid()) {
    lookup.error = errno == EBADF ? EBADF : EPERM;  // not ours to reach: fail closed
    return lookup;
  }
  struct stat st {};
  if (!cached_fstat(file.get(), st)) {
    lookup.error = errno;
    return lookup;
  }
  // The memory devices (/dev/null, zero, random, urandom) never keep a reader waiting either.
  bool memory_device = S_ISCHR(st.st_mode) && major(st.st_rdev) == 1 &&
                       (minor(st.st_rdev) == 3 || minor(st.st_rdev) == 5 ||
                        minor(st.st_rdev) == 8 || minor(st.st_rdev) == 9);
  if (call != TrappedCall::kCopyFileRange && !S_ISREG(st.st_mode) && !memory_device) {
    return lookup;  // continued
  }
  CopySource source;
  int64_t position = 0;
  if (args.in_offset_pointer != 0) {
    int64_t offset = 0;
    if (int error = read_offset(reader, tid, args.in_offset_pointer, args.in_offset_size, offset);
        error != 0) {
      lookup.error = error;
      return lookup;
    }
    source.offset = offset;
    position = offset;
  } else {
    position = ::lseek(file.get(), 0, SEEK_CUR);  // the description is the caller's: so is this
  }
  // The kernel's checks of the length asked for, which the shorter one memfd-warden copies with
  // would pass: copy_file_range's "offsets don't wrap" (EOVERFLOW), sendfile's positions past
  // the largest offset (EINVAL). Its flags come first (EINVAL, from the copy itself).
  auto in_position = static_cast<uint64_t>(position);
  if (call == TrappedCall::kCopyFileRange && args.copy_flags == 0 &&
      (in_position + length < in_position || out_position + length < out_position)) {
    lookup.error = EOVERFLOW;
    return lookup;
  }
  if (call != TrappedCall::kCopyFileRange && (static_cast<int64_t>(in_position + length) < 0 ||
                                              static_cast<int64_t>(out_position + length) < 0)) {
    lookup.error = EINVAL;
    return lookup;
  }
  // i386's sendfile keeps a 32-bit off_t: no position past 2^31 - 1 (EOVERFLOW at it).
  if (args.in_offset_size == 4) {
    constexpr uint64_t kMaxNonLfs = 0x7fffffff;
    if (in_position >= kMaxNonLfs) {
      lookup.error = length == 0 ? 0 : EOVERFLOW;
      if (lookup.error != 0) return lookup;
    }
    length = std::min(length, kMaxNonLfs - std::min(in_position, kMaxNonLfs));
  }
  // The kernel copies no further than the source's end. A source that grows meanwhile gives a
  // shorter copy than natively, never a longer one than booked; one byte is left to a copy at
  // the end, which then copies nothing or the byte that came.
  uint64_t size = static_cast<uint64_t>(st.st_size);
  uint64_t remaining = !S_ISREG(st.st_mode) ? length  // a device has no end
                       : position >= 0 && static_cast<uint64_t>(position) < size
                           ? size - static_cast<uint64_t>(position)
                           : 0;
  source.bound = std::min(length, std::max<uint64_t>(remaining, 1));
  source.file = std::move(file);
  lookup.source = std::move(source);
  return lookup;
}

int64_t carry_out_copy(TrappedCall call, const GrowthArgs& args, CopySource& source,
                       int destination, std::optional<int64_t> out_offset, uint64_t length,
                       CallChannel& channel, pid_t tid, bool as_caller) {
  std::optional<CallerCredsScope> caller;
  if (as_caller) {
    caller.emplace(tid);
    if (!caller->ok()) return -EPERM;  // its credentials are gone with it
  }
  // In pieces, each a wait of its own when the source may be the caller's own file (FUSE): a
  // piece held back ends the tree (target_wait.h), a long copy from a disk does not.
  bool shmem_source = on_kernel_shmem_mount(source.file.get());
  loff_t in = source.offset.value_or(0), out = out_offset.value_or(0);
  uint64_t copied = 0;
  int error = 0;
  do {  // once at least: a copy of 0 bytes still gets the kernel's checks of the two files
    if (copied > 0 && !channel.caller_waiting()) break;  // gone: nobody gets the rest
    size_t piece = static_cast<size_t>(std::min(length - copied, kCopyPiece));
    std::optional<TargetWait> wait;
    if (!shmem_source) wait.emplace(tid);
    ssize_t got =
        call == TrappedCall::kCopyFileRange
            ? ::copy_file_range(source.file.get(), source.offset ? &in : nullptr, destination,
                                out_offset ? &out : nullptr, piece, args.copy_flags)
            : ::sendfile(destination, source.file.get(), source.offset ? &in : nullptr, piece);
    if (got < 0) {
      error = errno;
      break;
    }
    copied += static_cast<uint64_t>(got);
    if (got == 0) break;  // the source's end
  } while (copied < length);
  caller.reset();
  if (copied == 0 && error != 0) return -error;  // as the kernel: an error only if nothing moved
  MemoryReader reader = channel.memory_reader();
  if (source.offset &&
      write_offset(reader, tid, args.in_offset_pointer, args.in_offset_size, in) != 0) {
    return -EFAULT;
  }
  if (out_offset && write_offset(reader, tid, args.out_offset_pointer, 8, out) != 0) {
    return -EFAULT;
  }
  return static_cast<int64_t>(copied);
}

}  // namespace warden
