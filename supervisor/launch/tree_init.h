// `memfd-warden __init [PRIVILEGES] -- PROGRAM ARGS...`: the first process of the target's own
// PID namespace. The namespace keeps memfd-warden out of the target's sight (no pid of
// memfd-warden exists in it, so it can be neither signalled nor traced by number), and with
// --on-supervisor-exit=kill the kernel kills this process when memfd-warden dies
// (PR_SET_PDEATHSIG, set by the launcher), and with it, as PID 1, every process in the
// namespace: the whole tree dies with its supervisor.
//
// It mounts a /proc that matches the namespace, makes the cgroup tree read-only when the
// target's capabilities are dropped (so a root target cannot freeze or kill the cgroup
// memfd-warden runs in), applies the target's privileges (target_privileges.h), runs PROGRAM as
// its only child, forwards SIGINT, SIGTERM and SIGHUP to it (to the whole namespace once it has
// exited), reaps every orphan, and exits with PROGRAM's status (128+N after signal N), so that
// the target never runs as a PID 1 (which would ignore default-action signals). When PROGRAM
// exits, with `--orphans end` it ends what is left in the namespace (SIGTERM and SIGCONT, SIGKILL
// after --grace-ms) and writes how many processes that was to --report-fd; with `--orphans
// wait` it waits for them. It is not dumpable: a root target without
// CAP_SYS_PTRACE cannot trace it or read its memory either.
#pragma once

#include <cstdint>
#include <optional>

namespace warden {

inline constexpr const char* kInitCommand = "__init";

// argv[1] is kInitCommand, then [--hide PATH], [--orphans end|wait --grace-ms N --report-fd N],
// privileges_to_args(), "--", the program's path and its
// arguments. Never returns.
[[noreturn]] void run_tree_init(int argc, char** argv);

// What the init wrote to --report-fd: how many processes it ended. Read once the init has exited
// (`fd` non-blocking); null if it did not say (it was killed, or had no /proc of its own).
std::optional<uint64_t> read_init_report(int fd);

}  // namespace warden
