#include "supervisor/kernel/program_interpreter.h"

#include <elf.h>
#include <unistd.h>

#include <cstddef>
#include <cstring>
#include <string_view>

namespace warden {
namespace {

constexpr size_t kBinprmBufSize = 256;  // BINPRM_BUF_SIZE: what binfmt_script sees of the file
constexpr size_t kPathMax = 4096;

bool read_at(int fd, void* buffer, size_t size, uint64_t offset) {
  return ::pread(fd, buffer, size, static_cast<off_t>(offset)) == static_cast<ssize_t>(size);
}

// fs/binfmt_script.c: "#!", blanks, then the interpreter up to a blank, a NUL or the end of the
// line. The kernel sees the first 256 bytes (NUL padding when the file is shorter), the last one
// included: a newline or blank at byte 255 ends the name. A line cut off there is accepted only
// if the name itself ended inside it.
std::optional<std::string> script_interpreter(std::string_view head) {
  if (!head.starts_with("#!")) return std::nullopt;
  bool padded = head.size() < kBinprmBufSize;  // the rest of the kernel's buffer is NULs
  head = head.substr(2, kBinprmBufSize - 2);
  size_t newline = head.find('\n');
  std::string_view line = head.substr(0, newline);
  size_t start = line.find_first_not_of(" \t");
  if (start == std::string_view::npos) return std::nullopt;  // ENOEXEC: no interpreter
  line.remove_prefix(start);
  size_t end = line.find_first_of(std::string_view(" \t\0", 3));
  if (end == std::string_view::npos && newline == std::string_view::npos && !padded) {
    return std::nullopt;  // the name may be cut off: ENOEXEC
  }
  std::string_view name = line.substr(0, end);
  if (name.empty()) return std::nullopt;
  return std::string(name);
}

template <typename Ehdr, typename Phdr>
std::optional<std::string> elf_interpreter(int fd, const Ehdr& header) {
  if (header.e_phentsize != sizeof(Phdr) || header.e_phnum == 0 ||
      header.e_phnum > 65536 / sizeof(Phdr)) {
    return std::nullopt;  // the kernel refuses such a header itself
  }
  Phdr programs[65536 / sizeof(Phdr)];
  if (!read_at(fd, programs, header.e_phnum * sizeof(Phdr), header.e_phoff)) return std::nullopt;
  for (unsigned i = 0; i < header.e_phnum; ++i) {
    const Phdr& program = programs[i];
    if (program.p_type != PT_INTERP) continue;
    // binfmt_elf: 2 .. PATH_MAX bytes, NUL-terminated, or ENOEXEC.
    if (program.p_filesz < 2 || program.p_filesz > kPathMax) return std::nullopt;
    std::string path(static_cast<size_t>(program.p_filesz), '\0');
    if (!read_at(fd, path.data(), path.size(), program.p_offset) || path.back() != '\0') {
      return std::nullopt;
    }
    path.resize(std::strlen(path.c_str()));
    if (path.empty()) return std::nullopt;  // open_exec("") fails: the exec fails with ENOENT
    return path;
  }
  return std::nullopt;
}

}  // namespace

std::optional<Interpreter> program_interpreter(int fd) {
  char head[kBinprmBufSize];
  ssize_t got = ::pread(fd, head, sizeof(head), 0);
  if (got <= 0) return std::nullopt;
  std::string_view text(head, static_cast<size_t>(got));
  if (auto script = script_interpreter(text)) return Interpreter{std::move(*script), true};
  if (text.size() < sizeof(Elf32_Ehdr) || std::memcmp(head, ELFMAG, SELFMAG) != 0) {
    return std::nullopt;
  }
  // The kernel's loaders go by e_machine (at the same offset in both layouts), never EI_CLASS:
  // binfmt_elf reads an EM_X86_64 file in the 64-bit layout whatever its class byte says;
  // compat_binfmt_elf reads EM_386, EM_486 (and x32's EM_X86_64, class 32) in the 32-bit one.
  Elf32_Half machine = 0;
  std::memcpy(&machine, head + offsetof(Elf32_Ehdr, e_machine), sizeof(machine));
  if (machine == EM_X86_64 && text.size() >= sizeof(Elf64_Ehdr)) {
    Elf64_Ehdr header;
    std::memcpy(&header, head, sizeof(header));
    if (auto path = elf_interpreter<Elf64_Ehdr, Elf64_Phdr>(fd, header))
      return Interpreter{*path, false};
    if (head[EI_CLASS] != ELFCLASS32) return std::nullopt;  // not x32
  }
  // elf_check_arch_ia32 takes EM_486 (6, glibc's EM_IAMCU) as EM_386.
  constexpr Elf32_Half kEm486 = 6;
  if (machine == EM_386 || machine == kEm486 || machine == EM_X86_64) {
    Elf32_Ehdr header;
    std::memcpy(&header, head, sizeof(header));
    if (auto path = elf_interpreter<Elf32_Ehdr, Elf32_Phdr>(fd, header))
      return Interpreter{*path, false};
    return std::nullopt;
  }
  return std::nullopt;
}

}  // namespace warden
