// The seam between the decision code and a backend. A TrappedRequest is one trapped call as both
// backends see it; a CallChannel carries the verdict for that call back to the kernel. The
// handlers (memfd_call, growth_call) only talk to these, so the user-notification and ptrace
// backends run exactly the same policy, quota and audit code.
#pragma once

#include <sys/types.h>

#include <array>
#include <cstdint>
#include <functional>

#include "policy/policy.h"
#include "supervisor/kernel/target_memory.h"
#include "supervisor/kernel/trapped_syscalls.h"

namespace warden {

struct TrappedRequest {
  pid_t tid = 0;  // the calling thread, in our pid namespace
  TrappedSyscall syscall{};
  std::array<uint64_t, 6> args{};  // as the kernel's handler takes them (kernel_args)
};

// A trapped call's arguments as seccomp or ptrace report them (`reported`), made what the
// kernel's handler for `call`'s ABI acts on. An i386 call takes only the low 32 bits of each
// register, while seccomp and ptrace report all 64: 64-bit code can make one with `int $0x80`
// and bits set above 32, and a handler that read the name, path or address there would judge
// another one than the kernel then uses.
// (`Word`: the kernel's __u64, or the ptrace_syscall_info's.)
template <typename Word>
std::array<uint64_t, 6> kernel_args(const TrappedSyscall& call, const Word (&reported)[6]) {
  std::array<uint64_t, 6> args{};
  uint64_t mask = call.abi == Abi::kI386 ? 0xffffffffU : ~uint64_t{0};
  for (size_t i = 0; i < args.size(); ++i) args[i] = reported[i] & mask;
  return args;
}

// What the allowed memfd is to be: the checked name (NUL-terminated), the flags, and the
// caller's filesystem ids for backends that create it themselves.
struct MemfdSpec {
  CreateCall call = CreateCall::kMemfdCreate;
  const char* name = "";
  uint32_t flags = 0;
  // exec = "deny": make it with MFD_NOEXEC_SEAL (where the kernel has it), and keep it closed to
  // further seals (F_SEAL_SEAL) unless the caller asked for MFD_ALLOW_SEALING.
  bool seal_noexec = false;
  bool have_creds = false;
  uid_t fsuid = 0;
  gid_t fsgid = 0;
  ino_t pid_ns = 0;  // the caller's PID namespace (its vm.memfd_noexec), 0 if not known
};

class CallChannel {
 public:
  virtual ~CallChannel() = default;

  // True while the caller is still waiting in this call: everything read from /proc/TID and its
  // memory before this returned true was the caller's own (no pid reuse).
  virtual bool caller_waiting() = 0;

  // Ends the call with -error, or with `value` (a call the supervisor carried out itself).
  // Return 0 or an errno; ENOENT means the caller is gone, which is not an error.
  virtual int fail(int error) = 0;
  virtual int complete(int64_t value) = 0;

  // Lets the kernel run the call as the target made it (only for decisions that read nothing
  // the target could change afterwards).
  virtual int pass_through() = 0;

  // i386 old_mmap reads its arguments from the caller's memory, where they can change after
  // the check (a racing thread; under ptrace even a thread still being created, whose kernel
  // side stores its tid at CLONE_CHILD_SETTID). Where the backend can, the call runs as mmap2
  // with the checked arguments in registers (`pgoff` in 4096-byte pages); user notification
  // cannot change a call's arguments and passes it through (docs/hardening.md).
  virtual int pass_through_as_mmap2(const std::array<uint64_t, 6>& args) {
    (void)args;
    return pass_through();
  }

  // Makes the allowed memfd the call's result, with the name and flags that were checked. Before
  // the target can use it, `on_created` gets a supervisor reference to the new file (for the
  // ledger); if it returns false the memfd must not reach the target. Returns the target's fd,
  // or -errno: ENOENT when the caller is gone, otherwise the call still awaits fail().
  virtual int deliver_memfd(const MemfdSpec& spec, const std::function<bool(int)>& on_created) = 0;

  // How the caller's memory is read (target_memory.h): with process_vm_readv unless the backend
  // has stopped threads that a read could have to wait for.
  virtual MemoryReader memory_reader() const { return MemoryReader::kProcessVm; }

  // True where the backend judges a new program again once the kernel has loaded it (ptrace's
  // exec event stop): an exec that cannot be judged before may then go on to be judged there.
  virtual bool judges_loaded_image() const { return false; }

  // True when deliver_memfd() killed the caller: under ptrace the caller's own call has made the
  // memfd by the time it can be checked and tracked, and one that fails either check cannot be
  // taken back, so the process is killed (fail closed). User notification never does.
  virtual bool killed_caller() const { return false; }
};

}  // namespace warden
