// The syscalls memfd-warden can trap, by ABI. Numbers come from libseccomp's tables for every ABI
// we cover; the filter is built from this table and notifications are decoded with it, so the
// two can never disagree about what a number means.
#pragma once

#include <cstdint>
#include <optional>
#include <span>

namespace warden {

enum class Abi { kX86_64, kI386, kX32 };

enum class TrappedCall {
  // make a memfd
  kMemfdCreate,
  kMemfdSecret,
  // change a file's size or extent
  kFtruncate,
  kFtruncate64,  // i386 only
  kFallocate,
  // the write family (quota.strict_writes)
  kWrite,
  kPwrite64,
  kWritev,
  kPwritev,
  kPwritev2,
  kSendfile,
  kSendfile64,  // i386 only
  kSplice,
  kCopyFileRange,
  // running a program (exec = "deny": refused for memfds, T1620)
  kExecve,
  kExecveat,
  // io_uring = "deny"
  kIoUringSetup,
};

// Which groups of calls a filter traps.
enum class CallGroup { kCreate, kGrowth, kWrite, kExec, kIoUring };

const char* abi_name(Abi abi);
const char* trapped_call_name(TrappedCall call);
CallGroup call_group(TrappedCall call);

struct TrappedSyscall {
  TrappedCall call;
  Abi abi;
  uint32_t audit_arch;  // AUDIT_ARCH_* as seen in seccomp_data.arch
  int32_t nr;           // as seen in seccomp_data.nr (x32 numbers carry __X32_SYSCALL_BIT)
};

// Every (call, ABI) pair that exists, numbered by libseccomp. Built once.
std::span<const TrappedSyscall> trapped_syscalls();

// Which trapped call (and ABI) a notification's (arch, nr) names; nullopt for anything else.
std::optional<TrappedSyscall> classify_syscall(uint32_t audit_arch, int32_t nr);

}  // namespace warden
