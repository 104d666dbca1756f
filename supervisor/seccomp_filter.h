// Compiles the seccomp BPF program that routes trapped calls to the supervisor. Built once in the
// supervisor before fork; the child only hands the finished program to seccomp(2).
#pragma once

#include <linux/filter.h>

#include <vector>

#include "policy/result.h"
#include "supervisor/trapped_syscalls.h"

namespace warden {

enum class TrapAction { kUserNotify, kTrace };

struct BpfProgram {
  std::vector<sock_filter> instructions;
  sock_fprog fprog() {
    return {static_cast<unsigned short>(instructions.size()), instructions.data()};
  }
};

// Which groups of calls the filter traps: creation always; growth when a byte limit is set;
// the write family only with quota.strict_writes.
struct TrapSet {
  bool growth = false;
  bool writes = false;
  bool exec = false;      // execve, execveat (exec = "deny" somewhere in the policy)
  bool io_uring = false;  // io_uring_setup (io_uring = "deny")
};

// Every call of the chosen groups, on every ABI in trapped_syscalls(), gets `action`; any other
// call is allowed; a call from an architecture other than x86_64/i386/x32 kills the process.
Result<BpfProgram> build_filter(TrapAction action, TrapSet traps);

}  // namespace warden
