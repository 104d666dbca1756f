#include "policy/memfd_flags.h"

#include <array>
#include <cerrno>
#include <utility>

namespace warden {
namespace {

constexpr std::array<MemfdFlagName, 5> kFlagNames{{
    {"MFD_CLOEXEC", kMfdCloexec},
    {"MFD_ALLOW_SEALING", kMfdAllowSealing},
    {"MFD_HUGETLB", kMfdHugetlb},
    {"MFD_NOEXEC_SEAL", kMfdNoexecSeal},
    {"MFD_EXEC", kMfdExec},
}};

}  // namespace

std::span<const MemfdFlagName> memfd_flag_table() { return kFlagNames; }

std::optional<uint32_t> memfd_flag_from_name(std::string_view name) {
  for (const auto& [flag_name, bit] : kFlagNames) {
    if (flag_name == name) return bit;
  }
  return std::nullopt;
}

std::vector<std::string> memfd_flag_names(uint32_t flags) {
  std::vector<std::string> names;
  for (const auto& [flag_name, bit] : kFlagNames) {
    if (flags & bit) names.emplace_back(flag_name);
  }
  return names;
}

const std::vector<std::string_view>& all_memfd_flag_names() {
  static const std::vector<std::string_view> names = [] {
    std::vector<std::string_view> out;
    for (const auto& entry : kFlagNames) out.push_back(entry.name);
    return out;
  }();
  return names;
}

bool memfd_flags_invalid(uint32_t flags) {
  // Mirrors mm/memfd.c: the huge page size field is only legal together with MFD_HUGETLB.
  uint32_t legal = kMfdAllFlags;
  if (flags & kMfdHugetlb) legal |= kMfdHugeMask << kMfdHugeShift;
  if (flags & ~legal) return true;
  return (flags & kMfdExec) && (flags & kMfdNoexecSeal);
}

int apply_noexec_scope(uint32_t* flags, int scope) {
  if (!(*flags & (kMfdExec | kMfdNoexecSeal))) {
    *flags |= scope >= kNoexecScopeSeal ? kMfdNoexecSeal : kMfdExec;
  }
  if (!(*flags & kMfdNoexecSeal) && scope >= kNoexecScopeEnforced) return EACCES;
  return 0;
}

}  // namespace warden
