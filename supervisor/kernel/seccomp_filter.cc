#include "supervisor/kernel/seccomp_filter.h"

#include <linux/seccomp.h>
#include <sched.h>
#include <seccomp.h>
#include <sys/mman.h>
#include <sys/personality.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <unistd.h>

#include <memory>
#include <string>
#include <vector>

#include "supervisor/kernel/trapped_syscalls.h"
#include "supervisor/kernel/unique_fd.h"

namespace warden {
namespace {

struct CtxRelease {
  void operator()(scmp_filter_ctx ctx) const { seccomp_release(ctx); }
};
using FilterCtx = std::unique_ptr<void, CtxRelease>;

// libseccomp's calls return -errno.
Error lib_error(int rc, const char* what) { return Error{-rc, what}; }

scmp_arg_cmp bits_set(unsigned arg, uint64_t bits) { return {arg, SCMP_CMP_MASKED_EQ, bits, bits}; }
scmp_arg_cmp bits_clear(unsigned arg, uint64_t bits) { return {arg, SCMP_CMP_MASKED_EQ, bits, 0}; }

// When a call is worth a round trip: each inner vector is one rule (its comparisons all hold),
// and the call traps when any rule matches. Empty: always.
using Conditions = std::vector<std::vector<scmp_arg_cmp>>;

Conditions conditions_for(TrappedCall call, Abi abi) {
  // READ_IMPLIES_EXEC turns PROT_READ into PROT_EXEC. memfd-warden refuses to set it and clears
  // it at launch, but the kernel's ELF loader sets it by itself for 32-bit programs without a
  // PT_GNU_STACK header (mmap_is_ia32: i386 and x32). So on those ABIs a readable mapping of a
  // file is checked too; on x86_64 only PROT_EXEC.
  bool compat = abi != Abi::kX86_64;
  switch (call) {
    case TrappedCall::kMmap:
      if (abi == Abi::kI386) return {};  // old_mmap: its arguments are in memory
      [[fallthrough]];
    case TrappedCall::kMmap2:
      if (compat) {
        return {{bits_set(2, PROT_READ), bits_clear(3, MAP_ANONYMOUS)},
                {bits_set(2, PROT_EXEC), bits_clear(3, MAP_ANONYMOUS)}};
      }
      return {{bits_set(2, PROT_EXEC), bits_clear(3, MAP_ANONYMOUS)}};
    case TrappedCall::kMprotect:
    case TrappedCall::kPkeyMprotect:
      if (compat) return {{bits_set(2, PROT_READ)}, {bits_set(2, PROT_EXEC)}};
      return {{bits_set(2, PROT_EXEC)}};
    case TrappedCall::kShmat:
      return {{bits_set(2, SHM_EXEC)}};
    case TrappedCall::kPersonality:
      // 0xffffffff, which only asks for the current persona, has the bit too: the handler lets
      // it through (libseccomp takes one comparison per argument and rule).
      return {{bits_set(0, READ_IMPLIES_EXEC)}};
    case TrappedCall::kClone:
      return {{bits_set(0, CLONE_UNTRACED)}};
    default:
      return {};
  }
}

bool group_trapped(CallGroup group, TrapAction action, const TrapSet& traps) {
  switch (group) {
    case CallGroup::kCreate:
      return true;
    case CallGroup::kGrowth:
      return traps.growth;
    case CallGroup::kWrite:
    case CallGroup::kAio:
      return traps.writes;
    case CallGroup::kExec:
    case CallGroup::kExecMap:
      return traps.exec;
    case CallGroup::kIoUring:
      return traps.io_uring;
    case CallGroup::kClone:
      return action == TrapAction::kTrace;
  }
  return false;
}

// The rules for one ABI, in a filter of their own (merged below): the conditions differ by ABI.
Result<FilterCtx> build_for_abi(Abi abi, uint32_t scmp_arch, TrapAction action,
                                const TrapSet& traps) {
  FilterCtx ctx(seccomp_init(SCMP_ACT_ALLOW));
  if (!ctx) return Error{ENOMEM, "seccomp_init"};
  int rc = seccomp_attr_set(ctx.get(), SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS);
  if (rc < 0) return lib_error(rc, "seccomp_attr_set(ACT_BADARCH)");
  if (scmp_arch != SCMP_ARCH_X86_64) {
    rc = seccomp_arch_add(ctx.get(), scmp_arch);
    if (rc < 0) return lib_error(rc, "seccomp_arch_add");
    rc = seccomp_arch_remove(ctx.get(), SCMP_ARCH_NATIVE);
    if (rc < 0) return lib_error(rc, "seccomp_arch_remove");
  }
  if (abi == Abi::kX32 && !traps.x32) return ctx;  // the kernel answers ENOSYS to all of x32

  uint32_t trap = action == TrapAction::kUserNotify ? SCMP_ACT_NOTIFY : SCMP_ACT_TRACE(0);
  for (const auto& entry : trapped_syscalls()) {
    // One entry per (call, ABI), except i386 shmat's second spelling, which libseccomp derives
    // from the rule for "shmat" itself.
    if (entry.abi != abi || entry.multiplexed) continue;
    if (!group_trapped(call_group(entry.call), action, traps)) continue;
    // By name, in libseccomp's native numbering: it maps each name to this ABI's number (the
    // same number trapped_syscalls() got from it) and multiplexed calls to their ipc() form.
    const char* name = trapped_call_name(entry.call);
    int nr = seccomp_syscall_resolve_name(name);
    Conditions conditions = conditions_for(entry.call, abi);
    if (conditions.empty()) conditions.push_back({});
    for (const auto& rule : conditions) {
      rc = seccomp_rule_add_array(ctx.get(), trap, nr, static_cast<unsigned>(rule.size()),
                                  rule.data());
      if (rc < 0 && rc != -EEXIST) return Error{-rc, std::string("seccomp_rule_add for ") + name};
    }
  }
  if (action == TrapAction::kTrace) {
    rc = seccomp_rule_add(ctx.get(), SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0);
    if (rc < 0) return lib_error(rc, "seccomp_rule_add for clone3");
  }

  // Only memfd-warden may listen: a second listener in the chain would see memfd_create first
  // under the ptrace backend (USER_NOTIF outranks TRACE) and could let it through. The kernel
  // refuses a second listener with EBUSY when ours is one; we refuse every one the same way.
  scmp_arg_cmp new_listener = bits_set(1, SECCOMP_FILTER_FLAG_NEW_LISTENER);
  rc = seccomp_rule_add_array(ctx.get(), SCMP_ACT_ERRNO(EBUSY), SCMP_SYS(seccomp), 1,
                              &new_listener);
  if (rc < 0) return lib_error(rc, "seccomp_rule_add for seccomp(NEW_LISTENER)");
  return ctx;
}

}  // namespace

Result<BpfProgram> build_filter(TrapAction action, TrapSet traps) {
  auto merged = build_for_abi(Abi::kX86_64, SCMP_ARCH_X86_64, action, traps);
  if (!merged) return merged.error();
  for (auto [abi, arch] :
       {std::pair{Abi::kI386, SCMP_ARCH_X86}, std::pair{Abi::kX32, SCMP_ARCH_X32}}) {
    auto part = build_for_abi(abi, arch, action, traps);
    if (!part) return part.error();
    // seccomp_merge takes the second filter over, whether or not it succeeds.
    int rc = seccomp_merge(merged->get(), part->release());
    if (rc < 0) return lib_error(rc, "seccomp_merge");
  }

  // libseccomp 2.5 exports only to an fd; a memfd of our own holds the program.
  UniqueFd out(::memfd_create("memfd-warden-bpf", MFD_CLOEXEC));
  if (!out.valid()) return errno_error("memfd_create for the BPF export");
  int rc = seccomp_export_bpf(merged->get(), out.get());
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
