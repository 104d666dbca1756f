// Handles one trapped call that makes a memfd (memfd_create, memfd_secret): read the name once,
// learn the caller, prove the call is still pending, decide with policy/decide, then answer
// through the backend's CallChannel. An allowed memfd always carries exactly the name and flags
// that were checked (never CONTINUE: the target could rewrite the name between our read and the
// kernel's).
#pragma once

#include "policy/policy.h"
#include "supervisor/calls/audit_log.h"
#include "supervisor/calls/call_channel.h"
#include "supervisor/calls/handler_context.h"
#include "supervisor/calls/memfd_ledger.h"
#include "supervisor/kernel/caller_info.h"
#include "supervisor/kernel/target_memory.h"

namespace warden {

class MemfdCallHandler : CallHandler {
 public:
  explicit MemfdCallHandler(const HandlerContext& context)
      : CallHandler(context), decide_by_exe_(context.policy.matches_exe()) {}

  void handle(const TrappedRequest& request, CallChannel& channel);

 private:
  // True while the caller waits; otherwise records the call as abandoned. Called before any
  // record that precedes its answer.
  bool still_pending(CallChannel& channel, DecisionRecord& record);
  // Records the call as abandoned by its caller (gone, or interrupted), naming no one.
  void record_abort(DecisionRecord& record);
  // Fails the call with `error` and records why.
  void refuse(CallChannel& channel, DecisionRecord& record, int error, const char* reason);
  void allow(CallChannel& channel, DecisionRecord& record, const MemfdSpec& spec);
  void kill_caller(CallChannel& channel, DecisionRecord& record);
  // Reads the caller's comm and executable into the record if they were left out: a record that
  // is not a plain allowance always names them. Called before the call is proved pending.
  void name_caller(DecisionRecord& record);

  bool decide_by_exe_;  // a rule matches on exe: every caller's executable is read first

  // Scratch reused for every call: the hot path does not allocate for these.
  char name_[kMaxMemfdName + 1] = {};
  CallerInfo caller_;
};

}  // namespace warden
