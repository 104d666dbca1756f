#include "supervisor/trapped_syscalls.h"

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

constexpr std::array<CallInfo, 17> kCalls{{
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
    {TrappedCall::kExecve, "execve", CallGroup::kExec},
    {TrappedCall::kExecveat, "execveat", CallGroup::kExec},
    {TrappedCall::kIoUringSetup, "io_uring_setup", CallGroup::kIoUring},
}};

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
      int nr = seccomp_syscall_resolve_name_arch(abi.scmp_arch, call.name);
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
