// The root of a caller's mount namespace, from which every name a file has there is walked (the
// exec checks' reachability, memory_file.h): not the caller's own root, which a chroot may have
// put inside a covered or detached tree where a name reaches what nobody else's does.
#pragma once

#include <sys/types.h>

#include "supervisor/kernel/caller_namespace.h"
#include "supervisor/kernel/unique_fd.h"

namespace warden {

// An O_PATH fd on the root directory of `caller`'s mount namespace (as setns(2) gives it:
// the topmost mount on the namespace's root, the system's root over rootfs), or an invalid fd.
// For a caller in memfd-warden's own namespace, memfd-warden's root. For any other, the calling
// thread enters the caller's namespace (setns), opens "/" there and comes back, its own root and
// working directory restored; that takes CAP_SYS_ADMIN over the namespace and CAP_SYS_CHROOT,
// and makes the calling thread's filesystem state its own (unshare(CLONE_FS), once). A failure to
// come back ends memfd-warden: it would go on judging from the target's namespace. Where it may
// not enter (memfd-warden without root), the caller's own root stands in.
UniqueFd open_namespace_root(CallerNamespace& caller);

}  // namespace warden
