#include "supervisor/calls/exec_call.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <string>

#include "supervisor/kernel/kernel_abi.h"
#include "supervisor/kernel/path_resolver.h"
#include "supervisor/kernel/process_maps.h"
#include "supervisor/kernel/program_interpreter.h"
#include "supervisor/kernel/self_fd.h"
#include "supervisor/kernel/target_wait.h"
#include "supervisor/kernel/unique_fd.h"

namespace warden {
namespace {

constexpr int kAtEmptyPath = 0x1000;
constexpr int kAtSymlinkNofollow = 0x100;

// Our readable copy of the file behind an O_PATH fd of ours (a regular file only: opening
// anything else could block or have side effects).
UniqueFd reopen_for_reading(int file) {
  return UniqueFd(::open(SelfFdPath(file).c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK));
}

// A memory file somewhere on the way from the program to the code that runs, with how it is
// reached ("program" or "interpreter").
struct Found {
  UniqueFd fd;
  MemoryFile file;
  const char* via = "program";
  std::string interpreter;  // the path that named it, when via == "interpreter"
};

// Follows program -> interpreter -> ... as the kernel will, from the resolved program `start`,
// and returns the first memory file that would run, if any. `unseen` is set when a file on the
// way cannot be read to find what it loads (the kernel needs no read permission to run it; a
// write lease makes our non-blocking open fail), or, while nothing judges the loaded program
// (`judged_when_loaded`), an interpreter's lookup failed in a FUSE filesystem or a file's
// attributes are closed to us (a FUSE file that keeps memfd-warden out, reached through an fd):
// the chain is then unknown.
std::optional<Found> find_memory_image(UniqueFd start, pid_t tid, char (&link)[512], bool& unseen,
                                       bool judged_when_loaded, bool fuse_counts) {
  TargetWait wait(tid);  // opens and reads of the caller's files
  Found found;
  found.fd = std::move(start);
  bool may_name_another = true;  // a program or a script's interpreter, not an ELF's loader
  // Depths 0 to kMaxInterpreterDepth are programs and scripts' interpreters; an ELF among them
  // has its loader mapped without a depth of its own, so one more file may follow the last.
  for (int depth = 0; depth <= kMaxInterpreterDepth + 1; ++depth) {
    found.file = classify_memory_file(found.fd.get(), link, tid);
    if (runs_from_memory(found.file.kind, CodeUse::kExec, fuse_counts)) return found;
    if (found.file.kind == MemoryFileKind::kUnknown) {
      // Not even its type is known, let alone what it loads.
      unseen = unseen || !judged_when_loaded;
      return std::nullopt;
    }
    if (!may_name_another || !S_ISREG(found.file.st.st_mode)) return std::nullopt;
    UniqueFd readable = reopen_for_reading(found.fd.get());
    if (!readable.valid()) {
      unseen = true;
      return std::nullopt;
    }
    auto interpreter = program_interpreter(readable.get());
    if (!interpreter) return std::nullopt;
    // A script there would need a deeper interpreter: the kernel refuses the exec (ELOOP).
    if (interpreter->is_program && depth == kMaxInterpreterDepth) return std::nullopt;
    PathLookup lookup;
    lookup.tid = tid;
    lookup.path = interpreter->path;
    ResolvedPath next = resolve_caller_path(lookup);
    if (!next.file.valid()) {
      // The caller's lookup may reach a file where ours did not (FUSE), unless what the kernel
      // loads is judged then.
      unseen = next.in_fuse && !judged_when_loaded;
      return std::nullopt;  // else the kernel will fail to load it
    }
    found.fd = std::move(next.file);
    found.via = "interpreter";
    found.interpreter = std::move(interpreter->path);
    may_name_another = interpreter->is_program;
  }
  return std::nullopt;
}

}  // namespace

ExecJudgement judge_exec(const Policy& policy, MemfdLedger& ledger, const MemoryFile& file) {
  ExecJudgement judgement;
  judgement.allowed = policy.exec_allowed;
  if (served_by_fuse(file.kind)) {
    judgement.allowed = policy.fuse_exec_allowed;  // no memfd: no rule or ledger entry speaks
    return judgement;
  }
  ledger.drain();  // a dead memfd's entry must not answer for a new file with its inode number
  judgement.entry = ledger.find({file.st.st_dev, file.st.st_ino});
  if (judgement.entry != nullptr) judgement.allowed = judgement.entry->exec_allowed;
  return judgement;
}

void describe_exec_target(DecisionRecord& record, const Policy& policy, const MemoryFile& file,
                          const ExecJudgement& judgement) {
  record.technique = kFilelessTechnique;
  record.reason = served_by_fuse(file.kind) ? "fuse-exec" : "fileless-exec";
  record.file = memory_file_kind_name(file.kind);
  if (judgement.entry != nullptr) {
    record.name = judgement.entry->name();
    if (judgement.entry->rule) {
      record.rule_index = judgement.entry->rule;
      record.rule_id = policy.rules[*judgement.entry->rule].id;
    }
  } else if (file.kind == MemoryFileKind::kMemfd) {
    record.name = file.name;  // a memfd from outside the tree: the policy's exec setting decides
  }
}

void ExecCallHandler::handle(const TrappedRequest& request, CallChannel& channel) {
  bool at = request.syscall.call == TrappedCall::kExecveat;
  uint64_t path_address = request.args[at ? 1 : 0];
  int flags = at ? static_cast<int>(static_cast<uint32_t>(request.args[4])) : 0;

  NameRead path =
      read_target_string(channel.memory_reader(), request.tid, path_address, path_, sizeof(path_));
  // What the kernel would answer, answered here: passed through, the call would have the kernel
  // read the path again, which a racing thread may have made readable meanwhile (and under
  // ptrace, a page a frozen thread must fill would hold the caller, and the run, for ever).
  if (path.status == NameStatus::kFault || path.status == NameStatus::kTooLong) {
    answer(channel, path.status == NameStatus::kFault ? EFAULT : ENAMETOOLONG);
    return;
  }
  if (path.status == NameStatus::kUnreadable) {
    refuse_unseen(request, channel, {});
    return;
  }
  // A thread pidfd reaches the caller's fd table (execveat's dirfd); the caller is read (comm,
  // exe) only for a record.
  UniqueFd own_pidfd(sys::pidfd_open_flags(request.tid, PIDFD_THREAD));
  bool caller_read = false;
  if (!own_pidfd.valid()) {
    callers_.read(request.tid, caller_);
    caller_read = true;
  }
  PathLookup lookup;
  lookup.tid = request.tid;
  lookup.caller_pidfd =
      own_pidfd.valid() ? own_pidfd.get() : callers_.pidfd_for(request.tid, caller_, own_pidfd);
  lookup.dirfd = at ? static_cast<int>(static_cast<uint32_t>(request.args[0])) : AT_FDCWD;
  lookup.path = std::string_view(path_, path.length);
  lookup.follow_final = !(flags & kAtSymlinkNofollow);
  lookup.empty_path_is_dirfd = at && (flags & kAtEmptyPath);
  ResolvedPath resolved = resolve_caller_path(lookup);
  // The caller's root, working directory or fds closed to memfd-warden (a caller that made
  // itself non-dumpable, seen without CAP_SYS_PTRACE), or the program's file not readable to it
  // (its interpreter unknown): the file that would run is unknown, and the exec refused.
  // So is a path whose lookup failed in a FUSE filesystem: its server may answer the caller
  // otherwise (and a "..", a symlink, lead from there to a memory file), unless the backend
  // judges the program the kernel loads.
  bool unseen = resolved.caller_hidden || (resolved.in_fuse && !channel.judges_loaded_image());
  std::optional<Found> found;
  if (resolved.file.valid())
    found = find_memory_image(std::move(resolved.file), request.tid, link_, unseen,
                              channel.judges_loaded_image(), !policy_.fuse_exec_allowed);
  if (unseen) {
    refuse_unseen(request, channel, lookup.path);
    return;
  }
  if (!found) {
    // A program from a filesystem, or a path the kernel will refuse. No proof that the reads
    // were the caller's is needed to let it go: a caller whose thread id was reused is dead.
    channel.pass_through();
    return;
  }
  ExecJudgement judgement = judge_exec(policy_, ledger_, found->file);
  if (!caller_read) {
    // A refusal names the caller's executable; an allowed exec only when every record must.
    callers_.read(request.tid, caller_,
                  record_names_ || !judgement.allowed ? CallerReader::Names::kRead
                                                      : CallerReader::Names::kSkip);
  }
  // Everything above was read from the caller's /proc entries and fd table: its own only if it
  // is still waiting (no pid reuse).
  if (!channel.caller_waiting()) return;

  DecisionRecord record;
  record.syscall = trapped_call_name(request.syscall.call);
  record.abi = abi_name(request.syscall.abi);
  record.tid = request.tid;
  describe_caller(record, caller_, record_names_ || !judgement.allowed);
  describe_exec_target(record, policy_, found->file, judgement);
  record.path = lookup.path.empty() ? std::string_view() : lookup.path;
  if (found->via == std::string_view("interpreter")) record.path = found->interpreter;
  record.fd = lookup.empty_path_is_dirfd && lookup.path.empty() ? lookup.dirfd : -1;
  record.quota = ledger_.state();
  if (judgement.allowed) {
    audit_.write(record);
    channel.pass_through();
    return;
  }
  record.errno_value = EACCES;
  record.decision = dry_run_ ? Decision::kWouldDeny : Decision::kDeny;
  audit_.write(record);  // before the answer
  if (dry_run_) {
    channel.pass_through();
  } else {
    answer(channel, EACCES);
  }
}

void ExecCallHandler::answer(CallChannel& channel, int error) {
  if (int err = channel.fail(error); err != 0 && err != ENOENT) {
    spdlog::error("answering an exec: {}", std::strerror(err));
  }
}

void ExecCallHandler::refuse_unseen(const TrappedRequest& request, CallChannel& channel,
                                    std::string_view path) {
  callers_.read(request.tid, caller_);
  if (!channel.caller_waiting()) return;  // gone: nothing to refuse, and nobody to name
  DecisionRecord record;
  record.syscall = trapped_call_name(request.syscall.call);
  record.abi = abi_name(request.syscall.abi);
  record.tid = request.tid;
  describe_caller(record, caller_);
  record.reason = "target-unreadable";
  if (!path.empty()) record.path = path;
  record.errno_value = EACCES;
  record.decision = dry_run_ ? Decision::kWouldDeny : Decision::kDeny;
  record.quota = ledger_.state();
  audit_.write(record);  // before the answer
  if (dry_run_) {
    channel.pass_through();
  } else {
    answer(channel, EACCES);
  }
}

bool ExecCallHandler::refuse_new_image(pid_t pid) {
  TargetWait wait(pid);
  char path[64];
  std::snprintf(path, sizeof(path), "/proc/%d/exe", pid);
  UniqueFd exe(::open(path, O_PATH | O_CLOEXEC));
  if (!exe.valid() && (errno == EACCES || errno == EPERM)) {
    // A new image closed to us (not dumpable: a program we may not read, seen without
    // CAP_SYS_PTRACE): what runs is unknown, so it does not run.
    return kill_new_image(pid, nullptr);
  }
  std::optional<Found> found;
  if (exe.valid()) {
    Found program;
    program.file = classify_memory_file(exe.get(), link_, pid);
    program.fd = std::move(exe);
    if (runs_from_memory(program.file.kind, CodeUse::kExec, !policy_.fuse_exec_allowed))
      found = std::move(program);
  }
  if (!found) {
    // The loader (PT_INTERP) the kernel mapped beside the program: every executable file
    // mapping of the fresh image.
    ProcessMaps maps(pid);
    while (!found) {
      std::optional<Mapping> mapping = maps.next();
      if (!mapping) break;
      if (mapping->ino == 0 || !mapping->executable) continue;
      MemoryFile file = maps.file_of(*mapping, link_);
      if (!runs_from_memory(file.kind, CodeUse::kExec, !policy_.fuse_exec_allowed)) continue;
      Found loader;
      loader.file = file;
      loader.via = "interpreter";
      found = std::move(loader);
    }
  }
  if (!found) return false;
  ExecJudgement judgement = judge_exec(policy_, ledger_, found->file);
  if (judgement.allowed) return false;  // its exec was audited at the call
  return kill_new_image(pid, &found->file, &judgement);
}

bool ExecCallHandler::kill_new_image(pid_t pid, const MemoryFile* file,
                                     const ExecJudgement* judgement) {
  callers_.read(pid, caller_);
  DecisionRecord record;
  record.syscall = "execve";
  record.tid = pid;
  describe_caller(record, caller_);
  if (file != nullptr) {
    describe_exec_target(record, policy_, *file, *judgement);
    record.reason = served_by_fuse(file->kind) ? "fuse-exec-image" : "fileless-exec-image";
  } else {
    record.reason = "target-unreadable";
  }
  record.decision = dry_run_ ? Decision::kWouldKill : Decision::kKill;
  record.quota = ledger_.state();
  audit_.write(record);  // before the kill
  return !dry_run_;
}

}  // namespace warden
