#include "supervisor/calls/memfd_call.h"

#include <spdlog/spdlog.h>

#include <cstring>

#include "policy/decide.h"
#include "policy/memfd_flags.h"
#include "supervisor/kernel/inotify_limits.h"
#include "supervisor/kernel/kernel_abi.h"
#include "supervisor/kernel/unique_fd.h"

namespace warden {
namespace {

void log_answer_error(int err, const char* what) {
  if (err != 0 && err != ENOENT) spdlog::error("{}: {}", what, std::strerror(err));
}

}  // namespace

void MemfdCallHandler::handle(const TrappedRequest& request, CallChannel& channel) {
  DecisionRecord record;
  record.syscall = trapped_call_name(request.syscall.call);
  record.abi = abi_name(request.syscall.abi);
  record.tid = request.tid;
  bool secret = request.syscall.call == TrappedCall::kMemfdSecret;
  // The kernel truncates the int argument after the filter has run: only the low 32 bits count.
  // memfd_secret(flags) has its flags first and no name.
  uint32_t flags = static_cast<uint32_t>(request.args[secret ? 0 : 1]);
  record.flags = flags;
  // The comm and executable (two system calls) only when a rule or the audit needs them for
  // every call; a refusal reads them later (name_caller).
  callers_.read(
      record.tid, caller_,
      decide_by_exe_ || record_names_ ? CallerReader::Names::kRead : CallerReader::Names::kSkip);
  describe_caller(record, caller_);

  // The kernel checks flags before it touches the name; so do we, to fail the same way.
  // (memfd_secret's flags are checked by the kernel when the file is made.)
  if (!secret && memfd_flags_invalid(flags)) {
    refuse(channel, record, EINVAL, "invalid-flags");
    return;
  }
  NameRead name{NameStatus::kOk, 0, 0};
  if (!secret) name = read_target_name(channel.memory_reader(), record.tid, request.args[0], name_);

  // Everything above came from /proc/TID and TID's memory. It was the caller's own (no reused
  // pid) if the call is still pending when we act: an allowed memfd reaches the caller only then
  // (ADDFD fails otherwise), and every record written before its answer checks first.
  switch (name.status) {
    case NameStatus::kOk:
      break;
    case NameStatus::kFault:
      refuse(channel, record, EFAULT, "bad-name-pointer");
      return;
    case NameStatus::kTooLong:
      refuse(channel, record, EINVAL, "name-too-long");
      return;
    case NameStatus::kUnreadable:
      if (!still_pending(channel, record)) return;  // unreadable because it is gone: no error
      spdlog::error("reading the memfd name from thread {}: {}; refusing the call (EPERM)",
                    record.tid, std::strerror(name.error));
      refuse(channel, record, EPERM, "target-unreadable");
      return;
  }
  std::string_view name_bytes(name_, name.length);
  if (!secret) record.name = name_bytes;
  MemfdSpec spec;
  spec.call = secret ? CreateCall::kMemfdSecret : CreateCall::kMemfdCreate;
  spec.name = name_;  // NUL-terminated where the target's name ended
  spec.flags = flags;
  spec.have_creds = caller_.have_creds;
  spec.fsuid = caller_.fsuid;
  spec.fsgid = caller_.fsgid;
  spec.pid_ns = caller_.pid_ns;

  ledger_.drain();  // releases that happened before this call must count
  Verdict verdict =
      decide(policy_, {name_bytes, flags, caller_.exe_view(), spec.call}, ledger_.state());
  record.reason = reason_name(verdict.reason);
  record.rule_index = verdict.rule_index;
  if (verdict.rule_index) record.rule_id = policy_.rules[*verdict.rule_index].id;
  if (verdict.reason == Reason::kFilelessExec) record.technique = kFilelessTechnique;
  // A dry run changes nothing in what the target gets, seals included.
  spec.seal_noexec = verdict.seal_noexec && !dry_run_;
  record.noexec_seal = spec.seal_noexec;

  switch (verdict.action) {
    case Action::kAllow:
      allow(channel, record, spec);
      return;
    case Action::kDeny:
      record.errno_value = verdict.errno_value;
      if (dry_run_) {
        record.decision = Decision::kWouldDeny;
        allow(channel, record, spec);
        return;
      }
      name_caller(record);
      if (!still_pending(channel, record)) return;
      record.decision = Decision::kDeny;
      record.quota = ledger_.state();
      audit_.write(record);  // before the answer: the record exists by the time the call fails
      log_answer_error(channel.fail(verdict.errno_value), "answering a denied call");
      return;
    case Action::kKill:
      if (dry_run_) {
        record.decision = Decision::kWouldKill;
        allow(channel, record, spec);
        return;
      }
      kill_caller(channel, record);
      return;
  }
}

bool MemfdCallHandler::still_pending(CallChannel& channel, DecisionRecord& record) {
  if (channel.caller_waiting()) return true;
  record_abort(record);
  return false;
}

void MemfdCallHandler::record_abort(DecisionRecord& record) {
  record.decision = Decision::kAbort;
  record.reason = "caller-gone";
  record.errno_value = 0;
  record.quota = ledger_.state();
  // Whatever was read of the caller is unproven now (its pid may be another's): named by no one.
  record.exe.reset();
  record.comm.reset();
  audit_.write(record);
}

void MemfdCallHandler::name_caller(DecisionRecord& record) {
  if (caller_.names_read) return;
  callers_.read_names(record.tid,
                      caller_);  // the caller's once the pending check that follows passes
  describe_caller(record, caller_);
}

void MemfdCallHandler::refuse(CallChannel& channel, DecisionRecord& record, int error,
                              const char* reason) {
  name_caller(record);
  if (!still_pending(channel, record)) return;
  record.decision = Decision::kDeny;
  record.errno_value = error;
  record.reason = reason;
  record.quota = ledger_.state();
  audit_.write(record);
  log_answer_error(channel.fail(error), "answering a refused call");
}

void MemfdCallHandler::allow(CallChannel& channel, DecisionRecord& record, const MemfdSpec& spec) {
  // In dry-run the record keeps its would-deny / would-kill; the call goes ahead all the same.
  bool real_allow = record.decision == Decision::kAllow;
  // A would-deny or would-kill names the caller; ADDFD's success proves the names were its own.
  if (!real_allow) name_caller(record);
  // A memfd is booked to the allow rule that admitted it (its max_bytes / max_live apply).
  std::optional<size_t> rule = record.rule_index;
  if (rule && policy_.rules[*rule].action != Action::kAllow) rule.reset();
  bool untrackable = false;
  auto track = [&](int memfd) {
    if (!ledger_.counts_live()) return true;  // nothing needs to know when it dies
    if (MemfdEntry* entry = ledger_.track(memfd, record.name.value_or(""), spec.call, rule, 0)) {
      entry->exec_allowed = !spec.seal_noexec && exec_allowed(policy_, rule);
      return true;
    }
    spdlog::error("{}; refusing the call",
                  inotify_watch_error("cannot track a new memfd").message());
    untrackable = true;
    return false;
  };
  // A lambda holding one pointer fits inside std::function: no allocation per call.
  int installed =
      channel.deliver_memfd(spec, [track = &track](int memfd) { return (*track)(memfd); });
  if (installed < 0) {
    if (-installed == ENOENT) {
      // Interrupted or dead caller: no fd reached it, and a restarted call comes back as a new
      // call, so nothing is counted for this one. The watch reports the memfd's end.
      record_abort(record);
      return;
    }
    if (channel.killed_caller()) {
      // ptrace: the caller's own call had made a memfd that could not be tracked, or did not
      // carry the checked name; it was killed for it. What was read of it is unproven now.
      record.decision = Decision::kKill;
      record.reason = untrackable ? "untrackable" : "name-mismatch";
      record.errno_value = 0;
      record.quota = ledger_.state();
      record.exe.reset();
      record.comm.reset();
      audit_.write(record);
      return;
    }
    // The kernel refused to make or install it (EMFILE: the caller's fd table is full ...), or
    // we could not track it: the caller gets that error, as it would have without us.
    refuse(channel, record, untrackable ? policy_.quota.errno_value : -installed,
           untrackable ? "untrackable" : "kernel-refused");
    return;
  }
  ledger_.count_call();
  record.fd = installed;
  if (real_allow) record.errno_value = 0;
  record.quota = ledger_.state();
  // The fd number exists only once the kernel has installed it, in the same step that resumes
  // the caller; this record follows that step (docs/architecture.md, "Audit").
  audit_.write(record);
}

void MemfdCallHandler::kill_caller(CallChannel& channel, DecisionRecord& record) {
  name_caller(record);
  if (!still_pending(channel, record)) return;
  record.decision = Decision::kKill;
  record.quota = ledger_.state();
  audit_.write(record);
  // Open the pidfd first, then prove the caller is still waiting: then its process cannot have
  // been replaced by another with the same pid, and the signal goes where the decision meant.
  UniqueFd pidfd(record.pid > 0 ? sys::pidfd_open(record.pid) : -1);
  if (pidfd.valid() && !channel.caller_waiting()) return;  // already gone on its own
  if (pidfd.valid() && sys::pidfd_send_signal(pidfd.get(), SIGKILL) == 0) {
    channel.fail(EPERM);  // a dying caller never sees it; a backend may need the answer to move on
    return;
  }
  // We could not kill it: fail closed, the call must not succeed.
  spdlog::error("killing process {} for a memfd_create: {}; denying the call instead", record.pid,
                std::strerror(errno));
  log_answer_error(channel.fail(EPERM), "answering a refused call");
}

}  // namespace warden
