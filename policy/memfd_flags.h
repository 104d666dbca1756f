// memfd_create(2) flag bits: their names, and the kernel's own validity rules, so the supervisor
// can answer EINVAL exactly where the kernel would. Pure functions over a uint32_t.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace warden {

// Values from <linux/memfd.h>; spelled out so the policy layer needs no kernel headers.
inline constexpr uint32_t kMfdCloexec = 0x0001;
inline constexpr uint32_t kMfdAllowSealing = 0x0002;
inline constexpr uint32_t kMfdHugetlb = 0x0004;
inline constexpr uint32_t kMfdNoexecSeal = 0x0008;  // 6.3+
inline constexpr uint32_t kMfdExec = 0x0010;        // 6.3+
inline constexpr uint32_t kMfdHugeShift = 26;       // huge page size: log2 in bits 26..31
inline constexpr uint32_t kMfdHugeMask = 0x3f;
inline constexpr uint32_t kMfdAllFlags =
    kMfdCloexec | kMfdAllowSealing | kMfdHugetlb | kMfdNoexecSeal | kMfdExec;

// The bit for "MFD_CLOEXEC" and friends; nullopt for an unknown name.
std::optional<uint32_t> memfd_flag_from_name(std::string_view name);

// The names of the named bits set in `flags`, in bit order; the huge page size field is not named.
std::vector<std::string> memfd_flag_names(uint32_t flags);

// All flag names, for error messages.
const std::vector<std::string_view>& all_memfd_flag_names();

// Every named flag with its bit, in bit order (what an audit record lists, without a lookup).
struct MemfdFlagName {
  std::string_view name;
  uint32_t bit;
};
std::span<const MemfdFlagName> memfd_flag_table();

// True when the kernel would refuse `flags` with EINVAL before looking at the name:
// unknown bits (huge page size bits only with MFD_HUGETLB) or MFD_EXEC with MFD_NOEXEC_SEAL.
bool memfd_flags_invalid(uint32_t flags);

// vm.memfd_noexec (6.3+, per PID namespace: the highest value along the caller's namespace and
// its ancestors): 0 lets a memfd be executable, 1 seals it against exec unless MFD_EXEC is
// asked for, 2 refuses MFD_EXEC too.
inline constexpr int kNoexecScopeExec = 0, kNoexecScopeSeal = 1, kNoexecScopeEnforced = 2;

// mm/memfd.c, check_sysctl_memfd_noexec(): valid `flags` as the kernel completes them for a
// caller whose namespace has `scope`, with MFD_EXEC or MFD_NOEXEC_SEAL made explicit. Returns 0,
// or EACCES where the kernel refuses the call.
int apply_noexec_scope(uint32_t* flags, int scope);

}  // namespace warden
