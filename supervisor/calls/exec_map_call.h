// Handles the calls that would make memory-file pages executable when exec = "deny" somewhere in
// the policy: loading code from a memfd counts as running it (T1620), whether through the kernel's
// exec or through a mapping (ld.so /proc/self/fd/N, dlopen, mmap(PROT_EXEC) and a jump).
//
//   mmap / mmap2 / i386 old_mmap with PROT_EXEC of a file: the file is judged (memory_file.h);
//   mprotect / pkey_mprotect adding PROT_EXEC: every file mapping in the range is judged;
//   shmat with SHM_EXEC (System V shared memory is shmem too): refused;
//   personality(READ_IMPLIES_EXEC), which would make every readable mapping executable: refused.
// On i386 and x32 the kernel's ELF loader can set READ_IMPLIES_EXEC by itself, so there a
// readable mapping counts as executable when the caller's persona has it.
//
// Refusals fail with EACCES (EPERM for personality) and are audited; allowed calls go on
// unchanged. Memory that is anonymous (a JIT's) is not a file and is never refused.
#pragma once

#include "policy/policy.h"
#include "supervisor/calls/audit_log.h"
#include "supervisor/calls/call_channel.h"
#include "supervisor/calls/handler_context.h"
#include "supervisor/kernel/caller_info.h"

namespace warden {

class ExecMapCallHandler : CallHandler {
 public:
  explicit ExecMapCallHandler(const HandlerContext& context) : CallHandler(context) {}

  void handle(const TrappedRequest& request, CallChannel& channel);

 private:
  // `fileless`: the record names a memory file (technique T1620); otherwise it says why not.
  void refuse(CallChannel& channel, DecisionRecord& record, int error, bool fileless = true);
  // A call whose file memfd-warden may not look at (the caller made itself non-dumpable, seen
  // without CAP_SYS_PTRACE): refused with EACCES, reason target-unreadable.
  void refuse_unseen(const TrappedRequest& request, CallChannel& channel, DecisionRecord& record);
  enum class RangeCheck { kClear, kRefused, kUnseen };
  // mprotect: the first memory file mapped in [start, start + length) that may not run, if any
  // (described in `record`); kUnseen when the caller's mappings cannot be read.
  RangeCheck check_range(pid_t tid, uint64_t start, uint64_t length, DecisionRecord& record);

  char link_[512] = {};
  CallerInfo caller_;
};

}  // namespace warden
