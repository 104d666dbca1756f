// Sealing admitted memfds against execution (exec = "deny"): whether this kernel has
// MFD_NOEXEC_SEAL (6.3), the flags to create with, and restoring F_SEAL_SEAL afterwards so a
// caller that did not ask for sealing still cannot add seals (NOEXEC_SEAL implies
// ALLOW_SEALING). Shared by both backends.
#pragma once

#include <cstdint>

namespace warden {

bool kernel_has_noexec_seal();

// The flags to create with: `flags` plus MFD_NOEXEC_SEAL when `seal` and the kernel has it (an
// MFD_EXEC there was implied by vm.memfd_noexec = 0, see apply_noexec_scope(), and gives way).
uint32_t sealed_flags(uint32_t flags, bool seal);

// After creation with sealed_flags: closes the memfd to further seals if the caller asked for
// neither MFD_ALLOW_SEALING nor MFD_NOEXEC_SEAL, as it would be without the exec seal we added.
// Returns 0 or errno.
int restore_seal_policy(int fd, uint32_t requested_flags, bool seal);

// The ptrace backend, where the caller's own call makes the memfd and so its own namespace
// completes the flags (vm.memfd_noexec): when `seal` and the caller asked for neither MFD_EXEC nor
// MFD_NOEXEC_SEAL, the call runs with MFD_ALLOW_SEALING added (traced_call_flags), and
// seal_traced_memfd() then gives the memfd exactly what sealed_flags() and restore_seal_policy()
// give under user notification: the exec seal (already there if the namespace implied it) and
// F_SEAL_SEAL where the caller's memfd would have had it. Returns 0 or errno. The kernel runs the
// caller's filters again on the changed call, so a filter of its own sees the added flag: a
// documented limit (docs/fidelity.md, "Limits of the ptrace backend").
uint32_t traced_call_flags(uint32_t flags, bool seal);
int seal_traced_memfd(int fd, uint32_t requested_flags, bool seal);

}  // namespace warden
