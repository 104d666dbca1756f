#include "supervisor/kernel/trapped_syscalls.h"

#include <linux/audit.h>
#include <seccomp.h>

#include <array>
#include <vector>

namespace warden {
namespace {

struct CallInfo {
  TrappedCall call;
  const char* name;  // libseccomp's name
  CallGroup group;
};

constexpr std::array<CallInfo, 34> kCalls{{
    {TrappedCall::kMemfdCreate, "memfd_create", CallGroup::kCreate},
    {TrappedCall::kMemfdSecret, "memfd_secret", CallGroup::kCreate},
    {TrappedCall::kFtruncate, "ftruncate", CallGroup::kGrowth},
    {TrappedCall::kFtruncate64, "ftruncate64", CallGroup::kGrowth},
    {TrappedCall::kFallocate, "fallocate", CallGroup::kGrowth},
    {TrappedCall::kWrite, "write", CallGroup::kWrite},
    {TrappedCall::kPwrite64, "pwrite64", CallGroup::kWrite},
    {TrappedCall::kWritev, "writev", CallGroup::kWrite},
    {TrappedCall::kPwritev, "pwritev", CallGroup::kWrite},
    {TrappedCall::kPwritev2, "pwritev2", CallGroup::kWrite},
    {TrappedCall::kSendfile, "sendfile", CallGroup::kWrite},
    {TrappedCall::kSendfile64, "sendfile64", CallGroup::kWrite},
    {TrappedCall::kSplice, "splice", CallGroup::kWrite},
    {TrappedCall::kCopyFileRange, "copy_file_range", CallGroup::kWrite},
    {TrappedCall::kFcntl, "fcntl", CallGroup::kSeal},
    {TrappedCall::kFcntl64, "fcntl64", CallGroup::kSeal},
    {TrappedCall::kTruncate, "truncate", CallGroup::kGrowth},
    {TrappedCall::kTruncate64, "truncate64", CallGroup::kGrowth},
    {TrappedCall::kSetxattr, "setxattr", CallGroup::kXattr},
    {TrappedCall::kLsetxattr, "lsetxattr", CallGroup::kXattr},
    {TrappedCall::kFsetxattr, "fsetxattr", CallGroup::kXattr},
    {TrappedCall::kSetxattrat, "setxattrat", CallGroup::kXattr},
    {TrappedCall::kLandlockRestrictSelf, "landlock_restrict_self", CallGroup::kLandlock},
    {TrappedCall::kExecve, "execve", CallGroup::kExec},
    {TrappedCall::kExecveat, "execveat", CallGroup::kExec},
    {TrappedCall::kMmap, "mmap", CallGroup::kExecMap},
    {TrappedCall::kMmap2, "mmap2", CallGroup::kExecMap},
    {TrappedCall::kMprotect, "mprotect", CallGroup::kExecMap},
    {TrappedCall::kPkeyMprotect, "pkey_mprotect", CallGroup::kExecMap},
    {TrappedCall::kShmat, "shmat", CallGroup::kExecMap},
    {TrappedCall::kPersonality, "personality", CallGroup::kExecMap},
    {TrappedCall::kIoUringSetup, "io_uring_setup", CallGroup::kIoUring},
    {TrappedCall::kIoSetup, "io_setup", CallGroup::kAio},
    {TrappedCall::kClone, "clone", CallGroup::kClone},
}};

// Indexed by TrappedCall: the order above must follow the enum's.
constexpr bool calls_in_enum_order() {
  for (size_t i = 0; i < kCalls.size(); ++i) {
    if (static_cast<size_t>(kCalls[i].call) != i) return false;
  }
  return static_cast<size_t>(TrappedCall::kClone) + 1 == kCalls.size();
}
static_assert(calls_in_enum_order());

// i386 reaches shmat two ways: the direct call (Linux 5.1+), and ipc(SHMAT, ...), which is how
// glibc calls it. libseccomp names the direct call only by a pseudo number, so both are spelled
// out here; a rule added for "shmat" covers both (seccomp_filter.cc).
constexpr int32_t kI386Shmat = 397;
constexpr int32_t kI386Ipc = 117;

// Calls newer than libseccomp 2.5's tables, by the number every ABI shares since Linux 5.1
// (x32's with __X32_SYSCALL_BIT).
constexpr int32_t kSetxattratNr = 463;
constexpr int32_t kX32SyscallBit = 0x40000000;

int32_t number_of(uint32_t scmp_arch, const CallInfo& call) {
  int nr = seccomp_syscall_resolve_name_arch(scmp_arch, call.name);
  if (nr >= 0 || call.call != TrappedCall::kSetxattrat) return nr;
  return scmp_arch == SCMP_ARCH_X32 ? kSetxattratNr | kX32SyscallBit : kSetxattratNr;
}

struct AbiInfo {
  Abi abi;
  uint32_t scmp_arch;
  uint32_t audit_arch;
};

constexpr std::array<AbiInfo, 3> kAbis{{
    {Abi::kX86_64, SCMP_ARCH_X86_64, AUDIT_ARCH_X86_64},
    {Abi::kI386, SCMP_ARCH_X86, AUDIT_ARCH_I386},
    {Abi::kX32, SCMP_ARCH_X32, AUDIT_ARCH_X86_64},
}};

std::vector<TrappedSyscall> build_table() {
  std::vector<TrappedSyscall> table;
  for (const auto& abi : kAbis) {
    for (const auto& call : kCalls) {
      if (abi.abi == Abi::kI386 && call.call == TrappedCall::kShmat) {
        table.push_back({call.call, abi.abi, abi.audit_arch, kI386Shmat});
        table.push_back({call.call, abi.abi, abi.audit_arch, kI386Ipc, true});
        continue;
      }
      int nr = number_of(abi.scmp_arch, call);
      if (nr < 0) continue;  // the call does not exist on this ABI (ftruncate64 on x86_64 ...)
      table.push_back({call.call, abi.abi, abi.audit_arch, nr});
    }
  }
  return table;
}

}  // namespace

const char* abi_name(Abi abi) {
  switch (abi) {
    case Abi::kX86_64:
      return "x86_64";
    case Abi::kI386:
      return "i386";
    case Abi::kX32:
      return "x32";
  }
  return "?";
}

const char* trapped_call_name(TrappedCall call) { return kCalls[static_cast<size_t>(call)].name; }

CallGroup call_group(TrappedCall call) { return kCalls[static_cast<size_t>(call)].group; }

std::span<const TrappedSyscall> trapped_syscalls() {
  static const std::vector<TrappedSyscall> table = build_table();
  return table;
}

std::optional<TrappedSyscall> classify_syscall(uint32_t audit_arch, int32_t nr) {
  for (const auto& entry : trapped_syscalls()) {
    if (entry.audit_arch == audit_arch && entry.nr == nr) return entry;
  }
  return std::nullopt;
}

}  // namespace warden
