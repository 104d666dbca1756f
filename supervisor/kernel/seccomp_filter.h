// Compiles the seccomp BPF program that routes trapped calls to the supervisor. Built once in the
// supervisor before fork; the child only hands the finished program to seccomp(2).
#pragma once

#include <linux/filter.h>

#include <vector>

#include "policy/result.h"
#include "supervisor/kernel/trapped_syscalls.h"

namespace warden {

enum class TrapAction { kUserNotify, kTrace };

struct BpfProgram {
  std::vector<sock_filter> instructions;
  sock_fprog fprog() {
    return {static_cast<unsigned short>(instructions.size()), instructions.data()};
  }
};

// Which groups of calls the filter traps: creation always; the rest as the policy needs.
struct TrapSet {
  bool growth = false;    // ftruncate, fallocate, truncate: a byte limit is set
  bool writes = false;    // the write family, and io_setup (refused): quota.strict_writes
  bool exec = false;      // exec = "deny" somewhere: execve, execveat, and the calls that make
                          // memory executable (mmap, mprotect, pkey_mprotect with PROT_EXEC of
                          // a file, shmat with SHM_EXEC, personality(READ_IMPLIES_EXEC))
  bool io_uring = false;  // io_uring = "deny": io_uring_setup
  // The running kernel executes x32 calls. Without x32 the kernel answers them all with ENOSYS
  // itself, so the filter leaves them alone rather than emulate calls the kernel cannot make.
  bool x32 = true;
};

// Every call of the chosen groups, on every ABI in trapped_syscalls(), gets `action` (some only
// with the arguments that matter, e.g. mmap with PROT_EXEC of a file); any other call is allowed;
// a call from an architecture other than x86_64/i386/x32 kills the process.
//
// kTrace adds what the ptrace backend needs to keep the whole tree traced: clone with
// CLONE_UNTRACED is trapped (and refused), and clone3, whose flags sit in memory where a filter
// cannot read them, fails with ENOSYS (glibc then falls back to clone, as on Linux before 5.3).
Result<BpfProgram> build_filter(TrapAction action, TrapSet traps);

}  // namespace warden
