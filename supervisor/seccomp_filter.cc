#include "supervisor/seccomp_filter.h"

#include <linux/seccomp.h>
#include <seccomp.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <memory>
#include <set>
#include <string>

#include "supervisor/trapped_syscalls.h"
#include "supervisor/unique_fd.h"

namespace warden {
namespace {

struct CtxRelease {
  void operator()(scmp_filter_ctx ctx) const { seccomp_release(ctx); }
};
using FilterCtx = std::unique_ptr<void, CtxRelease>;

// libseccomp's calls return -errno.
Error lib_error(int rc, const char* what) { return Error{-rc, what}; }

}  // namespace

Result<BpfProgram> build_filter(TrapAction action, TrapSet traps) {
  FilterCtx ctx(seccomp_init(SCMP_ACT_ALLOW));
  if (!ctx) return Error{ENOMEM, "seccomp_init"};
  int rc = seccomp_attr_set(ctx.get(), SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS);
  if (rc < 0) return lib_error(rc, "seccomp_attr_set(ACT_BADARCH)");
  for (uint32_t arch : {SCMP_ARCH_X86, SCMP_ARCH_X32}) {
    rc = seccomp_arch_add(ctx.get(), arch);
    if (rc < 0 && rc != -EEXIST) return lib_error(rc, "seccomp_arch_add");
  }
  uint32_t trap = action == TrapAction::kUserNotify ? SCMP_ACT_NOTIFY : SCMP_ACT_TRACE(0);
  std::set<TrappedCall> added;
  for (const auto& entry : trapped_syscalls()) {
    CallGroup group = call_group(entry.call);
    if ((group == CallGroup::kGrowth && !traps.growth) ||
        (group == CallGroup::kWrite && !traps.writes) ||
        (group == CallGroup::kExec && !traps.exec) ||
        (group == CallGroup::kIoUring && !traps.io_uring) || !added.insert(entry.call).second) {
      continue;
    }
    // One rule per call, by name: libseccomp places it on every ABI of the filter where the call
    // exists, with the same per-ABI numbers trapped_syscalls() got from it.
    const char* name = trapped_call_name(entry.call);
    rc = seccomp_rule_add(ctx.get(), trap, seccomp_syscall_resolve_name(name), 0);
    if (rc < 0 && rc != -EEXIST) return Error{-rc, std::string("seccomp_rule_add for ") + name};
  }

  // Only memfd-warden may listen: a second listener in the chain would see memfd_create first
  // under the ptrace backend (USER_NOTIF outranks TRACE) and could let it through. The kernel
  // refuses a second listener with EBUSY when ours is one; we refuse every one the same way.
  rc = seccomp_rule_add(ctx.get(), SCMP_ACT_ERRNO(EBUSY), SCMP_SYS(seccomp), 1,
                        SCMP_A1(SCMP_CMP_MASKED_EQ, SECCOMP_FILTER_FLAG_NEW_LISTENER,
                                SECCOMP_FILTER_FLAG_NEW_LISTENER));
  if (rc < 0) return lib_error(rc, "seccomp_rule_add for seccomp(NEW_LISTENER)");

  // libseccomp 2.5 exports only to an fd; a memfd of our own holds the program.
  UniqueFd out(::memfd_create("memfd-warden-bpf", MFD_CLOEXEC));
  if (!out.valid()) return errno_error("memfd_create for the BPF export");
  rc = seccomp_export_bpf(ctx.get(), out.get());
  if (rc < 0) return lib_error(rc, "seccomp_export_bpf");
  struct stat st {};
  if (::fstat(out.get(), &st) != 0) return errno_error("fstat of the BPF export");
  BpfProgram program;
  program.instructions.resize(static_cast<size_t>(st.st_size) / sizeof(sock_filter));
  size_t bytes = program.instructions.size() * sizeof(sock_filter);
  if (::pread(out.get(), program.instructions.data(), bytes, 0) != static_cast<ssize_t>(bytes)) {
    return errno_error("reading back the BPF export");
  }
  return program;
}

}  // namespace warden
