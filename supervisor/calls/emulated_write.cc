#include "supervisor/calls/emulated_write.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <climits>
#include <cstring>
#include <optional>

#include "supervisor/kernel/caller_creds.h"

namespace warden {
namespace {

constexpr size_t kBounceSize = 1 << 20;
constexpr uint64_t kMaxIovecs = 1024;  // UIO_MAXIOV

struct CompatIovec {
  uint32_t base;
  uint32_t length;
};

// Where user space ends on this kernel (TASK_SIZE_MAX): 2^47 - 4096 with 4-level page tables,
// 2^56 - 4096 with 5-level ones, which let an address above 2^47 be mapped when asked for.
uint64_t user_space_end() {
  // The system calls themselves: a sanitizer's mmap would refuse the address out of hand.
  static const uint64_t end = [] {
    long high = ::syscall(SYS_mmap, uint64_t{1} << 47, 4096, PROT_NONE,
                          MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
    if (high == -1) return (uint64_t{1} << 47) - 4096;
    ::syscall(SYS_munmap, high, 4096);
    // (A kernel before 4.17 takes MAP_FIXED_NOREPLACE for a hint and maps elsewhere.)
    return static_cast<uint64_t>(high) == uint64_t{1} << 47 ? (uint64_t{1} << 56) - 4096
                                                            : (uint64_t{1} << 47) - 4096;
  }();
  return end;
}

// The kernel's access_ok() on a segment, checked for every segment before anything is written
// (import_iovec, vfs_write): one that ends past user space fails the whole call with EFAULT, where
// a segment that is only unmapped ends the write short when the copy reaches it.
bool in_user_space(const iovec& segment) {
  uint64_t base = reinterpret_cast<uintptr_t>(segment.iov_base);
  return segment.iov_len <= user_space_end() && base <= user_space_end() - segment.iov_len;
}

// Whether pwritev2 takes RWF_NOAPPEND here (Linux 6.9), asked once of /dev/null.
bool kernel_has_noappend() {
  static const bool has = [] {
    int null = ::open("/dev/null", O_WRONLY | O_CLOEXEC);
    if (null < 0) return false;
    char byte = 0;
    iovec one{&byte, 1};
    bool taken = ::pwritev2(null, &one, 1, -1, kRwfNoAppend) == 1;
    ::close(null);
    return taken;
  }();
  return has;
}

}  // namespace

TargetIovecs read_target_iovecs(MemoryReader reader, pid_t tid, const GrowthArgs& args) {
  TargetIovecs out;
  if (args.iov == 0 && args.iov_count == 0) {
    // write / pwrite64: one segment.
    out.segments.push_back(
        {reinterpret_cast<void*>(args.buffer), static_cast<size_t>(args.length)});
  } else {
    if (args.iov_count > kMaxIovecs) {
      out.error = EINVAL;
      return out;
    }
    size_t each = args.compat_iov ? sizeof(CompatIovec) : sizeof(iovec);
    std::vector<char> raw(each * args.iov_count);
    if (!raw.empty() && read_target_memory(reader, tid, args.iov, raw.data(), raw.size()) !=
                            static_cast<ssize_t>(raw.size())) {
      out.error = EFAULT;
      return out;
    }
    for (uint64_t i = 0; i < args.iov_count; ++i) {
      iovec segment{};
      if (args.compat_iov) {
        CompatIovec compat{};
        std::memcpy(&compat, raw.data() + i * each, sizeof(compat));
        if (static_cast<int32_t>(compat.length) < 0) {
          out.error = EINVAL;
          return out;
        }
        segment = {reinterpret_cast<void*>(static_cast<uintptr_t>(compat.base)), compat.length};
      } else {
        std::memcpy(&segment, raw.data() + i * each, sizeof(segment));
        if (segment.iov_len > static_cast<size_t>(SSIZE_MAX)) {
          out.error = EINVAL;
          return out;
        }
      }
      out.segments.push_back(segment);
    }
  }
  for (const auto& segment : out.segments) {
    if (!in_user_space(segment)) {
      out.error = EFAULT;
      return out;
    }
  }
  // The kernel refuses a total past SSIZE_MAX and writes at most MAX_RW_COUNT of the rest.
  uint64_t total = 0;
  for (auto& segment : out.segments) {
    if (segment.iov_len > static_cast<uint64_t>(SSIZE_MAX) - total) {
      out.error = EINVAL;
      return out;
    }
    total += segment.iov_len;
  }
  uint64_t budget = kMaxRwCount;
  for (auto& segment : out.segments) {
    segment.iov_len = std::min<uint64_t>(segment.iov_len, budget);
    budget -= segment.iov_len;
  }
  out.total = std::min(total, kMaxRwCount);
  return out;
}

int64_t EmulatedWriter::write(pid_t tid, CallChannel& channel, int fd, const TargetIovecs& data,
                              uint64_t position, int rwf_flags, bool as_caller) {
  if (!bounce_) bounce_ = std::make_unique<char[]>(kBounceSize);
  // Each piece at its own position, whatever O_APPEND the caller's description has by then (it
  // may set it with fcntl meanwhile, which is not trapped): review, an overwrite booked as no
  // growth, its pieces then sent to the end, doubled a memfd each round (1594 MiB under 64 MiB).
  // Before Linux 6.9 there is no such flag, and that race stays (docs/memory-quotas.md).
  int flags = rwf_flags | (kernel_has_noappend() ? kRwfNoAppend : 0);
  uint64_t written = 0;
  for (const auto& segment : data.segments) {
    size_t done = 0;
    while (done < segment.iov_len) {
      size_t want = std::min(segment.iov_len - done, kBounceSize);
      ssize_t got = read_target_memory(
          channel.memory_reader(), tid,
          reinterpret_cast<uint64_t>(static_cast<char*>(segment.iov_base) + done), bounce_.get(),
          want);
      // The thread must still be the one waiting in this call, or the bytes are not its own.
      if (!channel.caller_waiting()) return written > 0 ? static_cast<int64_t>(written) : -ENOENT;
      if (got <= 0) return written > 0 ? static_cast<int64_t>(written) : -EFAULT;
      iovec chunk{bounce_.get(), static_cast<size_t>(got)};
      ssize_t put;
      {
        // Not around the read above: the caller's credentials cannot read its own memory.
        std::optional<CallerCredsScope> caller;
        if (as_caller && written == 0) {
          caller.emplace(tid);
          if (!caller->ok()) return -EPERM;  // its credentials are gone with it
        }
        put = ::pwritev2(fd, &chunk, 1, static_cast<off_t>(position + written), flags);
      }
      if (put < 0) return written > 0 ? static_cast<int64_t>(written) : -errno;
      written += static_cast<uint64_t>(put);
      done += static_cast<size_t>(put);
      if (put < got || static_cast<size_t>(got) < want) return static_cast<int64_t>(written);
    }
  }
  return static_cast<int64_t>(written);
}

}  // namespace warden
