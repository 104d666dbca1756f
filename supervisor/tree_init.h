// `memfd-warden __init PROGRAM ARGS...`: the first process of the target's own PID namespace
// (--on-supervisor-exit=kill). When memfd-warden dies, the kernel kills this process
// (PR_SET_PDEATHSIG), and with it, as PID 1, every process in the namespace: the whole tree
// dies with its supervisor. It runs PROGRAM as its only child, forwards SIGINT, SIGTERM and
// SIGHUP to it, reaps every orphan, and exits with PROGRAM's status (128+N after signal N), so
// that the target never runs as a PID 1 (which would ignore default-action signals).
#pragma once

namespace warden {

inline constexpr const char* kInitCommand = "__init";

// argv[1] is kInitCommand, argv[2] the program's path, argv[3...] its arguments. Never returns.
[[noreturn]] void run_tree_init(int argc, char** argv);

}  // namespace warden
