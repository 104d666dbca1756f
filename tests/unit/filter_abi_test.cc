// Unit: the compiled seccomp filter, run through a BPF simulator over (architecture, number,
// arguments) tuples: every trapped call traps on x86_64, i386 and x32 exactly when its
// arguments say it matters, nothing else does, x32 is left to a kernel without it, and a
// foreign architecture is killed. The kernel cannot check this for us on a machine without
// int $0x80 or x32.
#include <doctest/doctest.h>
#include <linux/audit.h>

#include <array>
#include <ios>
#include <set>

#include "supervisor/kernel/seccomp_filter.h"
#include "supervisor/kernel/trapped_syscalls.h"
#include "tests/unit/bpf_sim.h"

namespace warden {
namespace {

constexpr uint32_t kX32Bit = 0x40000000;
using Args = std::array<uint64_t, 6>;
constexpr Args kNoisy = {0xdeadbeefcafef000ULL, 0xdeadbeefcafef000ULL, 0xdeadbeefcafef000ULL,
                         0xdeadbeefcafef000ULL, 0xdeadbeefcafef000ULL, 0xdeadbeefcafef000ULL};

uint32_t verdict(const BpfProgram& program, uint32_t arch, int32_t nr, const Args& args = kNoisy) {
  seccomp_data data{};
  data.arch = arch;
  data.nr = nr;
  for (size_t i = 0; i < 6; ++i) data.args[i] = args[i];
  return test::run_bpf(program.instructions, data);
}

uint32_t verdict_one(const BpfProgram& program, uint32_t arch, int32_t nr, uint64_t all_args) {
  return verdict(program, arch, nr,
                 Args{all_args, all_args, all_args, all_args, all_args, all_args});
}

// seccomp(2) on each ABI: NEW_LISTENER is refused (its own test below).
std::set<std::pair<uint32_t, int32_t>> seccomp_numbers() {
  return {{AUDIT_ARCH_X86_64, 317}, {AUDIT_ARCH_I386, 354}, {AUDIT_ARCH_X86_64, 0x40000000 | 317}};
}

// An independent statement of when each call is worth a round trip (the filter's
// conditions_for, written again from the kernel's point of view).
bool should_trap(TrappedCall call, Abi abi, const Args& a, bool trace) {
  constexpr uint64_t kRead = 0x1, kExec = 0x4, kAnonymous = 0x20, kShmExec = 0100000;
  constexpr uint64_t kReadImpliesExec = 0x0400000, kUntraced = 0x00800000;
  bool compat = abi != Abi::kX86_64;
  uint64_t executable = compat ? (kRead | kExec) : kExec;
  switch (call) {
    case TrappedCall::kMmap:
      if (abi == Abi::kI386) return true;  // old_mmap: arguments in memory
      [[fallthrough]];
    case TrappedCall::kMmap2:
      return (a[2] & executable) && !(a[3] & kAnonymous);
    case TrappedCall::kMprotect:
    case TrappedCall::kPkeyMprotect:
      return (a[2] & executable) != 0;
    case TrappedCall::kShmat:
      return (a[2] & kShmExec) != 0;
    case TrappedCall::kPersonality:
      return (a[0] & kReadImpliesExec) != 0;
    case TrappedCall::kClone:
      return trace && (a[0] & kUntraced);
    case TrappedCall::kFcntl:
    case TrappedCall::kFcntl64:
      return static_cast<uint32_t>(a[1]) == 1033;  // F_ADD_SEALS, as the kernel takes its cmd
    default:
      return true;
  }
}

uint32_t arch_of(Abi abi) { return abi == Abi::kI386 ? AUDIT_ARCH_I386 : AUDIT_ARCH_X86_64; }

}  // namespace

TEST_CASE(
    "every trapped call traps on every ABI when its arguments matter, and nothing else does") {
  for (auto action : {TrapAction::kUserNotify, TrapAction::kTrace}) {
    CAPTURE(static_cast<int>(action));
    bool trace = action == TrapAction::kTrace;
    TrapSet all{true, true, true, true, true};
    auto program = build_filter(action, all);
    REQUIRE(program.has_value());
    uint32_t trap = trace ? SECCOMP_RET_TRACE : SECCOMP_RET_USER_NOTIF;

    // Each entry, with arguments chosen to make it matter and not to.
    const Args argument_cases[] = {
        {},                                                          // nothing set
        {0, 0, 0x4, 0, 3, 0},                                        // PROT_EXEC of fd 3
        {0, 0, 0x1, 0, 3, 0},                                        // PROT_READ of fd 3
        {0, 0, 0x5, 0x20, 3, 0},                                     // ... anonymous
        {0x0400000, 0, 0, 0, 0, 0},                                  // READ_IMPLIES_EXEC
        {0x00800000 | 17, 0, 0, 0, 0, 0},                            // CLONE_UNTRACED|SIGCHLD
        {21, 5, 0100000, 0, 0, 0},                                   // ipc(SHMAT, SHM_EXEC)
        {5, 0, 0100000, 0, 0, 0},                                    // shmat SHM_EXEC
        {3, 1033, 0x8, 0, 0, 0},                                     // fcntl(3, F_ADD_SEALS)
        {3, 0xffffffff00000409ULL, 0x8, 0, 0, 0},                    // ... its cmd's high half set
        {0xffffffff00000000ULL, 0, 0xffffffff00000000ULL, 0, 0, 0},  // high halves only
        kNoisy,
    };
    std::set<std::pair<uint32_t, int32_t>> numbers;
    for (const auto& entry : trapped_syscalls()) {
      numbers.insert({entry.audit_arch, entry.nr});
      for (const auto& args : argument_cases) {
        CAPTURE(trapped_call_name(entry.call));
        CAPTURE(abi_name(entry.abi));
        CAPTURE(args[0]);
        CAPTURE(args[2]);
        CAPTURE(args[3]);
        bool expect = should_trap(entry.call, entry.abi, args, trace);
        if (entry.multiplexed) expect = expect && static_cast<uint32_t>(args[0]) == 21;
        uint32_t got =
            verdict(*program, entry.audit_arch, entry.nr, args) & SECCOMP_RET_ACTION_FULL;
        CHECK(got == (expect ? trap : SECCOMP_RET_ALLOW));
      }
    }
    CHECK(numbers.size() >= 70);  // 31 calls over 3 ABIs, less those an ABI lacks

    // Every other number passes, whatever its arguments (clone3 aside under ptrace).
    struct Range {
      uint32_t arch;
      int32_t first;
      int32_t last;
    };
    for (const auto& range : {Range{AUDIT_ARCH_X86_64, 0, 600}, Range{AUDIT_ARCH_I386, 0, 600},
                              Range{AUDIT_ARCH_X86_64, static_cast<int32_t>(kX32Bit),
                                    static_cast<int32_t>(kX32Bit + 600)}}) {
      for (int32_t nr = range.first; nr <= range.last; ++nr) {
        if (numbers.count({range.arch, nr}) || seccomp_numbers().count({range.arch, nr})) continue;
        bool clone3 = (nr & ~static_cast<int32_t>(kX32Bit)) == 435;
        for (uint64_t value : {uint64_t{0}, ~uint64_t{0}, kNoisy[0]}) {
          uint32_t got = verdict_one(*program, range.arch, nr, value);
          uint32_t expected = trace && clone3 ? (SECCOMP_RET_ERRNO | ENOSYS) : SECCOMP_RET_ALLOW;
          if (got != expected) {
            FAIL_CHECK("arch " << std::hex << range.arch << std::dec << " nr " << nr << ": got "
                               << std::hex << got);
          }
        }
      }
    }
  }
}

TEST_CASE("memfd_create on each ABI by number") {
  auto program = build_filter(TrapAction::kUserNotify, TrapSet{});
  REQUIRE(program.has_value());
  CHECK(verdict(*program, AUDIT_ARCH_X86_64, 319) == SECCOMP_RET_USER_NOTIF);
  CHECK(verdict(*program, AUDIT_ARCH_I386, 356) == SECCOMP_RET_USER_NOTIF);
  CHECK(verdict(*program, AUDIT_ARCH_X86_64, kX32Bit | 319) == SECCOMP_RET_USER_NOTIF);
  CHECK(verdict(*program, AUDIT_ARCH_X86_64, 447) == SECCOMP_RET_USER_NOTIF);  // memfd_secret
  // The same numbers on the other ABIs are other calls, and pass.
  CHECK(verdict(*program, AUDIT_ARCH_I386, 319) == SECCOMP_RET_ALLOW);
  CHECK(verdict(*program, AUDIT_ARCH_X86_64, 356) == SECCOMP_RET_ALLOW);
  // Without byte limits or exec/io_uring checks, growth, exec and mapping calls are not trapped.
  CHECK(verdict(*program, AUDIT_ARCH_X86_64, 77) == SECCOMP_RET_ALLOW);  // ftruncate
  CHECK(verdict(*program, AUDIT_ARCH_X86_64, 76) == SECCOMP_RET_ALLOW);  // truncate
  CHECK(verdict(*program, AUDIT_ARCH_X86_64, 59) == SECCOMP_RET_ALLOW);  // execve
  CHECK(verdict(*program, AUDIT_ARCH_X86_64, 1) == SECCOMP_RET_ALLOW);   // write
  CHECK(verdict(*program, AUDIT_ARCH_X86_64, 9, {0, 0, 0x4, 0, 3, 0}) == SECCOMP_RET_ALLOW);
  CHECK(verdict(*program, AUDIT_ARCH_X86_64, 206) == SECCOMP_RET_ALLOW);  // io_setup
}

TEST_CASE("with a byte limit the setxattr family traps on every ABI and setxattrat by its number") {
  auto limited = build_filter(TrapAction::kUserNotify, TrapSet{true, false, false, false, true});
  auto free = build_filter(TrapAction::kUserNotify, TrapSet{});
  REQUIRE(limited.has_value());
  REQUIRE(free.has_value());
  // setxattr, lsetxattr, fsetxattr, setxattrat (463 everywhere: libseccomp 2.5 cannot name it).
  const std::pair<uint32_t, int32_t> calls[] = {{AUDIT_ARCH_X86_64, 188},
                                                {AUDIT_ARCH_X86_64, 189},
                                                {AUDIT_ARCH_X86_64, 190},
                                                {AUDIT_ARCH_X86_64, 463},
                                                {AUDIT_ARCH_I386, 226},
                                                {AUDIT_ARCH_I386, 227},
                                                {AUDIT_ARCH_I386, 228},
                                                {AUDIT_ARCH_I386, 463},
                                                {AUDIT_ARCH_X86_64, kX32Bit | 188},
                                                {AUDIT_ARCH_X86_64, kX32Bit | 190},
                                                {AUDIT_ARCH_X86_64, kX32Bit | 463}};
  for (const auto& [arch, nr] : calls) {
    CAPTURE(arch);
    CAPTURE(nr);
    CHECK(verdict(*limited, arch, nr) == SECCOMP_RET_USER_NOTIF);
    CHECK(verdict(*free, arch, nr) == SECCOMP_RET_ALLOW);
  }
  // The numbers around 463 are other calls, and pass; a foreign architecture is still killed.
  CHECK(verdict(*limited, AUDIT_ARCH_X86_64, 462) == SECCOMP_RET_ALLOW);
  CHECK(verdict(*limited, AUDIT_ARCH_X86_64, 464) == SECCOMP_RET_ALLOW);
  CHECK(verdict(*limited, AUDIT_ARCH_AARCH64, 463) == SECCOMP_RET_KILL_PROCESS);
}

TEST_CASE(
    "with a byte limit landlock_restrict_self traps on every ABI, and without one it passes") {
  auto limited = build_filter(TrapAction::kUserNotify, TrapSet{true, false, false, false, true});
  auto free = build_filter(TrapAction::kUserNotify, TrapSet{});
  auto traced = build_filter(TrapAction::kTrace, TrapSet{true, false, false, false, true});
  REQUIRE(limited.has_value());
  REQUIRE(free.has_value());
  REQUIRE(traced.has_value());
  // 446 on every ABI since Linux 5.13.
  for (uint32_t nr : {446u, kX32Bit | 446u}) {
    CAPTURE(nr);
    CHECK(verdict(*limited, AUDIT_ARCH_X86_64, static_cast<int32_t>(nr)) == SECCOMP_RET_USER_NOTIF);
    CHECK(verdict(*traced, AUDIT_ARCH_X86_64, static_cast<int32_t>(nr)) == SECCOMP_RET_TRACE);
    CHECK(verdict(*free, AUDIT_ARCH_X86_64, static_cast<int32_t>(nr)) == SECCOMP_RET_ALLOW);
  }
  CHECK(verdict(*limited, AUDIT_ARCH_I386, 446) == SECCOMP_RET_USER_NOTIF);
  CHECK(verdict(*free, AUDIT_ARCH_I386, 446) == SECCOMP_RET_ALLOW);
  // Landlock's other calls pass: only taking on a domain matters.
  CHECK(verdict(*limited, AUDIT_ARCH_X86_64, 444) == SECCOMP_RET_ALLOW);
  CHECK(verdict(*limited, AUDIT_ARCH_X86_64, 445) == SECCOMP_RET_ALLOW);
}

TEST_CASE("a kernel without x32 answers x32 calls itself: the filter leaves them all alone") {
  TrapSet no_x32{true, true, true, true, false};
  for (auto action : {TrapAction::kUserNotify, TrapAction::kTrace}) {
    auto program = build_filter(action, no_x32);
    REQUIRE(program.has_value());
    for (int32_t nr = 0; nr <= 600; ++nr) {
      uint32_t got = verdict_one(*program, AUDIT_ARCH_X86_64, static_cast<int32_t>(kX32Bit) | nr,
                                 ~uint64_t{0});
      if (got != SECCOMP_RET_ALLOW) FAIL_CHECK("x32 nr " << nr << ": got " << std::hex << got);
    }
    // x86_64 and i386 are unchanged.
    CHECK(verdict(*program, AUDIT_ARCH_X86_64, 319) != SECCOMP_RET_ALLOW);
    CHECK(verdict(*program, AUDIT_ARCH_I386, 356) != SECCOMP_RET_ALLOW);
  }
}

TEST_CASE("seccomp() with NEW_LISTENER is refused with EBUSY on every ABI, other uses pass") {
  auto program = build_filter(TrapAction::kTrace, TrapSet{});
  REQUIRE(program.has_value());
  constexpr uint64_t kNewListener = 1 << 3;
  for (auto [arch, nr] : seccomp_numbers()) {
    CAPTURE(nr);
    CHECK(verdict_one(*program, arch, nr, kNewListener) == (SECCOMP_RET_ERRNO | EBUSY));
    CHECK(verdict_one(*program, arch, nr, kNewListener | 0x1) == (SECCOMP_RET_ERRNO | EBUSY));
    CHECK(verdict_one(*program, arch, nr, 0x1) == SECCOMP_RET_ALLOW);  // TSYNC alone
    CHECK(verdict_one(*program, arch, nr, 0) == SECCOMP_RET_ALLOW);
  }
}

TEST_CASE(
    "under ptrace no child can leave tracing: clone(CLONE_UNTRACED) traps, clone3 is ENOSYS") {
  auto trace = build_filter(TrapAction::kTrace, TrapSet{});
  auto notify = build_filter(TrapAction::kUserNotify, TrapSet{});
  REQUIRE(trace.has_value());
  REQUIRE(notify.has_value());
  for (Abi abi : {Abi::kX86_64, Abi::kI386, Abi::kX32}) {
    CAPTURE(abi_name(abi));
    int32_t clone = abi == Abi::kI386 ? 120 : 56;
    int32_t clone3 = 435;
    if (abi == Abi::kX32) {
      clone |= static_cast<int32_t>(kX32Bit);
      clone3 |= static_cast<int32_t>(kX32Bit);
    }
    Args untraced{0x00800000 | 17, 0, 0, 0, 0, 0}, plain{0x003d0f00, 0, 0, 0, 0, 0};
    CHECK(verdict(*trace, arch_of(abi), clone, untraced) == SECCOMP_RET_TRACE);
    CHECK(verdict(*trace, arch_of(abi), clone, plain) == SECCOMP_RET_ALLOW);  // pthread_create
    CHECK(verdict(*trace, arch_of(abi), clone3) == (SECCOMP_RET_ERRNO | ENOSYS));
    // User notification follows every child whatever its flags.
    CHECK(verdict(*notify, arch_of(abi), clone, untraced) == SECCOMP_RET_ALLOW);
    CHECK(verdict(*notify, arch_of(abi), clone3) == SECCOMP_RET_ALLOW);
  }
}

TEST_CASE("a foreign architecture is killed, whatever the call") {
  auto program = build_filter(TrapAction::kUserNotify, TrapSet{true, true, true, true, true});
  REQUIRE(program.has_value());
  for (uint32_t arch :
       std::initializer_list<uint32_t>{AUDIT_ARCH_AARCH64, AUDIT_ARCH_ARM, AUDIT_ARCH_PPC64LE,
                                       AUDIT_ARCH_S390X, AUDIT_ARCH_RISCV64, 0u}) {
    CAPTURE(arch);
    for (int32_t nr : {0, 39, 279, 319, 356, 447}) {
      CHECK(verdict(*program, arch, nr) == SECCOMP_RET_KILL_PROCESS);
    }
  }
}

}  // namespace warden
