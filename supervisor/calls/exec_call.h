// Handles execve / execveat when exec = "deny" somewhere in the policy: running a program from
// memory (MITRE ATT&CK T1620, fileless execution) is refused with EACCES and audited, unless the
// memfd was admitted by a rule with exec = "allow". Every other exec goes on unchanged.
//
// The decision is made on the file, not on the path string: the path is resolved as the kernel
// will resolve it for the caller (path_resolver.h), and the file it reaches is judged
// (memory_file.h), then the interpreter that file would load ("#!" line, ELF PT_INTERP), and so
// on down the chain. Under user notification the kernel looks the path up again after the check
// (docs/hardening.md, "What a racing target can still do"); the ptrace backend closes that gap by
// checking the new image at its exec event stop too (refuse_new_image).
#pragma once

#include "policy/policy.h"
#include "supervisor/calls/audit_log.h"
#include "supervisor/calls/call_channel.h"
#include "supervisor/calls/handler_context.h"
#include "supervisor/calls/memfd_ledger.h"
#include "supervisor/kernel/caller_info.h"
#include "supervisor/kernel/memory_file.h"
#include "supervisor/kernel/target_memory.h"

namespace warden {

// Whether code from a memory file may run: the rule that admitted it (its ledger entry), else
// the policy's exec setting. `entry` is set when memfd-warden admitted or adopted the file.
struct ExecJudgement {
  bool allowed = false;
  MemfdEntry* entry = nullptr;
};
ExecJudgement judge_exec(const Policy& policy, MemfdLedger& ledger, const MemoryFile& file);

// Fills a T1620 record's name, file kind and rule from what was judged.
void describe_exec_target(DecisionRecord& record, const Policy& policy, const MemoryFile& file,
                          const ExecJudgement& judgement);

class ExecCallHandler : CallHandler {
 public:
  explicit ExecCallHandler(const HandlerContext& context) : CallHandler(context) {}

  void handle(const TrappedRequest& request, CallChannel& channel);

  // ptrace backend, at PTRACE_EVENT_EXEC (the old image is gone, the new one has not run an
  // instruction): true when the program or the loader the kernel mapped for it comes from
  // memory that may not run. The record is written (kill, or would-kill in a dry run); the
  // backend kills the process unless this is a dry run.
  bool refuse_new_image(pid_t pid);

 private:
  // Ends the call with -error (the kernel's own answer, or a refusal already audited).
  void answer(CallChannel& channel, int error);
  // An exec whose file cannot be known (the caller's memory or /proc entries refused to us):
  // refused with EACCES, and audited (reason target-unreadable).
  void refuse_unseen(const TrappedRequest& request, CallChannel& channel, std::string_view path);
  // refuse_new_image's record (the memory file it runs, or none: an image closed to us);
  // returns whether the backend is to kill it.
  bool kill_new_image(pid_t pid, const MemoryFile* file, const ExecJudgement* judgement = nullptr);

  char path_[kMaxPath] = {};
  char link_[512] = {};
  CallerInfo caller_;
};

}  // namespace warden
