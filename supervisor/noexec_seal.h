// Sealing admitted memfds against execution (exec = "deny"): whether this kernel has
// MFD_NOEXEC_SEAL (6.3), the flags to create with, and restoring F_SEAL_SEAL afterwards so a
// caller that did not ask for sealing still cannot add seals (NOEXEC_SEAL implies
// ALLOW_SEALING). Shared by both backends.
#pragma once

#include <cstdint>

namespace warden {

bool kernel_has_noexec_seal();

// The flags to create with: `flags` plus MFD_NOEXEC_SEAL when `seal` and the kernel has it.
uint32_t sealed_flags(uint32_t flags, bool seal);

// After creation with sealed_flags: closes the memfd to further seals if the caller asked for
// neither MFD_ALLOW_SEALING nor MFD_NOEXEC_SEAL, as it would be without the exec seal we added.
// Returns 0 or errno.
int restore_seal_policy(int fd, uint32_t requested_flags, bool seal);

}  // namespace warden
