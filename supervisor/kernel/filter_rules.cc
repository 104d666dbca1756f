#include "supervisor/kernel/filter_rules.h"

#include <fcntl.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/personality.h>
#include <sys/shm.h>

#include <cerrno>

namespace warden {
namespace {

ArgCheck bits_set(unsigned arg, uint64_t bits) { return {arg, bits, bits}; }
ArgCheck bits_clear(unsigned arg, uint64_t bits) { return {arg, bits, 0}; }

// When a call is worth a round trip: each inner vector is one rule (its checks all hold), and
// the call traps when any rule matches. Empty: always.
using Conditions = std::vector<std::vector<ArgCheck>>;

Conditions conditions_for(TrappedCall call, Abi abi) {
  // READ_IMPLIES_EXEC turns PROT_READ into PROT_EXEC. memfd-warden refuses to set it, and the
  // kernel clears it at every exec of a 64-bit program, but the kernel's ELF loader sets it by
  // itself for 32-bit programs without a PT_GNU_STACK header (mmap_is_ia32: i386 and x32). So on
  // those ABIs a readable mapping of a file is checked too; on x86_64 only PROT_EXEC (such a
  // program's 64-bit calls are a route left open: docs/hardening.md, "Routes not closed").
  bool compat = abi != Abi::kX86_64;
  switch (call) {
    case TrappedCall::kMmap:
      if (abi == Abi::kI386) return {{}};  // old_mmap, always: its arguments are in memory
      [[fallthrough]];
    case TrappedCall::kMmap2:
      if (compat) {
        return {{bits_set(2, PROT_READ), bits_clear(3, MAP_ANONYMOUS)},
                {bits_set(2, PROT_EXEC), bits_clear(3, MAP_ANONYMOUS)}};
      }
      return {{bits_set(2, PROT_EXEC), bits_clear(3, MAP_ANONYMOUS)}};
    case TrappedCall::kMprotect:
    case TrappedCall::kPkeyMprotect:
      if (compat) return {{bits_set(2, PROT_READ)}, {bits_set(2, PROT_EXEC)}};
      return {{bits_set(2, PROT_EXEC)}};
    case TrappedCall::kShmat:
      return {{bits_set(2, SHM_EXEC)}};
    case TrappedCall::kPersonality:
      // 0xffffffff, which only asks for the current persona, has the bit too: the handler lets
      // it through (a rule takes one comparison per argument).
      return {{bits_set(0, READ_IMPLIES_EXEC)}};
    case TrappedCall::kClone:
      return {{bits_set(0, CLONE_UNTRACED)}};
    case TrappedCall::kFcntl:
    case TrappedCall::kFcntl64:
      return {{ArgCheck{1, 0xffffffff, F_ADD_SEALS}}};
    default:
      return {{}};
  }
}

bool group_trapped(CallGroup group, TrapAction action, const TrapSet& traps) {
  switch (group) {
    case CallGroup::kCreate:
      return true;
    case CallGroup::kGrowth:
    case CallGroup::kXattr:
    case CallGroup::kLandlock:  // only byte limits carry calls out by path
      return traps.growth;
    case CallGroup::kWrite:
    case CallGroup::kSeal:
    case CallGroup::kAio:
      return traps.writes;
    case CallGroup::kExec:
    case CallGroup::kExecMap:
      return traps.exec;
    case CallGroup::kIoUring:
      return traps.io_uring;
    case CallGroup::kClone:
      return action == TrapAction::kTrace;
  }
  return false;
}

}  // namespace

TrapSet traps_for(const Policy& policy) {
  TrapSet traps;
  traps.growth = policy.tracks_bytes();
  traps.writes = traps.growth && policy.quota.strict_writes;
  traps.exec = !policy.exec_allowed;  // fuse_exec = "deny" comes only with it
  for (const auto& rule : policy.rules) {
    traps.exec = traps.exec || (rule.exec_allowed && !*rule.exec_allowed);
  }
  traps.io_uring = !policy.io_uring_allowed;
  return traps;
}

std::vector<FilterRule> filter_rules(TrapAction action, const TrapSet& traps) {
  std::vector<FilterRule> rules;
  for (Abi abi : {Abi::kX86_64, Abi::kI386, Abi::kX32}) {
    if (abi == Abi::kX32 && !traps.x32) continue;  // the kernel answers ENOSYS to all of x32
    for (const auto& entry : trapped_syscalls()) {
      // One entry per (call, ABI), except i386 shmat's second spelling, which libseccomp derives
      // from the rule for "shmat" itself.
      if (entry.abi != abi || entry.multiplexed) continue;
      if (!group_trapped(call_group(entry.call), action, traps)) continue;
      for (auto& when : conditions_for(entry.call, abi)) {
        rules.push_back(
            {abi, trapped_call_name(entry.call), FilterRule::Kind::kTrap, 0, when, entry.nr});
      }
    }
    if (action == TrapAction::kTrace) {
      rules.push_back({abi, "clone3", FilterRule::Kind::kErrno, ENOSYS, {}});
    }
    // Only memfd-warden may listen: a second listener in the chain would see memfd_create first
    // under the ptrace backend (USER_NOTIF outranks TRACE) and could let it through. The kernel
    // refuses a second listener with EBUSY when ours is one; we refuse every one the same way.
    rules.push_back({abi, "seccomp", FilterRule::Kind::kErrno, EBUSY,
                     {bits_set(1, SECCOMP_FILTER_FLAG_NEW_LISTENER)}});
  }
  return rules;
}

}  // namespace warden
