#include "supervisor/backends/notify_channel.h"

#include <fcntl.h>
#include <sys/fsuid.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>

#include "policy/memfd_flags.h"
#include "supervisor/kernel/noexec_seal.h"
#include "supervisor/kernel/unique_fd.h"

namespace warden {
namespace {

// Our own memfd for the caller: same name and flags, owned by the caller's filesystem ids (a
// root supervisor would otherwise hand a non-root target a file it does not own).
int create_memfd(const MemfdSpec& spec) {
  // Our own ids never change while we run.
  static const uid_t own_uid = ::geteuid();
  static const gid_t own_gid = ::getegid();
  bool switch_creds = spec.have_creds && (spec.fsuid != own_uid || spec.fsgid != own_gid);
  uid_t old_uid = 0;
  gid_t old_gid = 0;
  if (switch_creds) {
    // Group first: once fsuid is not 0 we may no longer be allowed to change fsgid.
    old_gid = static_cast<gid_t>(::setfsgid(spec.fsgid));
    old_uid = static_cast<uid_t>(::setfsuid(spec.fsuid));
  }
  int fd = spec.call == CreateCall::kMemfdSecret
               ? static_cast<int>(::syscall(SYS_memfd_secret, spec.flags))
               : ::memfd_create(spec.name, sealed_flags(spec.flags, spec.seal_noexec));
  int saved = errno;
  if (switch_creds) {
    ::setfsuid(old_uid);
    ::setfsgid(old_gid);
  }
  errno = saved;
  return fd;
}

}  // namespace

int NotifyChannel::deliver_memfd(const MemfdSpec& requested,
                                 const std::function<bool(int)>& on_created) {
  MemfdSpec spec = requested;
  // The kernel would complete the flags from the caller's namespace, not ours: MFD_EXEC or
  // MFD_NOEXEC_SEAL made explicit here leaves ours no say (a descendant namespace's value is never
  // below its parent's, so ours cannot be stricter). The pid read is the caller's while its
  // notification is pending, which the ADDFD below proves. Read even for a memfd we seal
  // anyway: an implied MFD_NOEXEC_SEAL also leaves the memfd open to seals.
  if (spec.call == CreateCall::kMemfdCreate && !(spec.flags & kMfdNoexecSeal) &&
      kernel_has_noexec_seal()) {
    if (int err = apply_noexec_scope(&spec.flags, scopes_.scope_of(caller_, spec.pid_ns)); err != 0) {
      return notify_.id_valid(id_) ? -err : -ENOENT;
    }
  }
  UniqueFd memfd(create_memfd(spec));
  // The kernel itself refused (hugetlb without pages, ENFILE ...): the caller gets what it would
  // have got without us.
  if (!memfd.valid()) return -errno;
  if (int err = restore_seal_policy(memfd.get(), spec.flags, spec.seal_noexec); err != 0) {
    return -err;
  }
  if (!on_created(memfd.get())) return -EPERM;
  bool cloexec = spec.call == CreateCall::kMemfdSecret ? (spec.flags & O_CLOEXEC) != 0
                                                       : (spec.flags & kMfdCloexec) != 0;
  // Our copy closes on return, whatever happened: the ledger watches the file, it does not
  // hold it. On ENOENT nothing reached the caller, and a restarted call comes back as a new
  // notification.
  return notify_.install_and_respond(id_, memfd.get(), cloexec);
}

TrappedRequest request_from_notification(const seccomp_notif& notif, const TrappedSyscall& call) {
  TrappedRequest request;
  request.tid = static_cast<pid_t>(notif.pid);
  request.syscall = call;
  request.args = kernel_args(call, notif.data.args);
  return request;
}

}  // namespace warden
