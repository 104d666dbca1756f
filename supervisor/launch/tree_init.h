// The first process of the target's own PID namespace ("warden-init"). The namespace keeps
// memfd-warden out of the target's sight (no pid of memfd-warden exists in it, so it can be
// neither signalled nor traced by number), and with --on-supervisor-exit=kill the kernel kills
// this process when memfd-warden dies (PR_SET_PDEATHSIG, set by the launcher), and with it, as
// PID 1, every process in the namespace: the whole tree dies with its supervisor.
//
// It is memfd-warden's own fork, not a new program: the launcher's child calls run_tree_init()
// once it has loaded the filter, so no second copy of memfd-warden is loaded (each of its
// executable mappings would be a trapped call). A fork of a process with threads may only make
// async-signal-safe calls, so everything here is raw syscalls on the stack: no allocation, no
// stdio, no locks. The fds memfd-warden opened (all close-on-exec) are closed first, as an exec
// would have closed them; fds memfd-warden inherited without close-on-exec go on to PROGRAM.
//
// It mounts a /proc that matches the namespace, makes the cgroup tree read-only when the
// target's capabilities are dropped (so a root target cannot freeze or kill the cgroup
// memfd-warden runs in), applies the target's privileges (target_privileges.h), runs PROGRAM as
// its only child, forwards SIGINT, SIGTERM and SIGHUP to it (to the whole namespace once it has
// exited), reaps every orphan, and exits with PROGRAM's status (128+N after signal N), so that
// the target never runs as a PID 1 (which would ignore default-action signals). When PROGRAM
// exits, with `orphans.end` it ends what is left in the namespace (SIGTERM and SIGCONT, SIGKILL
// after the grace period) and writes how many processes that was to `report_fd`; otherwise it
// waits for them. It is not dumpable: a root target without CAP_SYS_PTRACE cannot trace it or
// read its memory either.
#pragma once

#include <cstdint>
#include <optional>

#include "supervisor/launch/target_privileges.h"

namespace warden {

struct TreeInitConfig {
  char* const* program = nullptr;  // execv()'s path and argv, null-terminated
  const char* hide = nullptr;      // a path to cover with a read-only /dev/null (the audit file)
  bool end_orphans = true;
  long grace_ms = 2000;
  int report_fd = -1;  // memfd-warden's pipe for the count of ended processes
  TargetPrivileges privileges;
};

// In the launcher's child, after the filter is in place. Never returns.
[[noreturn]] void run_tree_init(const TreeInitConfig& config);

// What the init wrote to its report fd: how many processes it ended. Read once the init has
// exited (`fd` non-blocking); null if it did not say (it was killed, or had no /proc of its own).
std::optional<uint64_t> read_init_report(int fd);

}  // namespace warden
