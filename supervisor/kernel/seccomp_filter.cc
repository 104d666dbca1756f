#include "supervisor/kernel/seccomp_filter.h"

#include <seccomp.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

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
    rc = seccomp_rule_add_array(ctx.get(), what, nr, static_cast<unsigned>(checks.size()),
                                checks.data());
    if (rc < 0 && rc != -EEXIST) {
      return Error{-rc, std::string("seccomp_rule_add for ") + rule.name};
    }
  }
  return ctx;
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
  program.instructions.resize(static_cast<size_t>(st.st_size) / sizeof(sock_filter));
  size_t bytes = program.instructions.size() * sizeof(sock_filter);
  if (::pread(out.get(), program.instructions.data(), bytes, 0) != static_cast<ssize_t>(bytes)) {
    return errno_error("reading back the BPF export");
  }
  return program;
}

}  // namespace warden
