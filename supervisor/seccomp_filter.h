// Compiles the seccomp BPF program that routes trapped calls to the supervisor. Built once in the
// supervisor before fork; the child only hands the finished program to seccomp(2).
#pragma once

#include <linux/filter.h>

#include <vector>

#include "policy/result.h"

namespace warden {

enum class TrapAction { kUserNotify, kTrace };

struct BpfProgram {
  std::vector<sock_filter> instructions;
  sock_fprog fprog() {
    return {static_cast<unsigned short>(instructions.size()), instructions.data()};
  }
};

// Every trapped syscall of every ABI in trapped_syscalls() gets `action`; any other call is
// allowed; a call from an architecture other than x86_64/i386/x32 kills the process.
Result<BpfProgram> build_filter(TrapAction action);

}  // namespace warden
