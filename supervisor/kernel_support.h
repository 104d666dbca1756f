// Checks, before anything is started, that this kernel can run the user-notification backend
// soundly: SECCOMP_RET_USER_NOTIF (5.0) and atomic ADDFD+SEND (5.14). Refusing to start with a
// clear message beats failing every allowed call with EINVAL later.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "policy/result.h"

namespace warden {

struct KernelVersion {
  int major = 0;
  int minor = 0;
  bool at_least(int want_major, int want_minor) const {
    return major > want_major || (major == want_major && minor >= want_minor);
  }
};

// "6.18.44-fc-v657" -> {6, 18}; nullopt when the release does not start with N.N.
std::optional<KernelVersion> parse_kernel_release(std::string_view release);

// Ok, or an error that says what is missing and what to do.
Result<void> check_unotify_support();

}  // namespace warden
