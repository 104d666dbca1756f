// The syscalls memfd-warden traps, by ABI. The filter is built from this table and notifications
// are decoded with it, so the two can never disagree about what a number means.
#pragma once

#include <cstdint>
#include <optional>
#include <span>

namespace warden {

enum class Abi { kX86_64, kI386, kX32 };
enum class TrappedCall { kMemfdCreate };

const char* abi_name(Abi abi);
const char* trapped_call_name(TrappedCall call);

struct TrappedSyscall {
  TrappedCall call;
  Abi abi;
  uint32_t audit_arch;  // AUDIT_ARCH_* as seen in seccomp_data.arch
  int32_t nr;           // as seen in seccomp_data.nr (x32 numbers carry __X32_SYSCALL_BIT)
};

std::span<const TrappedSyscall> trapped_syscalls();

// Which trapped call (and ABI) a notification's (arch, nr) names; nullopt for anything else.
std::optional<TrappedSyscall> classify_syscall(uint32_t audit_arch, int32_t nr);

}  // namespace warden
