#include "supervisor/calls/growth_call.h"

#include <fcntl.h>
#include <linux/falloc.h>
#include <spdlog/spdlog.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <charconv>
#include <cstdio>
#include <cstring>
#include <optional>
#include <string_view>

#include "supervisor/calls/carried_copy.h"
#include "supervisor/kernel/caller_creds.h"
#include "supervisor/kernel/inotify_limits.h"
#include "supervisor/kernel/kernel_abi.h"
#include "supervisor/kernel/memory_file.h"
#include "supervisor/kernel/mount_table.h"
#include "supervisor/kernel/path_resolver.h"
#include "supervisor/kernel/proc_status.h"
#include "supervisor/kernel/self_fd.h"
#include "supervisor/kernel/target_memory.h"
#include "supervisor/kernel/target_wait.h"
#include "supervisor/kernel/unique_fd.h"

namespace warden {
namespace {

// FMODE_WRITE, as the kernel's checks of a write, ftruncate and fallocate ask it, from a
// description's status flags: an access mode of O_WRONLY or O_RDWR (3, neither, opens a file for
// ioctls only).
bool open_for_writing(int status_flags) {
  int mode = status_flags & O_ACCMODE;
  return mode == O_WRONLY || mode == O_RDWR;
}

// The caller's RLIMIT_FSIZE (the kernel checks it for memfds too), or RLIM_INFINITY. prlimit()
// of another user's process takes CAP_SYS_RESOURCE, which even root may lack (a container's);
// /proc/TID/limits, readable by all, has the same figure. Past an unknown limit the call is
// carried out, and our own inherited limit, if lower, still fails it (EFBIG; SIGXFSZ is blocked
// in memfd-warden).
uint64_t fsize_limit(pid_t tid) {
  rlimit limit{};
  if (::prlimit(tid, RLIMIT_FSIZE, nullptr, &limit) == 0) return limit.rlim_cur;
  // "Max file size             unlimited            unlimited            bytes"
  char buffer[2048];
  auto line = proc_line(tid, "limits", "Max file size", buffer);
  if (!line) return RLIM_INFINITY;
  uint64_t soft = 0;
  auto [end, ec] = std::from_chars(line->data(), line->data() + line->size(), soft);
  return ec == std::errc() ? soft : RLIM_INFINITY;  // "unlimited" is no number
}

// How much of a write or copy of `length` bytes at `position` the caller's RLIMIT_FSIZE lets
// through, as the kernel cuts it: all of it, the part below the limit, or none at all past it:
// -EFBIG, with SIGXFSZ sent to the caller.
int64_t within_fsize_limit(pid_t tid, int pidfd, uint64_t position, uint64_t length) {
  uint64_t limit = fsize_limit(tid);
  if (length == 0 || position + length <= limit) return static_cast<int64_t>(length);
  if (position >= limit) {
    sys::pidfd_send_signal(pidfd, SIGXFSZ);
    return -EFBIG;
  }
  return static_cast<int64_t>(limit - position);
}

uint64_t charge_of(uint64_t size, uint64_t alloc_end) {
  return size > alloc_end ? size : alloc_end;
}

}  // namespace

struct GrowthCallHandler::Call {
  CallChannel& channel;
  TrappedSyscall syscall;
  GrowthArgs args;
  pid_t tid;
  int pidfd = -1;  // the CallerReader's, or own_pidfd
  UniqueFd own_pidfd;
  UniqueFd file;  // our reference to the caller's open file description
  struct stat st {};
  bool answered = false;  // by open_by_path, which left the call to nobody else
};

void GrowthCallHandler::respond(Call& call, int64_t result) {
  // Our file goes first: one we opened by the caller's path is open for writing, and until it
  // is closed the caller's next execve of that file would fail with ETXTBSY.
  call.file.reset();
  int err =
      result < 0 ? call.channel.fail(static_cast<int>(-result)) : call.channel.complete(result);
  if (err != 0 && err != ENOENT) {
    spdlog::error("answering {}: {}", trapped_call_name(call.syscall.call), std::strerror(err));
  }
}

void GrowthCallHandler::handle(const TrappedRequest& request, CallChannel& channel) {
  const TrappedSyscall& syscall = request.syscall;
  Call call{channel,     syscall, decode_growth_args(syscall.call, syscall.abi, request.args),
            request.tid, -1,      UniqueFd(),
            UniqueFd()};
  bool unreachable = false;
  call.pidfd = caller_pidfd(call.tid, syscall, channel, caller_, call.own_pidfd, unreachable);
  if (call.pidfd < 0) {
    if (unreachable) respond(call, -EPERM);  // fail closed, never an unchecked call
    return;
  }
  if (call.args.by_path) {
    // truncate(PATH): carried out here on the file the path reaches, opened as the caller would
    // open it, so that the kernel never looks the path up again (a second thread could point
    // it at a memfd after our check).
    int64_t error = open_by_path(call);
    if (error != 0) respond(call, error);
    if (error != 0 || call.answered) return;
  } else {
    // What the kernel answers before it looks the fd up: a negative size or position.
    bool negative =
        call.args.kind == GrowthKind::kFtruncate
            ? call.args.length < 0
            : call.args.kind == GrowthKind::kWrite && call.args.has_offset && call.args.offset < 0;
    if (negative) {
      respond(call, -EINVAL);
      return;
    }
    call.file = UniqueFd(sys::pidfd_getfd(call.pidfd, call.args.fd));
    if (!call.file.valid()) {
      // EBADF: no such fd, the kernel's own answer. Anything else: fail closed.
      respond(call, errno == EBADF ? -EBADF : -EPERM);
      return;
    }
  }
  // The cached attributes (a FUSE file of the caller's own is not asked): a memfd's are exact.
  if (!cached_fstat(call.file.get(), call.st)) {
    respond(call, -errno);
    return;
  }

  // Releases before this call count; and a dead memfd whose inode number was reused must be
  // gone from the ledger before we look the file up (and keep a reference to its entry).
  ledger_.drain();
  MemfdEntry* entry = ledger_.find({call.st.st_dev, call.st.st_ino});
  if (entry == nullptr) {
    char link[512];
    if (auto identity = memfd_identity(call.file.get(), link)) {
      // A memfd we did not create (passed in from outside the tree, or made before a restart):
      // from now on it is charged like ours, to no rule.
      entry = ledger_.track(call.file.get(), identity->name, identity->call, std::nullopt,
                            charge_of(static_cast<uint64_t>(call.st.st_size), 0));
      if (entry == nullptr) {
        spdlog::error("{}",
                      inotify_watch_error("cannot track a memfd passed into the tree").message());
        respond(call, -(call.args.kind == GrowthKind::kFtruncate ? policy_.quota.ftruncate_errno
                                                                 : policy_.quota.write_errno));
        return;
      }
    }
  }
  if (entry != nullptr) {
    handle_memfd(call, *entry);
    return;
  }
  // Not a memfd. ftruncate and fallocate are carried out on the description we examined, so a
  // swap of the fd number cannot send them elsewhere; writes to other files go on unchanged.
  if (call.args.kind == GrowthKind::kWrite) {
    if (int err = channel.pass_through(); err != 0 && err != ENOENT) {
      spdlog::error("continuing a write: {}", std::strerror(err));
    }
    return;
  }
  TargetWait wait(call.tid);  // another filesystem's file, which may be the caller's own (FUSE)
  respond(call, perform_resize(call));
}

int64_t GrowthCallHandler::open_by_path(Call& call) {
  TargetWait wait(call.tid);  // the caller's path and file
  char path[kMaxPath];
  NameRead read = read_target_string(call.channel.memory_reader(), call.tid, call.args.path, path,
                                     sizeof(path));
  if (read.status == NameStatus::kFault) return -EFAULT;
  if (read.status == NameStatus::kTooLong) return -ENAMETOOLONG;
  if (read.status != NameStatus::kOk) return -EPERM;  // we cannot read the caller: fail closed
  if (call.args.length < 0) return -EINVAL;           // checked after the copy, before the lookup
  // Search and write permission are the caller's, not ours.
  PathLookup lookup;
  lookup.tid = call.tid;
  lookup.caller_pidfd = call.pidfd;
  lookup.path = std::string_view(path, read.length);
  lookup.as_caller = true;
  // Before the lookup, which from outside a domain would answer what Landlock hides.
  if (answered_in_landlock(call.syscall, call.tid, call.channel, caller_, lookup.path)) {
    call.answered = true;
    return 0;
  }
  ResolvedPath resolved = resolve_caller_path(lookup);
  if (!resolved.file.valid()) return -resolved.error;
  struct stat st {};
  if (!cached_fstat(resolved.file.get(), st)) return -errno;
  if (S_ISDIR(st.st_mode)) return -EISDIR;
  if (!S_ISREG(st.st_mode)) return -EINVAL;
  SelfFdPath self(resolved.file.get());
  CallerCredsScope as_caller(call.tid);
  if (!as_caller.ok()) return -EPERM;
  // FUSE without allow_other would judge this thread's real and saved ids, which stay ours.
  if (as_caller.root_in_effect_only() && on_fuse_mount(resolved.file.get(), call.tid))
    return -EACCES;
  call.file = UniqueFd(::open(self.c_str(), O_WRONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK));
  if (!call.file.valid()) return -errno;
  // The lookup and the open used what /proc/TID said (root, cwd, credentials), read after the
  // pending check in handle(): the caller's only if it still waits now, before anything changes.
  if (!call.channel.caller_waiting()) return -EPERM;  // gone: nobody gets this answer
  return 0;
}

int64_t GrowthCallHandler::perform_resize(Call& call) {
  const GrowthArgs& args = call.args;
  uint64_t size = static_cast<uint64_t>(call.st.st_size);
  // An end past the largest offset is the kernel's EFBIG before any limit (vfs_fallocate).
  int64_t end = args.length;
  bool past_largest =
      args.kind != GrowthKind::kFtruncate && __builtin_add_overflow(args.offset, args.length, &end);
  bool grows = !past_largest && end > 0 && static_cast<uint64_t>(end) > size &&
               !(args.kind == GrowthKind::kFallocate && (args.mode & FALLOC_FL_KEEP_SIZE));
  if (grows && S_ISREG(call.st.st_mode) && static_cast<uint64_t>(end) > fsize_limit(call.tid)) {
    // What the kernel does past RLIMIT_FSIZE: SIGXFSZ to the caller, EFBIG from the call.
    sys::pidfd_send_signal(call.pidfd, SIGXFSZ);
    return -EFBIG;
  }
  std::optional<CallerCredsScope> caller;  // a set-ID file's bits are the kernel's to keep
  if (clears_setid_bits(call.st)) {
    caller.emplace(call.tid);
    if (!caller->ok()) return -EPERM;  // its credentials are gone with it
  }
  int rc = args.kind == GrowthKind::kFtruncate
               ? ::ftruncate(call.file.get(), args.length)
               : ::fallocate(call.file.get(), args.mode, args.offset, args.length);
  return rc == 0 ? 0 : -errno;
}

void GrowthCallHandler::handle_memfd(Call& call, MemfdEntry& entry) {
  const GrowthArgs& args = call.args;
  uint64_t size = static_cast<uint64_t>(call.st.st_size);
  // Catch up with growth we did not see (writes, when strict_writes is off): the booking follows
  // the file, not the other way round.
  uint64_t current = charge_of(size, entry.alloc_end);
  if (current != entry.charge) ledger_.recharge(entry, current);

  uint64_t new_alloc_end = entry.alloc_end;
  uint64_t new_size = size;
  uint64_t write_position = 0;
  TargetIovecs data;
  std::optional<CopySource> source;  // a copy memfd-warden carries out itself
  uint64_t copy_length = 0;
  std::optional<int> status_flags;  // the caller's description's (F_GETFL), once asked
  switch (args.kind) {
    case GrowthKind::kFtruncate:
      if (args.length >= 0) {
        new_size = static_cast<uint64_t>(args.length);
        // A size that does not grow frees what lies past it, KEEP_SIZE pages too; one that grows
        // frees nothing (shmem_setattr), and pages past the new end stay held.
        if (new_size <= size) new_alloc_end = std::min(entry.alloc_end, new_size);
      }
      break;
    case GrowthKind::kFallocate:
      // A memfd (shmem, hugetlbfs) takes no mode but KEEP_SIZE and PUNCH_HOLE; an end past the
      // largest offset is the kernel's EFBIG. Neither grows anything.
      if (args.offset >= 0 && args.length > 0 && (args.mode & ~FALLOC_FL_KEEP_SIZE) == 0 &&
          args.length <= INT64_MAX - args.offset) {
        uint64_t end = static_cast<uint64_t>(args.offset) + static_cast<uint64_t>(args.length);
        new_alloc_end = std::max(entry.alloc_end, end);
        if (!(args.mode & FALLOC_FL_KEEP_SIZE)) new_size = std::max(size, end);
      }
      break;
    case GrowthKind::kWrite: {
      // The kernel's first check of a write (vfs_write, vfs_writev), a write of nothing included:
      // the caller's description must be open for writing.
      status_flags = ::fcntl(call.file.get(), F_GETFL);
      if (args.emulated && !open_for_writing(*status_flags)) {
        respond(call, -EBADF);
        return;
      }
      if ((args.rwf_flags & kRwfAppend) && (args.rwf_flags & kRwfNoAppend)) {
        respond(call, -EINVAL);  // as the kernel answers both at once
        return;
      }
      bool append = ((*status_flags & O_APPEND) && !(args.rwf_flags & kRwfNoAppend)) ||
                    (args.rwf_flags & kRwfAppend);
      if (args.emulated) {
        data = read_target_iovecs(call.channel.memory_reader(), call.tid, args);
        if (data.error != 0) {
          respond(call, -data.error);
          return;
        }
        write_position = append ? size
                         : args.has_offset
                             ? static_cast<uint64_t>(args.offset)
                             : static_cast<uint64_t>(::lseek(call.file.get(), 0, SEEK_CUR));
        if (args.has_offset && args.offset < 0) {
          respond(call, -EINVAL);
          return;
        }
        if (data.total > 0) new_size = std::max(size, write_position + data.total);
      } else {
        // sendfile / splice / copy_file_range: at most `length` bytes (a size_t) at the
        // destination's position (or *off_out). See docs/memory-quotas.md.
        bool splice = call.syscall.call == TrappedCall::kSplice;
        if (splice && args.length == 0) {
          // The kernel answers a splice of nothing with 0 before it looks at anything.
          if (int err = call.channel.pass_through(); err != 0 && err != ENOENT) {
            spdlog::error("continuing a splice: {}", std::strerror(err));
          }
          return;
        }
        write_position =
            append ? size : static_cast<uint64_t>(::lseek(call.file.get(), 0, SEEK_CUR));
        if (args.out_offset_pointer != 0) {
          int64_t off = 0;
          if (read_target_memory(call.channel.memory_reader(), call.tid, args.out_offset_pointer,
                                 &off, sizeof(off)) != sizeof(off)) {
            respond(call, -EFAULT);
            return;
          }
          if (off < 0) {
            respond(call, -EINVAL);
            return;
          }
          write_position = static_cast<uint64_t>(off);
        }
        copy_length = static_cast<uint64_t>(args.length);
        if (splice && (static_cast<int64_t>(copy_length) < 0 ||
                       static_cast<int64_t>(write_position + copy_length) < 0)) {
          respond(call, -EINVAL);  // the kernel's check of a length past any offset
          return;
        }
        if (may_carry_out(call.syscall.call)) {
          CopySourceLookup lookup =
              open_copy_source(call.syscall.call, args, call.pidfd, call.channel.memory_reader(),
                               call.tid, write_position, copy_length);
          if (lookup.error != 0) {
            respond(call, -lookup.error);
            return;
          }
          source = std::move(lookup.source);
          if (source) copy_length = source->bound;
        }
        if (copy_length > 0) {
          uint64_t end = write_position + copy_length;
          new_size = std::max(size, end < write_position ? UINT64_MAX : end);
        }
      }
      break;
    }
  }
  // A call the kernel refuses whatever the quota says grows nothing, and gets the kernel's own
  // answer when it is carried out: not a quota's refusal (review: a growing ftruncate of a
  // read-only description got EFBIG where natively EINVAL, a write past a memfd sealed against
  // growth ENOSPC where natively EPERM). What decides it cannot change meanwhile: a
  // description's access mode is fixed, and a seal is never taken off.
  if (new_size > size || new_alloc_end > entry.alloc_end) {
    if (!status_flags) status_flags = ::fcntl(call.file.get(), F_GETFL);
    bool read_only = !open_for_writing(*status_flags);
    int seals = ::fcntl(call.file.get(), F_GET_SEALS);
    bool sealed_grow = seals > 0 && (seals & F_SEAL_GROW);
    bool sealed_write = seals > 0 && (seals & (F_SEAL_WRITE | F_SEAL_FUTURE_WRITE));
    bool refused = args.kind == GrowthKind::kWrite ? args.emulated && (sealed_write || sealed_grow)
                                                   : read_only || sealed_grow;
    if (refused) {
      new_size = size;
      new_alloc_end = entry.alloc_end;
    }
  }
  uint64_t new_charge = charge_of(new_size, new_alloc_end);

  DecisionRecord record;
  record.syscall = trapped_call_name(call.syscall.call);
  record.abi = abi_name(call.syscall.abi);
  record.tid = call.tid;
  if (entry.call == CreateCall::kMemfdCreate) record.name = entry.name();
  record.fd = args.fd;
  record.charge = ChargeChange{entry.charge, new_charge};

  Verdict verdict =
      decide_growth(policy_, {args.kind, entry.charge, new_charge, entry.rule}, ledger_.state());
  record.reason = reason_name(verdict.reason);
  record.rule_index = verdict.rule_index;
  if (verdict.rule_index) record.rule_id = policy_.rules[*verdict.rule_index].id;
  record.quota = ledger_.state();
  if (verdict.action != Action::kAllow) {
    record.errno_value = verdict.errno_value;
    record.decision = dry_run_ ? Decision::kWouldDeny : Decision::kDeny;
    // A refusal names the caller: read now, they are its own only if it still waits.
    if (!caller_.names_read) {
      callers_.read_names(call.tid, caller_);
      if (!call.channel.caller_waiting()) return;
    }
  }
  describe_caller(record, caller_);
  // Recorded before it takes effect: before the resize or write, and before the answer.
  audit_.write(record);
  if (verdict.action != Action::kAllow && !dry_run_) {
    respond(call, -verdict.errno_value);
    return;
  }

  // On the kernel's shmem mount our own work is memory's, however long it takes. A hugetlbfs
  // memfd, or a file that only names itself like one (passed in; a FUSE file at the root of a
  // mount namespace of the target's), is marked as a wait on the target.
  std::optional<TargetWait> wait;
  if (!on_kernel_shmem_mount(call.file.get())) wait.emplace(call.tid);
  int64_t result = 0;
  if (args.kind != GrowthKind::kWrite) {
    result = perform_resize(call);
  } else if (args.emulated) {
    int64_t allowed = within_fsize_limit(call.tid, call.pidfd, write_position, data.total);
    if (allowed < 0) {
      respond(call, allowed);
      return;
    }
    if (static_cast<uint64_t>(allowed) < data.total) {
      uint64_t keep = static_cast<uint64_t>(allowed);
      for (auto& segment : data.segments) {
        segment.iov_len = std::min<uint64_t>(segment.iov_len, keep);
        keep -= segment.iov_len;
      }
    }
    // On the caller's description, each piece at the position booked whatever O_APPEND says by
    // then (EmulatedWriter::write): whether the write appends was read above, once, as the
    // kernel reads it.
    result = writer_.write(call.tid, call.channel, call.file.get(), data, write_position,
                           args.rwf_flags & ~kRwfAppend, clears_setid_bits(call.st));
    if (result > 0 && !args.has_offset) {
      // write/writev (and pwritev2 at -1) move the file position, as the kernel would.
      ::lseek(call.file.get(), static_cast<off_t>(write_position + static_cast<uint64_t>(result)),
              SEEK_SET);
    }
  } else if (source) {
    int64_t allowed = within_fsize_limit(call.tid, call.pidfd, write_position, copy_length);
    if (allowed < 0) {
      respond(call, allowed);
      return;
    }
    result = carry_out_copy(call.syscall.call, args, *source, call.file.get(), write_position,
                            static_cast<uint64_t>(allowed), call.channel, call.tid,
                            clears_setid_bits(call.st));
  } else {
    // Booked at the bound before it runs: the kernel's result is not seen, and a target that
    // never touches this memfd again would otherwise hold it uncounted. The next checked call
    // on it books what it really holds (the catch-up above).
    ledger_.recharge(entry, new_charge);
    if (int err = call.channel.pass_through(); err != 0 && err != ENOENT) {
      spdlog::error("continuing a write: {}", std::strerror(err));
    }
    return;
  }

  // Book what the file holds now (a refused or short operation books less than decided).
  struct stat after {};
  if (::fstat(call.file.get(), &after) == 0) {
    if (args.kind == GrowthKind::kFtruncate && result == 0) entry.alloc_end = new_alloc_end;
    if (args.kind == GrowthKind::kFallocate && result == 0) entry.alloc_end = new_alloc_end;
    ledger_.recharge(entry, charge_of(static_cast<uint64_t>(after.st_size), entry.alloc_end));
  }
  respond(call, result);
}

}  // namespace warden
