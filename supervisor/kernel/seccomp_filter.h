// Compiles the seccomp BPF program that routes trapped calls to the supervisor, from the rules in
// filter_rules.h. Built once in the supervisor before fork; the child only hands the finished
// program to seccomp(2).
#pragma once

#include <linux/filter.h>

#include <vector>

#include "policy/result.h"
#include "supervisor/kernel/filter_rules.h"

namespace warden {

struct BpfProgram {
  std::vector<sock_filter> instructions;
  sock_fprog fprog() {
    return {static_cast<unsigned short>(instructions.size()), instructions.data()};
  }
};

// filter_rules(action, traps) as one program for x86_64, i386 and x32 (trapped calls get
// `action`); any other call is allowed; a call from any other architecture kills the process.
Result<BpfProgram> build_filter(TrapAction action, TrapSet traps);

}  // namespace warden
