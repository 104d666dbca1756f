// The root of a caller's mount namespace, from which every name a file has there is walked (the
// exec checks' reachability, memory_file.h): not the caller's own root, which a chroot may have
// put inside a covered or detached tree where a name reaches what nobody else's does.
#pragma once

#include <sys/types.h>

#include "supervisor/kernel/unique_fd.h"

namespace warden {

// An O_PATH fd on the root directory of thread `tid`'s mount namespace, or an invalid fd when it
// cannot be had. A caller that is not chrooted has it as its root (/proc/TID/root is "/", on its
// namespace's root mount); for any other, the calling thread enters the namespace (setns), opens
// "/" there and comes back, its own root and working directory restored. That takes
// CAP_SYS_ADMIN over the namespace, and the calling thread's filesystem state becomes its own
// (unshare(CLONE_FS), once). A failure to come back ends memfd-warden: it would go on judging
// from the target's namespace.
UniqueFd open_namespace_root(pid_t tid);

}  // namespace warden
