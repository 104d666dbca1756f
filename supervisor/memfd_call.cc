#include "supervisor/memfd_call.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/fsuid.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "policy/decide.h"
#include "policy/memfd_flags.h"
#include "supervisor/kernel_abi.h"
#include "supervisor/unique_fd.h"

namespace warden {

void MemfdCallHandler::handle(const seccomp_notif& request, const TrappedSyscall& call) {
  DecisionRecord record;
  record.syscall = trapped_call_name(call.call);
  record.abi = abi_name(call.abi);
  record.tid = static_cast<pid_t>(request.pid);
  bool secret = call.call == TrappedCall::kMemfdSecret;
  // The kernel truncates the int argument after the filter has run: only the low 32 bits count.
  // memfd_secret(flags) has its flags first and no name.
  uint32_t flags = static_cast<uint32_t>(request.data.args[secret ? 0 : 1]);
  record.flags = flags;

  // The kernel checks flags before it touches the name; so do we, to fail the same way.
  // (memfd_secret's flags are checked by the kernel when we make the file ourselves.)
  if (!secret && memfd_flags_invalid(flags)) {
    refuse(request.id, record, EINVAL, "invalid-flags");
    return;
  }
  NameRead name{NameStatus::kOk, 0, 0};
  if (!secret) name = read_target_name(record.tid, request.data.args[0], name_);
  read_caller_info(record.tid, caller_);
  record.pid = caller_.tgid;
  record.exe = caller_.exe_view();
  record.comm = caller_.comm_view();

  // Everything above came from /proc/TID and TID's memory. If the notification is still pending,
  // TID was the waiting thread the whole time and nothing we read belongs to a reused pid.
  if (!notify_.id_valid(request.id)) {
    record.decision = Decision::kAbort;
    record.reason = "caller-gone";
    record.quota = ledger_.state();
    audit_.write(record);
    return;
  }
  switch (name.status) {
    case NameStatus::kOk:
      break;
    case NameStatus::kFault:
      refuse(request.id, record, EFAULT, "bad-name-pointer");
      return;
    case NameStatus::kTooLong:
      refuse(request.id, record, EINVAL, "name-too-long");
      return;
    case NameStatus::kUnreadable:
      spdlog::error("reading the memfd name from thread {}: {}; refusing the call (EPERM)",
                    record.tid, std::strerror(name.error));
      refuse(request.id, record, EPERM, "target-unreadable");
      return;
  }
  std::string_view name_bytes(name_, name.length);
  if (!secret) record.name = name_bytes;
  call_ = secret ? CreateCall::kMemfdSecret : CreateCall::kMemfdCreate;

  ledger_.drain();  // releases that happened before this call must count
  Verdict verdict = decide(policy_, {name_bytes, flags, record.exe, call_}, ledger_.state());
  record.reason = reason_name(verdict.reason);
  record.rule_index = verdict.rule_index;
  if (verdict.rule_index) record.rule_id = policy_.rules[*verdict.rule_index].id;

  switch (verdict.action) {
    case Action::kAllow:
      allow(request.id, record);
      return;
    case Action::kDeny:
      if (dry_run_) {
        record.decision = Decision::kWouldDeny;
        record.errno_value = verdict.errno_value;
        allow(request.id, record);
        return;
      }
      record.decision = Decision::kDeny;
      record.errno_value = verdict.errno_value;
      record.quota = ledger_.state();
      audit_.write(record);  // before the answer: the record exists by the time the call fails
      if (int err = notify_.respond_error(request.id, verdict.errno_value);
          err != 0 && err != ENOENT) {
        spdlog::error("answering a denied memfd_create: {}", std::strerror(err));
      }
      return;
    case Action::kKill:
      if (dry_run_) {
        record.decision = Decision::kWouldKill;
        allow(request.id, record);
        return;
      }
      kill_caller(request.id, record);
      return;
  }
}

void MemfdCallHandler::refuse(uint64_t id, DecisionRecord& record, int error, const char* reason) {
  record.decision = Decision::kDeny;
  record.errno_value = error;
  record.reason = reason;
  record.quota = ledger_.state();
  audit_.write(record);
  if (int err = notify_.respond_error(id, error); err != 0 && err != ENOENT) {
    spdlog::error("answering memfd_create with {}: {}", std::strerror(error), std::strerror(err));
  }
}

int MemfdCallHandler::create_memfd(uint32_t flags) {
  bool switch_creds =
      caller_.have_creds && (caller_.fsuid != ::geteuid() || caller_.fsgid != ::getegid());
  uid_t old_uid = 0;
  gid_t old_gid = 0;
  if (switch_creds) {
    // Group first: once fsuid is not 0 we may no longer be allowed to change fsgid.
    old_gid = static_cast<gid_t>(::setfsgid(caller_.fsgid));
    old_uid = static_cast<uid_t>(::setfsuid(caller_.fsuid));
  }
  // name_ ends at the NUL the target's name ended at.
  int fd = call_ == CreateCall::kMemfdSecret ? static_cast<int>(::syscall(SYS_memfd_secret, flags))
                                             : ::memfd_create(name_, flags);
  int saved = errno;
  if (switch_creds) {
    ::setfsuid(old_uid);
    ::setfsgid(old_gid);
  }
  errno = saved;
  return fd;
}

void MemfdCallHandler::allow(uint64_t id, DecisionRecord& record) {
  // In dry-run the record keeps its would-deny / would-kill; the call goes ahead all the same.
  bool real_allow = record.decision == Decision::kAllow;
  UniqueFd memfd(create_memfd(record.flags));
  if (!memfd.valid()) {
    // The kernel itself refused (hugetlb without pages, vm.memfd_noexec = 2, ENFILE ...): the
    // caller gets what it would have got without us.
    refuse(id, record, errno, "kernel-refused");
    return;
  }
  // A memfd is booked to the allow rule that admitted it (its max_bytes / max_live apply).
  std::optional<size_t> rule = record.rule_index;
  if (rule && policy_.rules[*rule].action != Action::kAllow) rule.reset();
  if (ledger_.track(memfd.get(), record.name.value_or(""), call_, rule, 0) == nullptr) {
    spdlog::error("cannot track a new memfd (inotify_add_watch: {}); refusing the call",
                  std::strerror(errno));
    refuse(id, record, policy_.quota.errno_value, "untrackable");
    return;
  }
  bool cloexec = call_ == CreateCall::kMemfdSecret ? (record.flags & O_CLOEXEC) != 0
                                                   : (record.flags & kMfdCloexec) != 0;
  int installed = notify_.install_and_respond(id, memfd.get(), cloexec);
  // Our copy goes now, whatever happened: the ledger watches the file, it does not hold it.
  memfd.reset();
  if (installed < 0) {
    if (-installed == ENOENT) {
      // Interrupted or dead caller: no fd reached it, and a restarted call comes back as a new
      // notification, so nothing is counted for this one. The watch reports the memfd's end.
      record.decision = Decision::kAbort;
      record.reason = "caller-gone";
      record.quota = ledger_.state();
      audit_.write(record);
      return;
    }
    // E.g. EMFILE: the caller's fd table is full, the answer the kernel would have given.
    refuse(id, record, -installed, "install-failed");
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

void MemfdCallHandler::kill_caller(uint64_t id, DecisionRecord& record) {
  record.decision = Decision::kKill;
  record.quota = ledger_.state();
  audit_.write(record);
  // Open the pidfd first, then prove the caller is still waiting: then its process cannot have
  // been replaced by another with the same pid, and the signal goes where the decision meant.
  UniqueFd pidfd(record.pid > 0 ? sys::pidfd_open(record.pid) : -1);
  if (pidfd.valid() && !notify_.id_valid(id)) return;  // already gone on its own
  if (pidfd.valid() && sys::pidfd_send_signal(pidfd.get(), SIGKILL) == 0) return;
  // We could not kill it: fail closed, the call must not succeed.
  spdlog::error("killing process {} for a memfd_create: {}; denying the call instead", record.pid,
                std::strerror(errno));
  if (int err = notify_.respond_error(id, EPERM); err != 0 && err != ENOENT) {
    spdlog::error("answering memfd_create: {}", std::strerror(err));
  }
}

}  // namespace warden
