#include "policy/default_policy.h"

namespace warden {

std::string_view default_policy_text() {
  return R"toml(# memfd-warden embedded default policy.
# Allow memfds but not code from them: admitted memfds are sealed with MFD_NOEXEC_SEAL, MFD_EXEC
# is refused with EACCES, and running or mapping executable a memfd (or another memory file) is
# refused and audited (MITRE ATT&CK T1620).
# io_uring is refused (its operations bypass seccomp). Everything is audited.
version = 1
default = "allow"
exec = "deny"
io_uring = "deny"

[[rule]]
id = "no-exec-memfd"
flags_any = ["MFD_EXEC"]
action = "deny"
errno = "EACCES"
)toml";
}

}  // namespace warden
