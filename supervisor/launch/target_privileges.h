// What the target may do to memfd-warden, decided before it runs (docs/hardening.md, "Privilege
// model"). memfd-warden itself is not dumpable, and the target runs in its own PID namespace
// (tree_init.h), so it cannot name memfd-warden's pid; on top of that a root target loses the
// capabilities that would reach memfd-warden anyway (kReachingCaps), and --user runs the target
// as another user altogether.
//
// Resolving a user name happens in memfd-warden before fork; applying happens in the child right
// before execve, with raw syscalls only (no allocation, no locks).
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "policy/result.h"
#include "supervisor/launch/user_database.h"

namespace warden {

// The capabilities a root target would reach memfd-warden with, whatever namespace it is in:
//   CAP_SYS_PTRACE  ptrace, /proc/PID/mem, process_vm_readv/writev, pidfd_getfd of a
//                   non-dumpable process;
//   CAP_SYS_ADMIN   unmount the tree's own /proc or the read-only cgroup tree, setns, mount;
//   CAP_SYS_MODULE, CAP_SYS_RAWIO, CAP_BPF, CAP_PERFMON, CAP_SYS_BOOT
//                   load code into the kernel or read and write any memory (modules, /dev/mem,
//                   BPF and perf programs, kexec);
//   CAP_LINUX_IMMUTABLE
//                   clear the append-only flag memfd-warden sets on its audit file.
uint64_t reaching_capabilities();
// Their names, for --help and the docs.
std::string reaching_capability_names();

inline constexpr size_t kMaxTargetGroups = 256;

struct TargetPrivileges {
  bool drop_caps = false;  // remove reaching_capabilities() from every set, bounding included
  bool set_ids = false;    // run as uid/gid with `groups` (--user)
  uid_t uid = 0;
  gid_t gid = 0;
  size_t group_count = 0;
  gid_t groups[kMaxTargetGroups] = {};
};

// "USER[:GROUP]": names or numbers, looked up in `users` (/etc/passwd and /etc/group, not NSS:
// user_database.h). Without GROUP, the user's primary group; the supplementary groups are those
// that list the user, or none for a number with no passwd entry.
Result<TargetPrivileges> privileges_for_user(std::string_view spec,
                                             const UserDatabase& users = UserDatabase{});

// In the child, right before execve: raw syscalls only. Returns 0, or errno with `step` set to
// what failed.
int apply_target_privileges(const TargetPrivileges& privileges, const char** step);

}  // namespace warden
