#include "supervisor/trapped_syscalls.h"

#include <linux/audit.h>

#include <array>

namespace warden {
namespace {

constexpr int32_t kX32SyscallBit = 0x40000000;

// Numbers from arch/x86/entry/syscalls/syscall_{64,32}.tbl.
constexpr std::array<TrappedSyscall, 3> kTrapped{{
    {TrappedCall::kMemfdCreate, Abi::kX86_64, AUDIT_ARCH_X86_64, 319},
    {TrappedCall::kMemfdCreate, Abi::kI386, AUDIT_ARCH_I386, 356},
    {TrappedCall::kMemfdCreate, Abi::kX32, AUDIT_ARCH_X86_64, kX32SyscallBit | 319},
}};

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

const char* trapped_call_name(TrappedCall call) {
  switch (call) {
    case TrappedCall::kMemfdCreate:
      return "memfd_create";
  }
  return "?";
}

std::span<const TrappedSyscall> trapped_syscalls() { return kTrapped; }

std::optional<TrappedSyscall> classify_syscall(uint32_t audit_arch, int32_t nr) {
  for (const auto& entry : kTrapped) {
    if (entry.audit_arch == audit_arch && entry.nr == nr) return entry;
  }
  return std::nullopt;
}

}  // namespace warden
