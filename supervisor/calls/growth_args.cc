#include "supervisor/calls/growth_args.h"

namespace warden {
namespace {

// Register values as the callee sees them: 32-bit ABIs use the low half, signed where the C
// type is signed.
int as_int(uint64_t value) { return static_cast<int>(static_cast<uint32_t>(value)); }

int64_t signed_long(Abi abi, uint64_t value) {
  if (abi == Abi::kI386) return static_cast<int32_t>(static_cast<uint32_t>(value));
  return static_cast<int64_t>(value);
}

uint64_t unsigned_long(Abi abi, uint64_t value) {
  return abi == Abi::kI386 ? static_cast<uint32_t>(value) : value;
}

// An i386 64-bit value split over two registers, low half first.
int64_t pair(uint64_t low, uint64_t high) {
  return static_cast<int64_t>((static_cast<uint64_t>(static_cast<uint32_t>(high)) << 32) |
                              static_cast<uint32_t>(low));
}

}  // namespace

GrowthArgs decode_growth_args(TrappedCall call, Abi abi, const std::array<uint64_t, 6>& a) {
  GrowthArgs g;
  g.fd = as_int(a[0]);
  bool i386 = abi == Abi::kI386;
  g.compat_iov = abi != Abi::kX86_64;
  switch (call) {
    case TrappedCall::kFtruncate:
      g.length = signed_long(abi, a[1]);
      break;
    case TrappedCall::kFtruncate64:  // i386 only
      g.length = pair(a[1], a[2]);
      break;
    case TrappedCall::kTruncate:
      g.fd = -1;
      g.by_path = true;
      g.path = unsigned_long(abi, a[0]);
      g.length = signed_long(abi, a[1]);
      break;
    case TrappedCall::kTruncate64:  // i386 only
      g.fd = -1;
      g.by_path = true;
      g.path = unsigned_long(abi, a[0]);
      g.length = pair(a[1], a[2]);
      break;
    case TrappedCall::kFallocate:
      g.kind = GrowthKind::kFallocate;
      g.mode = as_int(a[1]);
      g.offset = i386 ? pair(a[2], a[3]) : static_cast<int64_t>(a[2]);
      g.length = i386 ? pair(a[4], a[5]) : static_cast<int64_t>(a[3]);
      break;
    case TrappedCall::kWrite:
      g.kind = GrowthKind::kWrite;
      g.buffer = unsigned_long(abi, a[1]);
      g.length = static_cast<int64_t>(unsigned_long(abi, a[2]));
      g.emulated = true;
      break;
    case TrappedCall::kPwrite64:
      g.kind = GrowthKind::kWrite;
      g.buffer = unsigned_long(abi, a[1]);
      g.length = static_cast<int64_t>(unsigned_long(abi, a[2]));
      g.offset = i386 ? pair(a[3], a[4]) : static_cast<int64_t>(a[3]);
      g.has_offset = true;
      g.emulated = true;
      break;
    case TrappedCall::kWritev:
    case TrappedCall::kPwritev:
    case TrappedCall::kPwritev2:
      g.kind = GrowthKind::kWrite;
      g.iov = unsigned_long(abi, a[1]);
      g.iov_count = unsigned_long(abi, a[2]);
      g.emulated = true;
      if (call != TrappedCall::kWritev) {
        // 64-bit kernels take the position whole in the low register; compat i386 splits it.
        g.offset = i386 ? pair(a[3], a[4]) : static_cast<int64_t>(a[3]);
        g.has_offset = true;
      }
      if (call == TrappedCall::kPwritev2) {
        // x32 passes the position in one register, so its flags come one slot earlier.
        g.rwf_flags = as_int(abi == Abi::kX32 ? a[4] : a[5]);
        if (g.offset == -1) g.has_offset = false;  // -1: the file position, like writev
      }
      break;
    case TrappedCall::kSendfile:
    case TrappedCall::kSendfile64:
      // sendfile(out, in, offset, count): the offset is the source's; i386's sendfile takes a
      // 32-bit off_t there, sendfile64 a loff_t.
      g.kind = GrowthKind::kWrite;
      g.in_fd = as_int(a[1]);
      g.in_offset_pointer = unsigned_long(abi, a[2]);
      g.in_offset_size = i386 && call == TrappedCall::kSendfile ? 4 : 8;
      g.length = static_cast<int64_t>(unsigned_long(abi, a[3]));
      break;
    case TrappedCall::kSplice:
    case TrappedCall::kCopyFileRange:
      // splice(in, off_in, out, off_out, len, flags), copy_file_range alike.
      g.kind = GrowthKind::kWrite;
      g.in_fd = as_int(a[0]);
      g.in_offset_pointer = unsigned_long(abi, a[1]);
      g.fd = as_int(a[2]);
      g.out_offset_pointer = unsigned_long(abi, a[3]);
      g.length = static_cast<int64_t>(unsigned_long(abi, a[4]));
      g.copy_flags = static_cast<uint32_t>(a[5]);
      break;
    default:  // not a growth call
      break;
  }
  return g;
}

}  // namespace warden
