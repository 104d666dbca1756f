// Unit: the compiled seccomp filter, run through a BPF simulator over (architecture, number)
// tuples: every trapped call traps on x86_64, i386 and x32, nothing else does, and a foreign
// architecture is killed. The kernel cannot check this for us on a machine without int $0x80.
#include <doctest/doctest.h>
#include <linux/audit.h>

#include <ios>
#include <set>

#include "supervisor/seccomp_filter.h"
#include "supervisor/trapped_syscalls.h"
#include "tests/unit/bpf_sim.h"

namespace warden {
namespace {

constexpr uint32_t kX32Bit = 0x40000000;

uint32_t verdict(const BpfProgram& program, uint32_t arch, int32_t nr,
                 uint64_t args = 0xdeadbeefcafef000ULL) {
  seccomp_data data{};
  data.arch = arch;
  data.nr = nr;
  for (auto& arg : data.args) arg = args;  // no trapped call looks at its arguments
  return test::run_bpf(program.instructions, data);
}

// seccomp(2) on each ABI: the one call whose arguments matter (NEW_LISTENER is refused).
std::set<std::pair<uint32_t, int32_t>> seccomp_numbers() {
  return {{AUDIT_ARCH_X86_64, 317}, {AUDIT_ARCH_I386, 354}, {AUDIT_ARCH_X86_64, 0x40000000 | 317}};
}

}  // namespace

TEST_CASE("every trapped call traps on every ABI, and nothing else does") {
  for (auto action : {TrapAction::kUserNotify, TrapAction::kTrace}) {
    TrapSet all{true, true, true, true};
    auto program = build_filter(action, all);
    REQUIRE(program.has_value());
    uint32_t trap = action == TrapAction::kUserNotify ? SECCOMP_RET_USER_NOTIF : SECCOMP_RET_TRACE;
    std::set<std::pair<uint32_t, int32_t>> trapped;
    for (const auto& entry : trapped_syscalls()) trapped.insert({entry.audit_arch, entry.nr});
    CHECK(trapped.size() >= 40);  // 17 calls over 3 ABIs, less those an ABI lacks

    struct Range {
      uint32_t arch;
      int32_t first;
      int32_t last;
    };
    for (const auto& range : {Range{AUDIT_ARCH_X86_64, 0, 600}, Range{AUDIT_ARCH_I386, 0, 600},
                              Range{AUDIT_ARCH_X86_64, static_cast<int32_t>(kX32Bit),
                                    static_cast<int32_t>(kX32Bit + 600)}}) {
      for (int32_t nr = range.first; nr <= range.last; ++nr) {
        uint32_t got = verdict(*program, range.arch, nr) & SECCOMP_RET_ACTION_FULL;
        if (seccomp_numbers().count({range.arch, nr})) continue;  // its own test below
        bool expect_trap = trapped.count({range.arch, nr}) != 0;
        if ((got == trap) != expect_trap || (!expect_trap && got != SECCOMP_RET_ALLOW)) {
          FAIL_CHECK("arch " << std::hex << range.arch << std::dec << " nr " << nr << ": got "
                             << std::hex << got);
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
  // Without byte limits or exec/io_uring checks, growth and exec calls are not trapped.
  CHECK(verdict(*program, AUDIT_ARCH_X86_64, 77) == SECCOMP_RET_ALLOW);  // ftruncate
  CHECK(verdict(*program, AUDIT_ARCH_X86_64, 59) == SECCOMP_RET_ALLOW);  // execve
  CHECK(verdict(*program, AUDIT_ARCH_X86_64, 1) == SECCOMP_RET_ALLOW);   // write
}

TEST_CASE("seccomp() with NEW_LISTENER is refused with EBUSY on every ABI, other uses pass") {
  auto program = build_filter(TrapAction::kTrace, TrapSet{});
  REQUIRE(program.has_value());
  constexpr uint64_t kNewListener = 1 << 3;
  for (auto [arch, nr] : seccomp_numbers()) {
    CAPTURE(nr);
    CHECK(verdict(*program, arch, nr, kNewListener) == (SECCOMP_RET_ERRNO | EBUSY));
    CHECK(verdict(*program, arch, nr, kNewListener | 0x1) == (SECCOMP_RET_ERRNO | EBUSY));
    CHECK(verdict(*program, arch, nr, 0x1) == SECCOMP_RET_ALLOW);  // TSYNC alone
    CHECK(verdict(*program, arch, nr, 0) == SECCOMP_RET_ALLOW);
  }
}

TEST_CASE("a foreign architecture is killed, whatever the call") {
  auto program = build_filter(TrapAction::kUserNotify, TrapSet{true, true, true, true});
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
