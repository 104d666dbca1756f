// memfd-warden's seccomp rules as data: which call, on which ABI, under which argument
// conditions, gets which action. seccomp_filter.cc compiles them to BPF for `run`, and
// agent/oci_profile.cc writes them as an OCI profile for container runtimes: one table, so the
// calls a container routes to the agent are the calls `run` traps.
#pragma once

#include <cstdint>
#include <vector>

#include "policy/policy.h"
#include "supervisor/kernel/trapped_syscalls.h"

namespace warden {

enum class TrapAction { kUserNotify, kTrace };

// Which groups of calls the filter traps: creation always; the rest as the policy needs.
struct TrapSet {
  bool growth = false;    // ftruncate, fallocate, truncate, the setxattr family,
                          // landlock_restrict_self: a byte limit
  bool writes = false;    // the write family, and io_setup (refused): quota.strict_writes
  bool exec = false;      // exec = "deny" somewhere: execve, execveat, and the calls that make
                          // memory executable (mmap, mprotect, pkey_mprotect with PROT_EXEC of
                          // a file, shmat with SHM_EXEC, personality(READ_IMPLIES_EXEC))
  bool io_uring = false;  // io_uring = "deny": io_uring_setup
  // The running kernel executes x32 calls. Without x32 the kernel answers them all with ENOSYS
  // itself, so the filter leaves them alone rather than emulate calls the kernel cannot make.
  bool x32 = true;
};

// The groups `policy` needs trapped (x32 left at true: the caller knows the kernel).
TrapSet traps_for(const Policy& policy);

// (args[arg] & mask) == value.
struct ArgCheck {
  unsigned arg;
  uint64_t mask;
  uint64_t value;
  bool operator==(const ArgCheck&) const = default;
};

struct FilterRule {
  enum class Kind { kTrap, kErrno };
  Abi abi;
  const char* name;  // libseccomp's name for the call, resolved per ABI
  Kind kind = Kind::kTrap;
  int errno_value = 0;         // kErrno: the call fails with it, never reaching us
  std::vector<ArgCheck> when;  // all must hold; empty: always
  int32_t nr = -1;             // this ABI's number, for a call libseccomp cannot name
};

// Every rule, ABI by ABI (x86_64, i386, x32). A call with several rules traps when any matches.
// Anything else is allowed; the compiled filter also kills calls of any other architecture.
//
// kTrace adds what the ptrace backend needs to keep the whole tree traced: clone with
// CLONE_UNTRACED is trapped (and refused), and clone3, whose flags sit in memory where a filter
// cannot read them, fails with ENOSYS (glibc then falls back to clone, as on Linux before 5.3).
// Both actions refuse a second listener, seccomp(NEW_LISTENER), with EBUSY.
std::vector<FilterRule> filter_rules(TrapAction action, const TrapSet& traps);

}  // namespace warden
