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
#include "supervisor/kernel/self_fd.h"
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

bool may_carry_out(TrappedCall call) {
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
  source.mode = st.st_mode;
  if (call == TrappedCall::kCopyFileRange && !S_ISREG(st.st_mode)) {
    // EINVAL or EISDIR, which the kernel answers before any check of the length: a copy of
    // nothing, booked as such, gets it.
    source.file = std::move(file);
    lookup.source = std::move(source);
    return lookup;
  }
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
  // would pass, in the kernel's order; then its cap on one call (MAX_RW_COUNT).
  auto in_position = static_cast<uint64_t>(position);
  if (call == TrappedCall::kCopyFileRange) {
    // "Offsets don't wrap" (EOVERFLOW); its flags come first (EINVAL, from the copy itself).
    if (args.copy_flags == 0 &&
        (in_position + length < in_position || out_position + length < out_position)) {
      lookup.error = EOVERFLOW;
      return lookup;
    }
    length = std::min(length, kMaxRwCount);
  } else {
    // sendfile: each position plus the count must stay an offset (EINVAL), the count being cut
    // to MAX_RW_COUNT between the two checks; i386's sendfile with a 32-bit off_t in memory goes
    // no further than 2^31 - 1 (EOVERFLOW at it).
    if (static_cast<int64_t>(in_position + length) < 0) {
      lookup.error = EINVAL;
      return lookup;
    }
    length = std::min(length, kMaxRwCount);
    if (static_cast<int64_t>(out_position + length) < 0) {
      lookup.error = EINVAL;
      return lookup;
    }
    constexpr uint64_t kMaxNonLfs = 0x7fffffff;
    if (args.in_offset_size == 4 && args.in_offset_pointer != 0 &&
        in_position + length > kMaxNonLfs) {
      if (in_position >= kMaxNonLfs) {
        lookup.error = EOVERFLOW;
        return lookup;
      }
      length = kMaxNonLfs - in_position;
    }
  }
  // The kernel copies no further than the source's end (a device has none). A source that grows
  // meanwhile gives a shorter copy than natively, never a longer one than booked.
  uint64_t size = static_cast<uint64_t>(st.st_size);
  uint64_t remaining = !S_ISREG(st.st_mode) ? length : in_position < size ? size - in_position : 0;
  source.bound = std::min(length, remaining);
  source.file = std::move(file);
  lookup.source = std::move(source);
  return lookup;
}

int64_t carry_out_copy(TrappedCall call, const GrowthArgs& args, CopySource& source,
                       int destination, uint64_t out_position, uint64_t length,
                       CallChannel& channel, pid_t tid, bool as_caller) {
  // The copy lands at the position that was booked, through a description of memfd-warden's own
  // opened on the memfd, at that position: the caller's description is the caller's to change
  // meanwhile (its position with lseek, O_APPEND with fcntl, neither trapped), and a copy made
  // through it landed where that said when it ran. The kernel's checks of the caller's
  // description come first, as our own would pass them. The caller's position then moves on as
  // the kernel would move it.
  if ((::fcntl(source.file.get(), F_GETFL) & O_ACCMODE) == O_WRONLY) return -EBADF;
  int flags = ::fcntl(destination, F_GETFL);
  if ((flags & O_ACCMODE) == O_RDONLY) return -EBADF;
  bool regular_source = S_ISREG(source.mode);
  if ((flags & O_APPEND) && (call != TrappedCall::kCopyFileRange || regular_source)) {
    return call == TrappedCall::kCopyFileRange ? -EBADF : -EINVAL;
  }
  UniqueFd own(::open(SelfFdPath(destination).c_str(), O_WRONLY | O_CLOEXEC));
  if (!own.valid()) return -errno;
  if (::lseek(own.get(), static_cast<off_t>(out_position), SEEK_SET) < 0) return -errno;
  int target = own.get();
  std::optional<CallerCredsScope> caller;
  if (as_caller) {
    caller.emplace(tid);
    if (!caller->ok()) return -EPERM;  // its credentials are gone with it
  }
  // In pieces, each a wait of its own when the source may be the caller's own file (FUSE): a
  // piece held back ends the tree (target_wait.h), a long copy from a disk does not.
  bool shmem_source = on_kernel_shmem_mount(source.file.get());
  loff_t in = source.offset.value_or(0), out = static_cast<loff_t>(out_position);
  uint64_t copied = 0;
  int error = 0;
  do {  // once at least: a copy of 0 bytes still gets the kernel's checks of the two files
    if (copied > 0 && !channel.caller_waiting()) break;  // gone: nobody gets the rest
    size_t piece = static_cast<size_t>(std::min(length - copied, kCopyPiece));
    std::optional<TargetWait> wait;
    if (!shmem_source) wait.emplace(tid);
    ssize_t got = 0;
    if (call == TrappedCall::kCopyFileRange) {
      got = ::copy_file_range(source.file.get(), source.offset ? &in : nullptr, target, &out, piece,
                              args.copy_flags);
    } else {
      got = ::sendfile(target, source.file.get(), source.offset ? &in : nullptr, piece);
    }
    if (got < 0) {
      error = errno;
      break;
    }
    copied += static_cast<uint64_t>(got);
    if (got == 0) break;  // the source's end
  } while (copied < length);
  caller.reset();
  int64_t result = copied > 0 || error == 0 ? static_cast<int64_t>(copied) : -error;
  if (copied > 0 && args.out_offset_pointer == 0) {
    ::lseek(destination, static_cast<off_t>(out_position + copied), SEEK_SET);
  }
  // The offsets in memory, as each call writes them back: copy_file_range both, only after a
  // copy; sendfile its source's, whatever came of the copy.
  MemoryReader reader = channel.memory_reader();
  bool faulted = false;
  bool write_back = call != TrappedCall::kCopyFileRange || copied > 0;
  if (write_back && source.offset) {
    faulted |= write_offset(reader, tid, args.in_offset_pointer, args.in_offset_size, in) != 0;
  }
  if (write_back && args.out_offset_pointer != 0) {
    faulted |= write_offset(reader, tid, args.out_offset_pointer, 8, out) != 0;
  }
  return faulted ? -EFAULT : result;
}

}  // namespace warden
