// Which other file an exec of a program loads and runs: the interpreter named on a script's "#!"
// line (fs/binfmt_script.c) or in an ELF program's PT_INTERP header (fs/binfmt_elf.c), read the
// way the kernel reads them. The exec check follows this chain, because code from a memory file
// runs just as well as a script's interpreter or an ELF's loader as it does as the program.
#pragma once

#include <optional>
#include <string>

namespace warden {

struct Interpreter {
  std::string path;
  // A script's interpreter is exec'd in turn (and may name one of its own); an ELF's loader is
  // only mapped: the kernel never reads a loader's own PT_INTERP.
  bool is_program = false;
  bool operator==(const Interpreter&) const = default;
};

// The interpreter the kernel would open for the program in `fd` (ours, readable), or nullopt
// when it loads none (a static ELF, an unknown format, a malformed header the kernel refuses
// itself).
std::optional<Interpreter> program_interpreter(int fd);

// How many times the kernel lets one exec go through an interpreter (bprm recursion).
inline constexpr int kMaxInterpreterDepth = 5;

}  // namespace warden
