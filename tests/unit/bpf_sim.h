// A classic-BPF interpreter for the instructions seccomp filters use, to run a compiled filter
// over (architecture, syscall number, arguments) tuples without the kernel, and so without
// needing every ABI to exist on the test machine. Test-only.
#pragma once

#include <linux/filter.h>
#include <linux/seccomp.h>

#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <vector>

namespace warden::test {

inline uint32_t run_bpf(const std::vector<sock_filter>& program, const seccomp_data& data) {
  uint32_t a = 0, x = 0, memory[BPF_MEMWORDS] = {};
  auto load = [&](uint32_t offset) {
    if (offset + 4 > sizeof(data) || offset % 4 != 0) throw std::runtime_error("bad load");
    uint32_t value;
    std::memcpy(&value, reinterpret_cast<const char*>(&data) + offset, 4);
    return value;
  };
  for (size_t pc = 0; pc < program.size(); ++pc) {
    const sock_filter& in = program[pc];
    uint32_t operand = BPF_SRC(in.code) == BPF_X ? x : in.k;
    switch (BPF_CLASS(in.code)) {
      case BPF_LD:
        if (BPF_MODE(in.code) == BPF_ABS) {
          a = load(in.k);
        } else if (BPF_MODE(in.code) == BPF_IMM) {
          a = in.k;
        } else if (BPF_MODE(in.code) == BPF_MEM) {
          a = memory[in.k];
        } else if (BPF_MODE(in.code) == BPF_LEN) {
          a = sizeof(data);
        } else {
          throw std::runtime_error("unsupported load");
        }
        break;
      case BPF_LDX:
        x = BPF_MODE(in.code) == BPF_MEM   ? memory[in.k]
            : BPF_MODE(in.code) == BPF_LEN ? sizeof(data)
                                           : in.k;
        break;
      case BPF_ST:
        memory[in.k] = a;
        break;
      case BPF_STX:
        memory[in.k] = x;
        break;
      case BPF_ALU:
        switch (BPF_OP(in.code)) {
          case BPF_ADD:
            a += operand;
            break;
          case BPF_SUB:
            a -= operand;
            break;
          case BPF_MUL:
            a *= operand;
            break;
          case BPF_DIV:
            a = operand ? a / operand : 0;
            break;
          case BPF_AND:
            a &= operand;
            break;
          case BPF_OR:
            a |= operand;
            break;
          case BPF_XOR:
            a ^= operand;
            break;
          case BPF_LSH:
            a <<= operand;
            break;
          case BPF_RSH:
            a >>= operand;
            break;
          case BPF_NEG:
            a = -a;
            break;
          default:
            throw std::runtime_error("unsupported alu");
        }
        break;
      case BPF_JMP: {
        bool taken = false;
        switch (BPF_OP(in.code)) {
          case BPF_JA:
            pc += in.k;
            continue;
          case BPF_JEQ:
            taken = a == operand;
            break;
          case BPF_JGT:
            taken = a > operand;
            break;
          case BPF_JGE:
            taken = a >= operand;
            break;
          case BPF_JSET:
            taken = (a & operand) != 0;
            break;
          default:
            throw std::runtime_error("unsupported jump");
        }
        pc += taken ? in.jt : in.jf;
        break;
      }
      case BPF_RET:
        return BPF_RVAL(in.code) == BPF_A ? a : in.k;
      case BPF_MISC:
        if (BPF_MISCOP(in.code) == BPF_TAX) {
          x = a;
        } else {
          a = x;
        }
        break;
      default:
        throw std::runtime_error("unsupported class");
    }
  }
  throw std::runtime_error("fell off the end of the program");
}

}  // namespace warden::test
