#include "supervisor/calls/xattr_call.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <sys/xattr.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <optional>
#include <string_view>

#include "supervisor/calls/audit_log.h"
#include "supervisor/calls/memfd_ledger.h"
#include "supervisor/kernel/caller_creds.h"
#include "supervisor/kernel/kernel_abi.h"
#include "supervisor/kernel/memory_file.h"
#include "supervisor/kernel/mount_table.h"
#include "supervisor/kernel/path_resolver.h"
#include "supervisor/kernel/posix_acl_ids.h"
#include "supervisor/kernel/self_fd.h"
#include "supervisor/kernel/target_memory.h"
#include "supervisor/kernel/target_wait.h"
#include "supervisor/kernel/unique_fd.h"

namespace warden {
namespace {

constexpr const char* kReason = "memfd-xattr";

// /proc/TID/uid_map or gid_map, as memfd-warden's namespace numbers the outside ids.
IdMap read_id_map(pid_t tid, const char* which) {
  char path[64];
  std::snprintf(path, sizeof(path), "/proc/%d/%s", tid, which);
  UniqueFd fd(::open(path, O_RDONLY | O_CLOEXEC));
  // 340 lines at most, the kernel's limit, of up to 33 bytes each.
  char text[340 * 33];
  size_t length = 0;
  for (ssize_t got = 0; fd.valid() && length < sizeof(text); length += static_cast<size_t>(got)) {
    got = ::read(fd.get(), text + length, sizeof(text) - length);
    if (got <= 0) break;
  }
  return parse_id_map(std::string_view(text, length));
}

}  // namespace

struct XattrCallHandler::Call {
  Call(CallChannel& c, const TrappedRequest& r) : channel(c), request(r), tid(r.tid) {}
  CallChannel& channel;
  const TrappedRequest& request;
  pid_t tid;
  uint64_t path = 0;  // setxattr, lsetxattr: the file is named by this path ...
  int fd = -1;        // ... fsetxattr: by this fd
  bool follow = true;
  uint64_t name_pointer = 0;
  uint64_t value_pointer = 0;
  uint64_t size = 0;
  int flags = 0;
  int pidfd = -1;  // the CallerReader's, or own_pidfd
  UniqueFd own_pidfd;
  UniqueFd file;  // ours: the caller's description, or O_PATH on the path's file
  bool by_path = false;
  std::string_view name;       // into name_
  char path_text[kMaxPath]{};  // the path as the caller gave it (for the record)
  size_t path_length = 0;
};

XattrCallHandler::XattrCallHandler(const HandlerContext& context) : CallHandler(context) {
  value_.resize(XATTR_SIZE_MAX);
}

void XattrCallHandler::respond(Call& call, int result) {
  int err = result < 0 ? call.channel.fail(-result) : call.channel.complete(0);
  if (err != 0 && err != ENOENT) {
    spdlog::error("answering {}: {}", trapped_call_name(call.request.syscall.call),
                  std::strerror(err));
  }
}

void XattrCallHandler::handle(const TrappedRequest& request, CallChannel& channel) {
  Call call(channel, request);
  const auto& a = request.args;
  switch (request.syscall.call) {
    case TrappedCall::kSetxattr:
    case TrappedCall::kLsetxattr:
      call.path = a[0];
      call.follow = request.syscall.call == TrappedCall::kSetxattr;
      call.by_path = true;
      break;
    case TrappedCall::kFsetxattr:
      call.fd = static_cast<int>(a[0]);
      // The kernel takes fsetxattr(AT_FDCWD, ...) as the working directory (path_setxattrat).
      call.by_path = call.fd == AT_FDCWD;
      break;
    default:
      // setxattrat: refused whole (its arguments in a struct of a size the caller chooses).
      refuse_on_memfd(call, std::nullopt);
      return;
  }
  call.name_pointer = a[1];
  call.value_pointer = a[2];
  // size_t: 32 bits on i386, whose arguments arrive zero-extended.
  call.size = a[3];
  call.flags = static_cast<int>(a[4]);

  bool unreachable = false;
  call.pidfd =
      caller_pidfd(call.tid, request.syscall, channel, caller_, call.own_pidfd, unreachable);
  if (call.pidfd < 0) {
    if (unreachable) respond(call, -EPERM);  // fail closed, never an unchecked call
    return;
  }
  if (int error = read_attribute(call); error != 0) {
    respond(call, error);
    return;
  }
  if (int error = read_path(call); error != 0) {
    respond(call, error);
    return;
  }
  // Before the lookup, which from outside a domain would answer what Landlock hides (whether a
  // name exists, what kind of file it is, in another process's /proc/PID/fd, cwd and root).
  if (answered_in_landlock(call)) return;
  if (int error = reach_file(call); error != 0) {
    respond(call, error);
    return;
  }
  // Every file of the kernel's own shmem mount, whose attributes no mount limit bounds either:
  // the memfds, and the files behind shared anonymous mappings and System V segments (reached
  // through /proc/PID/map_files).
  char link[512];
  auto memfd = memfd_identity(call.file.get(), link);
  if (memfd || on_kernel_shmem_mount(call.file.get())) {
    refuse_on_memfd(call, memfd ? std::optional(memfd->name) : std::nullopt);
    return;
  }
  respond(call, set_as_caller(call));
}

bool XattrCallHandler::answered_in_landlock(Call& call) {
  // A path of the caller's; not fsetxattr's AT_FDCWD, the caller's own working directory.
  return call.by_path && call.fd != AT_FDCWD &&
         CallHandler::answered_in_landlock(call.request.syscall, call.tid, call.channel, caller_,
                                           std::string_view(call.path_text, call.path_length));
}

int XattrCallHandler::read_attribute(Call& call) {
  TargetWait wait(call.tid);  // the caller's memory
  MemoryReader reader = call.channel.memory_reader();
  if (call.flags & ~(XATTR_CREATE | XATTR_REPLACE)) return -EINVAL;
  NameRead name =
      read_target_string(reader, call.tid, call.name_pointer, name_.data(), name_.size());
  if (name.status == NameStatus::kFault) return -EFAULT;
  if (name.status == NameStatus::kTooLong || (name.status == NameStatus::kOk && name.length == 0))
    return -ERANGE;
  if (name.status != NameStatus::kOk) return -EPERM;  // we cannot read the caller: fail closed
  call.name = std::string_view(name_.data(), name.length);
  if (call.size == 0) return 0;
  if (call.size > XATTR_SIZE_MAX) return -E2BIG;
  ssize_t got = read_target_memory(reader, call.tid, call.value_pointer, value_.data(), call.size);
  if (got == -EIO || got == -EFAULT || (got >= 0 && static_cast<uint64_t>(got) < call.size)) {
    return -EFAULT;
  }
  return got < 0 ? -EPERM : 0;
}

int XattrCallHandler::read_path(Call& call) {
  if (!call.by_path || call.fd == AT_FDCWD) return 0;
  TargetWait wait(call.tid);  // the caller's memory
  NameRead read = read_target_string(call.channel.memory_reader(), call.tid, call.path,
                                     call.path_text, sizeof(call.path_text));
  if (read.status == NameStatus::kFault) return -EFAULT;
  if (read.status == NameStatus::kTooLong) return -ENAMETOOLONG;
  if (read.status != NameStatus::kOk) return -EPERM;  // we cannot read the caller: fail closed
  call.path_length = read.length;
  return 0;
}

int XattrCallHandler::reach_file(Call& call) {
  if (!call.by_path) {
    call.file = UniqueFd(sys::pidfd_getfd(call.pidfd, call.fd));
    // EBADF: no such fd, the kernel's own answer. Anything else: fail closed.
    if (!call.file.valid()) return errno == EBADF ? -EBADF : -EPERM;
    int status = ::fcntl(call.file.get(), F_GETFL);
    if (status < 0) return -EPERM;
    if (status & O_PATH) return -EBADF;  // the kernel takes no O_PATH fd here
    return 0;
  }
  TargetWait wait(call.tid);  // the filesystems the path passes
  PathLookup lookup;
  lookup.empty_path_is_dirfd = call.fd == AT_FDCWD;  // no path: the working directory itself
  // Searched with the caller's credentials: the kernel's lookup would be the caller's.
  lookup.tid = call.tid;
  lookup.caller_pidfd = call.pidfd;
  lookup.path = std::string_view(call.path_text, call.path_length);
  lookup.follow_final = call.follow;
  lookup.final_link_itself = true;
  lookup.as_caller = true;
  ResolvedPath resolved = resolve_caller_path(lookup);
  if (!resolved.file.valid()) return -resolved.error;
  call.file = std::move(resolved.file);
  return 0;
}

int XattrCallHandler::set_as_caller(Call& call) {
  // An ACL names users and groups as the caller's namespace numbers them (posix_acl_ids.h).
  if (call.size > 0 && is_posix_acl_name(call.name) && !in_our_user_namespace(call.tid)) {
    map_acl_ids(value_.data(), call.size, read_id_map(call.tid, "uid_map"),
                read_id_map(call.tid, "gid_map"));
  }
  TargetWait wait(call.tid);  // a file of the caller's own FUSE server
  CallerCredsScope as_caller(call.tid);
  if (!as_caller.ok()) return -EPERM;
  // FUSE without allow_other would judge this thread's real and saved ids, which stay ours.
  if (as_caller.root_in_effect_only() && on_fuse_mount(call.file.get(), call.tid)) return -EACCES;
  // The credentials just taken on were the caller's only if it still waits (no reused tid).
  if (!call.channel.caller_waiting()) return -ESRCH;
  const void* value = call.size == 0 ? nullptr : value_.data();
  // An O_PATH fd of ours takes no fsetxattr; its /proc/self/fd link reaches the very file the
  // lookup found (a symlink itself, for lsetxattr), not a name.
  int rc = call.by_path ? ::setxattr(SelfFdPath(call.file.get()).c_str(), name_.data(), value,
                                     call.size, call.flags)
                        : ::fsetxattr(call.file.get(), name_.data(), value, call.size, call.flags);
  return rc == 0 ? 0 : -errno;
}

void XattrCallHandler::refuse_on_memfd(Call& call, std::optional<std::string_view> memfd_name) {
  bool at = call.request.syscall.call == TrappedCall::kSetxattrat;
  int error = at ? ENOSYS : EOPNOTSUPP;
  DecisionRecord record;
  record.syscall = trapped_call_name(call.request.syscall.call);
  record.abi = abi_name(call.request.syscall.abi);
  record.tid = call.tid;
  record.name = memfd_name;
  record.fd = call.fd;
  if (call.by_path) record.path = std::string_view(call.path_text, call.path_length);
  record.decision = dry_run_ ? Decision::kWouldDeny : Decision::kDeny;
  record.errno_value = error;
  record.reason = kReason;
  record.quota = ledger_.state();
  // A refusal names the caller: read now, they are its own only if it still waits.
  if (at) {
    callers_.read(call.tid, caller_, CallerReader::Names::kRead);
  } else if (!caller_.names_read) {
    callers_.read_names(call.tid, caller_);
  }
  describe_caller(record, caller_);
  if (!call.channel.caller_waiting()) return;
  audit_.write(record);  // before the answer
  if (!dry_run_) {
    respond(call, -error);
  } else if (at) {
    call.channel.pass_through();
  } else {
    respond(call, set_as_caller(call));
  }
}

}  // namespace warden
