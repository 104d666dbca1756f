#include "supervisor/calls/exec_map_call.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/mman.h>
#include <sys/personality.h>
#include <sys/shm.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>

#include "supervisor/calls/exec_call.h"
#include "supervisor/kernel/kernel_abi.h"
#include "supervisor/kernel/memory_file.h"
#include "supervisor/kernel/process_maps.h"
#include "supervisor/kernel/target_wait.h"
#include "supervisor/kernel/unique_fd.h"

namespace warden {
namespace {

// The caller's persona has READ_IMPLIES_EXEC (then PROT_READ maps executable).
bool reads_imply_exec(pid_t tid) {
  char path[64], text[32] = {};
  std::snprintf(path, sizeof(path), "/proc/%d/personality", tid);
  UniqueFd fd(::open(path, O_RDONLY | O_CLOEXEC));
  if (!fd.valid() || ::read(fd.get(), text, sizeof(text) - 1) <= 0) return true;  // assume so
  return (std::strtoul(text, nullptr, 16) & READ_IMPLIES_EXEC) != 0;
}

// i386 old_mmap: struct mmap_arg_struct { u32 addr, len, prot, flags, fd, offset; } in memory.
bool read_old_mmap_args(MemoryReader reader, pid_t tid, uint64_t address, uint32_t (&args)[6]) {
  return read_target_memory(reader, tid, address, args, sizeof(args)) ==
         static_cast<ssize_t>(sizeof(args));
}

}  // namespace

void ExecMapCallHandler::refuse_unseen(const TrappedRequest& request, CallChannel& channel,
                                       DecisionRecord& record) {
  callers_.read(request.tid, caller_);
  if (!channel.caller_waiting()) return;
  describe_caller(record, caller_);
  record.reason = "target-unreadable";
  refuse(channel, record, EACCES, false);
}

void ExecMapCallHandler::refuse(CallChannel& channel, DecisionRecord& record, int error,
                                bool fileless) {
  record.errno_value = error;
  record.decision = dry_run_ ? Decision::kWouldDeny : Decision::kDeny;
  if (fileless) record.technique = kFilelessTechnique;
  record.quota = ledger_.state();
  audit_.write(record);  // before the answer
  if (dry_run_) {
    channel.pass_through();
  } else if (int err = channel.fail(error); err != 0 && err != ENOENT) {
    spdlog::error("refusing {}: {}", record.syscall, std::strerror(err));
  }
}

void ExecMapCallHandler::handle(const TrappedRequest& request, CallChannel& channel) {
  TrappedCall call = request.syscall.call;
  bool compat = request.syscall.abi != Abi::kX86_64;
  DecisionRecord record;
  record.syscall = trapped_call_name(call);
  record.abi = abi_name(request.syscall.abi);
  record.tid = request.tid;

  if (call == TrappedCall::kPersonality) {
    auto persona = static_cast<uint32_t>(request.args[0]);  // the kernel takes an unsigned int
    if (persona == 0xffffffffu || !(persona & READ_IMPLIES_EXEC)) {
      channel.pass_through();  // a query, or a persona that changes nothing we check
      return;
    }
    callers_.read(request.tid, caller_);
    if (!channel.caller_waiting()) return;
    describe_caller(record, caller_);
    record.prot = persona;
    record.reason = "read-implies-exec";
    refuse(channel, record, EPERM);
    return;
  }
  if (call == TrappedCall::kShmat) {
    if (!(request.args[2] & SHM_EXEC)) {
      channel.pass_through();
      return;
    }
    callers_.read(request.tid, caller_);
    if (!channel.caller_waiting()) return;
    describe_caller(record, caller_);
    record.prot = request.args[2];
    record.reason = "shm-exec";
    record.file = "sysv-shm";
    refuse(channel, record, EACCES);
    return;
  }

  uint64_t prot = request.args[2];
  uint64_t flags = request.args[3];
  int fd = static_cast<int>(static_cast<uint32_t>(request.args[4]));
  // i386 old_mmap: what was checked is what runs, as mmap2 with these in registers (the kernel
  // would read the caller's memory again).
  std::optional<std::array<uint64_t, 6>> old_mmap;
  auto let_through = [&] {
    if (old_mmap) {
      channel.pass_through_as_mmap2(*old_mmap);
    } else {
      channel.pass_through();
    }
  };
  if (call == TrappedCall::kMmap && request.syscall.abi == Abi::kI386) {
    uint32_t old[6];
    if (!read_old_mmap_args(channel.memory_reader(), request.tid, request.args[0] & 0xffffffffu,
                            old)) {
      // The kernel's answer, given here: passed through, the call would read them again.
      channel.fail(EFAULT);
      return;
    }
    if (old[5] % 4096 != 0) {
      channel.fail(EINVAL);  // old_mmap's own answer to an offset within a page
      return;
    }
    old_mmap = std::array<uint64_t, 6>{old[0], old[1], old[2], old[3], old[4], old[5] / 4096};
    prot = old[2];
    flags = old[3];
    fd = static_cast<int>(old[4]);
  }
  bool mapping = call == TrappedCall::kMmap || call == TrappedCall::kMmap2;
  bool executable =
      (prot & PROT_EXEC) || (compat && (prot & PROT_READ) && reads_imply_exec(request.tid));
  if (!executable || (mapping && (flags & MAP_ANONYMOUS))) {
    let_through();
    return;
  }
  record.prot = prot;
  if (mapping) {
    // Every library a program loads comes through here: only the fd is looked at unless it
    // names a memory file. Reached as /proc/TID/fd/N, O_PATH: a description of our own, which
    // no filesystem opens or flushes. (A copy of the caller's, closed, would send a FUSE server
    // a flush; under ptrace the tree is frozen here, the server with it, and the close waited
    // for good.)
    char path[64];
    std::snprintf(path, sizeof(path), "/proc/%d/fd/%d", request.tid, fd);
    UniqueFd file(::open(path, O_PATH | O_CLOEXEC));
    if (!file.valid() && (errno == EPERM || errno == EACCES)) {
      record.fd = fd;
      refuse_unseen(request, channel, record);  // the caller's fds are closed to us
      return;
    }
    MemoryFile memory;
    if (file.valid()) {
      TargetWait wait(request.tid);  // the walk of the file's name (an NFS directory may stall)
      memory = classify_memory_file(file.get(), link_, request.tid);
    }
    if (!runs_from_memory(memory.kind, CodeUse::kMapFile, !policy_.fuse_exec_allowed)) {
      // No such fd (the kernel answers EBADF), or an ordinary file. Nothing here needs proof
      // that the thread id named the caller: a caller whose thread id was reused is dead, and
      // its call can go nowhere.
      let_through();
      return;
    }
    ExecJudgement judgement = judge_exec(policy_, ledger_, memory);
    // A refusal names the caller's executable; an allowed mapping only when every record must.
    callers_.read(request.tid, caller_,
                  record_names_ || !judgement.allowed ? CallerReader::Names::kRead
                                                      : CallerReader::Names::kSkip);
    if (!channel.caller_waiting()) return;  // proves the fd, and the reads, were the caller's
    describe_caller(record, caller_, record_names_ || !judgement.allowed);
    describe_exec_target(record, policy_, memory, judgement);
    record.fd = fd;
    if (judgement.allowed) {
      record.quota = ledger_.state();
      audit_.write(record);
      let_through();
      return;
    }
    refuse(channel, record, EACCES);
    return;
  }
  // mprotect, pkey_mprotect: the kernel changes whole pages from the start's page on.
  uint64_t start = request.args[0];
  uint64_t length = compat ? (request.args[1] & 0xffffffffu) : request.args[1];
  RangeCheck range = check_range(request.tid, start, length, record);
  if (range == RangeCheck::kClear) {
    channel.pass_through();
    return;
  }
  if (range == RangeCheck::kUnseen) {
    refuse_unseen(request, channel, record);
    return;
  }
  callers_.read(request.tid, caller_);
  if (!channel.caller_waiting()) return;
  describe_caller(record, caller_);
  refuse(channel, record, EACCES);
}

ExecMapCallHandler::RangeCheck ExecMapCallHandler::check_range(pid_t tid, uint64_t start,
                                                               uint64_t length,
                                                               DecisionRecord& record) {
  TargetWait wait(tid);  // opening the mapped files
  uint64_t page = static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
  uint64_t end = start + ((length + page - 1) & ~(page - 1));
  if (end < start) return RangeCheck::kClear;  // the kernel refuses a wrapping range itself
  ProcessMaps maps(tid);
  if (!maps.valid()) {
    // Gone (its call goes nowhere), or closed to us.
    return errno == EACCES || errno == EPERM ? RangeCheck::kUnseen : RangeCheck::kClear;
  }
  while (std::optional<Mapping> mapping = maps.next()) {
    if (mapping->end <= start) continue;
    if (mapping->start >= end) break;  // maps are in address order
    if (mapping->ino == 0) continue;   // anonymous memory
    MemoryFile memory = maps.file_of(*mapping, link_);
    if (!runs_from_memory(memory.kind, CodeUse::kProtectRange, !policy_.fuse_exec_allowed)) {
      continue;
    }
    ExecJudgement judgement = judge_exec(policy_, ledger_, memory);
    if (judgement.allowed) continue;
    describe_exec_target(record, policy_, memory, judgement);
    return RangeCheck::kRefused;
  }
  return RangeCheck::kClear;
}

}  // namespace warden
