#include "supervisor/kernel/seccomp_filter.h"

#include <linux/audit.h>
#include <linux/seccomp.h>
#include <seccomp.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "supervisor/kernel/unique_fd.h"

namespace warden {
namespace {

struct CtxRelease {
  void operator()(scmp_filter_ctx ctx) const { seccomp_release(ctx); }
};
using FilterCtx = std::unique_ptr<void, CtxRelease>;

// libseccomp's calls return -errno.
Error lib_error(int rc, const char* what) { return Error{-rc, what}; }

uint32_t scmp_arch_of(Abi abi) {
  switch (abi) {
    case Abi::kX86_64:
      return SCMP_ARCH_X86_64;
    case Abi::kI386:
      return SCMP_ARCH_X86;
    case Abi::kX32:
      return SCMP_ARCH_X32;
  }
  return SCMP_ARCH_X86_64;
}

// The rules for one ABI, in a filter of their own (merged below): the conditions differ by ABI.
Result<FilterCtx> build_for_abi(Abi abi, TrapAction action, const std::vector<FilterRule>& rules) {
  FilterCtx ctx(seccomp_init(SCMP_ACT_ALLOW));
  if (!ctx) return Error{ENOMEM, "seccomp_init"};
  int rc = seccomp_attr_set(ctx.get(), SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS);
  if (rc < 0) return lib_error(rc, "seccomp_attr_set(ACT_BADARCH)");
  if (abi != Abi::kX86_64) {
    rc = seccomp_arch_add(ctx.get(), scmp_arch_of(abi));
    if (rc < 0) return lib_error(rc, "seccomp_arch_add");
    rc = seccomp_arch_remove(ctx.get(), SCMP_ARCH_NATIVE);
    if (rc < 0) return lib_error(rc, "seccomp_arch_remove");
  }
  uint32_t trap = action == TrapAction::kUserNotify ? SCMP_ACT_NOTIFY : SCMP_ACT_TRACE(0);
  std::vector<scmp_arg_cmp> checks;
  for (const auto& rule : rules) {
    if (rule.abi != abi) continue;
    // By name, in libseccomp's native numbering: it maps each name to this ABI's number (the
    // same number trapped_syscalls() got from it) and multiplexed calls to their ipc() form.
    int nr = seccomp_syscall_resolve_name(rule.name);
    checks.clear();
    for (const auto& check : rule.when) {
      checks.push_back({check.arg, SCMP_CMP_MASKED_EQ, check.mask, check.value});
    }
    uint32_t what = rule.kind == FilterRule::Kind::kTrap
                        ? trap
                        : SCMP_ACT_ERRNO(static_cast<uint16_t>(rule.errno_value));
    if (nr == __NR_SCMP_ERROR && rule.nr >= 0) continue;  // unknown to libseccomp: see below
    rc = seccomp_rule_add_array(ctx.get(), what, nr, static_cast<unsigned>(checks.size()),
                                checks.data());
    if (rc < 0 && rc != -EEXIST) {
      return Error{-rc, std::string("seccomp_rule_add for ") + rule.name};
    }
  }
  return ctx;
}

uint32_t audit_arch_of(Abi abi) {
  return abi == Abi::kI386 ? AUDIT_ARCH_I386 : AUDIT_ARCH_X86_64;  // x32: numbers with a bit set
}

// The trapped calls libseccomp cannot name (newer than its tables: it maps numbers between ABIs
// through names), as plain BPF ahead of its program: five instructions each, which load what
// they compare and fall through to the next otherwise. libseccomp's program loads the
// architecture first, so it starts from nothing they left.
std::vector<sock_filter> unnamed_traps(TrapAction action, const std::vector<FilterRule>& rules) {
  uint32_t trap = action == TrapAction::kUserNotify ? SECCOMP_RET_USER_NOTIF : SECCOMP_RET_TRACE;
  std::vector<sock_filter> out;
  for (const auto& rule : rules) {
    if (rule.kind != FilterRule::Kind::kTrap || rule.nr < 0 || !rule.when.empty() ||
        seccomp_syscall_resolve_name(rule.name) != __NR_SCMP_ERROR) {
      continue;
    }
    out.push_back(BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, arch)));
    out.push_back(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, audit_arch_of(rule.abi), 0, 3));
    out.push_back(BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)));
    out.push_back(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, static_cast<uint32_t>(rule.nr), 0, 1));
    out.push_back(BPF_STMT(BPF_RET | BPF_K, trap));
  }
  return out;
}

}  // namespace

Result<BpfProgram> build_filter(TrapAction action, TrapSet traps) {
  std::vector<FilterRule> rules = filter_rules(action, traps);
  auto merged = build_for_abi(Abi::kX86_64, action, rules);
  if (!merged) return merged.error();
  for (Abi abi : {Abi::kI386, Abi::kX32}) {
    auto part = build_for_abi(abi, action, rules);
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
  program.instructions = unnamed_traps(action, rules);
  size_t ahead = program.instructions.size();
  program.instructions.resize(ahead + static_cast<size_t>(st.st_size) / sizeof(sock_filter));
  size_t bytes = (program.instructions.size() - ahead) * sizeof(sock_filter);
  if (::pread(out.get(), program.instructions.data() + ahead, bytes, 0) !=
      static_cast<ssize_t>(bytes)) {
    return errno_error("reading back the BPF export");
  }
  return program;
}

}  // namespace warden
