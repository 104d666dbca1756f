#include "policy/default_policy.h"

namespace warden {

std::string_view default_policy_text() {
  return R"toml(# memfd-warden embedded default policy.
# Allow memfds, refuse executable ones, audit everything.
version = 1
default = "allow"

[[rule]]
id = "no-exec-memfd"
flags_any = ["MFD_EXEC"]
action = "deny"
errno = "EACCES"
)toml";
}

}  // namespace warden
