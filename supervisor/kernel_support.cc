#include "supervisor/kernel_support.h"

#include <linux/seccomp.h>
#include <sys/utsname.h>

#include <charconv>

#include "supervisor/kernel_abi.h"

namespace warden {

std::optional<KernelVersion> parse_kernel_release(std::string_view release) {
  KernelVersion version;
  const char* end = release.data() + release.size();
  auto [dot, ec] = std::from_chars(release.data(), end, version.major);
  if (ec != std::errc{} || dot == end || *dot != '.') return std::nullopt;
  auto [rest, ec2] = std::from_chars(dot + 1, end, version.minor);
  if (ec2 != std::errc{}) return std::nullopt;
  return version;
}

Result<void> check_unotify_support() {
  uint32_t action = SECCOMP_RET_USER_NOTIF;
  if (sys::seccomp(SECCOMP_GET_ACTION_AVAIL, 0, &action) != 0) {
    return Error{errno,
                 "this kernel does not offer seccomp user notification (SECCOMP_RET_USER_NOTIF, "
                 "Linux 5.0+, CONFIG_SECCOMP_FILTER); memfd-warden cannot supervise here"};
  }
  utsname names{};
  ::uname(&names);
  auto version = parse_kernel_release(names.release);
  if (version && !version->at_least(5, 14)) {
    return Error{0, std::string("kernel ") + names.release +
                        " lacks atomic SECCOMP_ADDFD_FLAG_SEND (Linux 5.14+), without which an "
                        "allowed memfd could leak into an interrupted caller; memfd-warden needs "
                        "Linux 5.14 or later"};
  }
  return {};
}

}  // namespace warden
