#include "supervisor/seccomp_filter.h"

#include <seccomp.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <memory>
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

uint32_t scmp_arch(Abi abi) {
  switch (abi) {
    case Abi::kX86_64:
      return SCMP_ARCH_X86_64;
    case Abi::kI386:
      return SCMP_ARCH_X86;
    case Abi::kX32:
      return SCMP_ARCH_X32;
  }
  return 0;
}

}  // namespace

Result<BpfProgram> build_filter(TrapAction action) {
  FilterCtx ctx(seccomp_init(SCMP_ACT_ALLOW));
  if (!ctx) return Error{ENOMEM, "seccomp_init"};
  // We load the program ourselves (after setting no_new_privs ourselves), so libseccomp must not.
  int rc = seccomp_attr_set(ctx.get(), SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS);
  if (rc < 0) return lib_error(rc, "seccomp_attr_set(ACT_BADARCH)");
  for (Abi abi : {Abi::kI386, Abi::kX32}) {
    rc = seccomp_arch_add(ctx.get(), scmp_arch(abi));
    if (rc < 0 && rc != -EEXIST) return lib_error(rc, "seccomp_arch_add");
  }
  uint32_t trap = action == TrapAction::kUserNotify ? SCMP_ACT_NOTIFY : SCMP_ACT_TRACE(0);
  for (const auto& entry : trapped_syscalls()) {
    // Our table (used to decode notifications) and libseccomp's (used to build the filter) must
    // agree on every ABI's number, or we would trap one call and decode it as another.
    const char* name = trapped_call_name(entry.call);
    int resolved = seccomp_syscall_resolve_name_arch(scmp_arch(entry.abi), name);
    if (resolved != entry.nr) {
      return Error{0, std::string("libseccomp numbers ") + name + " on " + abi_name(entry.abi) +
                          " as " + std::to_string(resolved) + ", our table as " +
                          std::to_string(entry.nr)};
    }
    // One rule per call: libseccomp translates the native number into every ABI in the filter.
    rc = seccomp_rule_add(ctx.get(), trap, seccomp_syscall_resolve_name(name), 0);
    if (rc < 0 && rc != -EEXIST) return lib_error(rc, "seccomp_rule_add");
  }

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
