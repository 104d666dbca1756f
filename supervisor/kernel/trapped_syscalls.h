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
  // seal a file (quota.strict_writes: fcntl with F_ADD_SEALS only), which the kernel does between
  // whole writes, and memfd-warden's pieces of one must not let in
  kFcntl,
  kFcntl64,  // i386 only
  // change a file's size by path (byte limits)
  kTruncate,
  kTruncate64,  // i386 only
  // set an extended attribute (byte limits): a memfd's are kernel memory no charge counts
  kSetxattr,
  kLsetxattr,
  kFsetxattr,
  kSetxattrat,  // Linux 6.13; not in libseccomp 2.5's tables (numbered below)
  // take on a Landlock domain (byte limits): memfd-warden, outside it, then acts by no path
  kLandlockRestrictSelf,
  // running a program (exec = "deny": refused for memfds, T1620)
  kExecve,
  kExecveat,
  // loading code from memory (exec = "deny"): mappings that would make a memory file's pages
  // executable, and the switches that make readable memory executable
  kMmap,  // on i386 this is old_mmap, whose arguments are a struct in memory
  kMmap2,
  kMprotect,
  kPkeyMprotect,
  kShmat,  // on i386 also ipc(SHMAT, ...), which the kernel multiplexes
  kPersonality,
  // io_uring = "deny"
  kIoUringSetup,
  // Linux AIO: its writes bypass the write family (refused with strict_writes)
  kIoSetup,
  // clone with CLONE_UNTRACED (ptrace backend: a child that would leave tracing)
  kClone,
};

// Which groups of calls a filter traps.
enum class CallGroup {
  kCreate,
  kGrowth,
  kWrite,
  kXattr,
  kLandlock,
  kSeal,
  kAio,
  kExec,
  kExecMap,
  kIoUring,
  kClone
};

const char* abi_name(Abi abi);
const char* trapped_call_name(TrappedCall call);
CallGroup call_group(TrappedCall call);

struct TrappedSyscall {
  TrappedCall call;
  Abi abi;
  uint32_t audit_arch;  // AUDIT_ARCH_* as seen in seccomp_data.arch
  int32_t nr;           // as seen in seccomp_data.nr (x32 numbers carry __X32_SYSCALL_BIT)
  bool multiplexed = false;  // i386 ipc(SHMAT, ...) rather than shmat itself
};

// Every (call, ABI) pair that exists, numbered by libseccomp. Built once.
std::span<const TrappedSyscall> trapped_syscalls();

// Which trapped call (and ABI) a notification's (arch, nr) names; nullopt for anything else.
std::optional<TrappedSyscall> classify_syscall(uint32_t audit_arch, int32_t nr);

}  // namespace warden
