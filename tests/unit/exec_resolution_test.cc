// Unit: how an exec's file is found. The path resolver, run for this very thread (it is its own
// caller), must reach the file the kernel reaches through every path form; the interpreter
// reader must read "#!" lines and PT_INTERP the way binfmt_script and binfmt_elf do; and the
// memory-file classifier must tell memfds, unlinked tmpfs files and shared anonymous memory from
// files with a name.
#include <doctest/doctest.h>
#include <elf.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <string>

#include "supervisor/kernel/memory_file.h"
#include "supervisor/kernel/mount_table.h"
#include "supervisor/kernel/path_resolver.h"
#include "supervisor/kernel/program_interpreter.h"
#include "supervisor/kernel/unique_fd.h"

namespace warden {
namespace {

pid_t self_tid() { return static_cast<pid_t>(::syscall(SYS_gettid)); }

ResolvedPath resolve(const std::string& path, int dirfd = AT_FDCWD, bool follow = true) {
  PathLookup lookup;
  lookup.tid = self_tid();
  lookup.caller_pidfd = static_cast<int>(::syscall(SYS_pidfd_open, ::getpid(), 0));
  lookup.dirfd = dirfd;
  lookup.path = path;
  lookup.follow_final = follow;
  ResolvedPath out = resolve_caller_path(lookup);
  ::close(lookup.caller_pidfd);
  return out;
}

bool same_file(int a, int b) {
  struct stat x {
  }, y{};
  return ::fstat(a, &x) == 0 && ::fstat(b, &y) == 0 && x.st_dev == y.st_dev && x.st_ino == y.st_ino;
}

struct TempFile {
  std::string path;
  explicit TempFile(const std::string& text) {
    char pattern[] = "/tmp/warden-unit-XXXXXX";
    int fd = ::mkstemp(pattern);
    REQUIRE(fd >= 0);
    REQUIRE(::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()));
    ::close(fd);
    path = pattern;
  }
  ~TempFile() { ::unlink(path.c_str()); }
  UniqueFd open() const { return UniqueFd(::open(path.c_str(), O_RDONLY | O_CLOEXEC)); }
};

}  // namespace

TEST_CASE("the resolver reaches a memfd by every /proc form, as the kernel does") {
  UniqueFd memfd(::memfd_create("resolve-me", MFD_CLOEXEC));
  REQUIRE(memfd.valid());
  std::string n = std::to_string(memfd.get());
  std::string tid = std::to_string(self_tid());
  std::string pid = std::to_string(::getpid());
  for (const std::string& path :
       {"/proc/self/fd/" + n, "/proc/thread-self/fd/" + n, "//proc/./self//fd/" + n,
        "/proc/self/fd/../fd/" + n, "/proc/" + pid + "/task/" + tid + "/fd/" + n, "/dev/fd/" + n,
        "/proc/self/task/" + tid + "/fd/" + n}) {
    CAPTURE(path);
    ResolvedPath resolved = resolve(path);
    REQUIRE(resolved.file.valid());
    CHECK(same_file(resolved.file.get(), memfd.get()));
  }
  // Relative to a directory fd of the caller's, and to its working directory.
  UniqueFd fds(::open("/proc/self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  ResolvedPath by_dirfd = resolve(n, fds.get());
  REQUIRE(by_dirfd.file.valid());
  CHECK(same_file(by_dirfd.file.get(), memfd.get()));
  std::string cwd = std::filesystem::current_path();
  REQUIRE(::chdir("/proc/self/fd") == 0);
  ResolvedPath by_cwd = resolve("./" + n);
  REQUIRE(::chdir(cwd.c_str()) == 0);
  REQUIRE(by_cwd.file.valid());
  CHECK(same_file(by_cwd.file.get(), memfd.get()));
}

TEST_CASE("the resolver follows symlinks, stays in the root, and fails as the kernel fails") {
  std::string dir =
      std::filesystem::temp_directory_path() / ("warden-resolve-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  UniqueFd memfd(::memfd_create("linked", MFD_CLOEXEC));
  std::filesystem::create_symlink(
      "/proc/" + std::to_string(::getpid()) + "/fd/" + std::to_string(memfd.get()),
      dir + "/to-memfd");
  std::filesystem::create_symlink("to-memfd", dir + "/relative");
  std::filesystem::create_symlink("loop-b", dir + "/loop-a");
  std::filesystem::create_symlink("loop-a", dir + "/loop-b");
  ResolvedPath through = resolve(dir + "/relative");
  REQUIRE(through.file.valid());
  CHECK(same_file(through.file.get(), memfd.get()));
  CHECK(resolve(dir + "/loop-a").error == ELOOP);
  CHECK(resolve(dir + "/relative", AT_FDCWD, false).error == ELOOP);  // AT_SYMLINK_NOFOLLOW
  CHECK(resolve(dir + "/missing").error == ENOENT);
  CHECK(resolve("/etc/hostname/x").error == ENOTDIR);
  CHECK(resolve("/etc/hostname/").error == ENOTDIR);
  ResolvedPath root = resolve("/../../..");  // ".." stops at the caller's root
  UniqueFd real_root(::open("/", O_PATH | O_CLOEXEC));
  REQUIRE(root.file.valid());
  CHECK(same_file(root.file.get(), real_root.get()));
  std::filesystem::remove_all(dir);
}

TEST_CASE("self in a procfs is the caller as that procfs numbers it") {
  UniqueFd proc(::open("/proc", O_PATH | O_DIRECTORY | O_CLOEXEC));
  CHECK(caller_in_proc(proc.get(), self_tid(), false) == std::to_string(::getpid()));
  CHECK(caller_in_proc(proc.get(), self_tid(), true) ==
        std::to_string(::getpid()) + "/task/" + std::to_string(self_tid()));
}

TEST_CASE("interpreters are read as binfmt_script and binfmt_elf read them") {
  struct Case {
    std::string text;
    std::optional<std::string> interpreter;
  };
  auto path_of = [](const std::optional<Interpreter>& found) -> std::optional<std::string> {
    if (!found) return std::nullopt;
    CHECK(found->is_program);  // a script's interpreter is exec'd in turn
    return found->path;
  };
  const Case cases[] = {
      {"#!/bin/sh\necho hi\n", "/bin/sh"},
      {"#! \t/usr/bin/env python3 -u\n", "/usr/bin/env"},
      {"#!/proc/self/fd/3 payload\n", "/proc/self/fd/3"},
      {"#!\n", std::nullopt},  // no interpreter: ENOEXEC
      {"#!   \n", std::nullopt},
      {"#!/short/no/newline", "/short/no/newline"},  // shorter than the buffer: NUL padding ends it
      {"#!/" + std::string(300, 'a'), std::nullopt},    // the name runs past 255 bytes: ENOEXEC
      {"#!/bin/x " + std::string(300, 'a'), "/bin/x"},  // only the argument is cut off
      {"plain text\n", std::nullopt},
      // The kernel's buffer is 256 bytes, and its last byte counts: a name that ends at byte 255
      // runs (checked natively: both run /bin/true), one that ends at 256 is cut off.
      {"#!" + std::string(245, '/') + "bin/true\n" + std::string(50, 'x'),
       std::string(245, '/') + "bin/true"},
      {"#!" + std::string(245, '/') + "bin/true " + std::string(50, 'x'),
       std::string(245, '/') + "bin/true"},
      {"#!" + std::string(246, '/') + "bin/true\n" + std::string(50, 'x'), std::nullopt},
  };
  for (const auto& c : cases) {
    CAPTURE(c.text.substr(0, 40));
    TempFile file(c.text);
    UniqueFd fd = file.open();
    CHECK(path_of(program_interpreter(fd.get())) == c.interpreter);
  }
  // A dynamic ELF names its loader; the loader itself names none.
  UniqueFd dynamic(::open("/bin/true", O_RDONLY | O_CLOEXEC));
  auto loader = program_interpreter(dynamic.get());
  REQUIRE(loader.has_value());
  CHECK(loader->path.find("ld-linux") != std::string::npos);
  CHECK_FALSE(loader->is_program);  // only mapped: its own PT_INTERP would never be read
  UniqueFd ld(::open(loader->path.c_str(), O_RDONLY | O_CLOEXEC));
  REQUIRE(ld.valid());
  CHECK_FALSE(program_interpreter(ld.get()).has_value());
  // An ELF32 marked EM_486, which the kernel's 32-bit loader takes as EM_386 (review: its
  // loader went unread, and a loader in memory ran): its PT_INTERP is read as an i386 one's.
  for (Elf32_Half machine : {Elf32_Half{EM_386}, Elf32_Half{6}}) {
    CAPTURE(machine);
    const std::string wanted = "/proc/self/fd/9";
    Elf32_Ehdr header{};
    std::memcpy(header.e_ident, ELFMAG, SELFMAG);
    header.e_ident[EI_CLASS] = ELFCLASS32;
    header.e_ident[EI_DATA] = ELFDATA2LSB;
    header.e_ident[EI_VERSION] = EV_CURRENT;
    header.e_type = ET_EXEC;
    header.e_machine = machine;
    header.e_version = EV_CURRENT;
    header.e_phoff = sizeof(Elf32_Ehdr);
    header.e_ehsize = sizeof(Elf32_Ehdr);
    header.e_phentsize = sizeof(Elf32_Phdr);
    header.e_phnum = 1;
    Elf32_Phdr interp{};
    interp.p_type = PT_INTERP;
    interp.p_offset = sizeof(Elf32_Ehdr) + sizeof(Elf32_Phdr);
    interp.p_filesz = static_cast<Elf32_Word>(wanted.size() + 1);
    std::string elf(reinterpret_cast<const char*>(&header), sizeof(header));
    elf.append(reinterpret_cast<const char*>(&interp), sizeof(interp));
    elf.append(wanted);
    elf.push_back('\0');
    elf.resize(512, '\0');
    TempFile file(elf);
    UniqueFd fd = file.open();
    auto found = program_interpreter(fd.get());
    REQUIRE(found.has_value());
    CHECK(found->path == wanted);
    CHECK_FALSE(found->is_program);
  }
  // The kernel loads an EM_X86_64 file in the 64-bit layout whatever its class byte says (a
  // /bin/true with class 0 or 1 runs natively): its loader is found all the same.
  std::ifstream in("/bin/true", std::ios::binary);
  std::string image((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  for (char elf_class : {'\0', '\1'}) {
    CAPTURE(static_cast<int>(elf_class));
    image[EI_CLASS] = elf_class;
    TempFile odd(image);
    UniqueFd fd = odd.open();
    auto found = program_interpreter(fd.get());
    REQUIRE(found.has_value());
    CHECK(found->path == loader->path);
  }
}

TEST_CASE("a named tmpfs file is a file while its name reaches it and memory once unlinked") {
  char link[512];
  std::string name = "/dev/shm/warden-kind-" + std::to_string(::getpid());
  UniqueFd named(::open(name.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
  REQUIRE(named.valid());
  CHECK(classify_memory_file(named.get(), link, ::getpid()).kind == MemoryFileKind::kNone);
  ::unlink(name.c_str());
  CHECK(classify_memory_file(named.get(), link, ::getpid()).kind == MemoryFileKind::kUnlinkedShmem);
  // A file whose attributes are closed to memfd-warden is none that runs from memory (a FUSE
  // file's, which serves what it will), for every use, unless the policy says FUSE files are.
  for (CodeUse use : {CodeUse::kExec, CodeUse::kMapFile, CodeUse::kProtectRange}) {
    CHECK_FALSE(runs_from_memory(MemoryFileKind::kUnknown, use, false));
    CHECK(runs_from_memory(MemoryFileKind::kUnreachable, use, false));
    // FUSE files, and files that keep memfd-warden out, count only with fuse_exec = "deny".
    CHECK_FALSE(runs_from_memory(MemoryFileKind::kFuse, use, false));
    CHECK(runs_from_memory(MemoryFileKind::kFuse, use, true));
    CHECK(runs_from_memory(MemoryFileKind::kUnknown, use, true));
  }
}

TEST_CASE("a mount's filesystem type comes from the mount tables, not from the filesystem") {
  FilesystemType type;
  for (const char* fuse : {"fuse", "fuse.sshfs", "fuse.tiny_fuse"}) {
    std::snprintf(type.name, sizeof(type.name), "%s", fuse);
    CHECK(type.is_fuse());
    CHECK_FALSE(type.is_memory());
  }
  for (const char* memory : {"tmpfs", "devtmpfs", "ramfs", "rootfs", "hugetlbfs"}) {
    std::snprintf(type.name, sizeof(type.name), "%s", memory);
    CHECK(type.is_memory());
    CHECK_FALSE(type.is_fuse());
  }
  for (const char* other : {"fusectl", "overlay", "btrfs", "ext4", "fuseblk"}) {
    std::snprintf(type.name, sizeof(type.name), "%s", other);
    CHECK_FALSE(type.is_memory());
    CHECK_FALSE(type.is_fuse());
  }
  UniqueFd shm(::open("/dev/shm", O_PATH | O_CLOEXEC));
  REQUIRE(shm.valid());
  CallerNamespace self(::getpid());
  for (int look = 0; look < 2; ++look) {  // the second from what the first remembered
    auto listed = listed_filesystem_type(shm.get(), self);
    REQUIRE(listed.has_value());
    CHECK(listed->view() == "tmpfs");
  }
  // The kernel's own shmem mount, which holds memfds, is in no table.
  UniqueFd memfd(::memfd_create("type-test", MFD_CLOEXEC));
  CHECK_FALSE(listed_filesystem_type(memfd.get(), self).has_value());
}

TEST_CASE("memory files are told from files with a name") {
  char link[512];
  UniqueFd memfd(::memfd_create("kind-test", MFD_CLOEXEC));
  MemoryFile m = classify_memory_file(memfd.get(), link, ::getpid());
  CHECK(m.kind == MemoryFileKind::kMemfd);
  CHECK(m.name == "kind-test");

  UniqueFd tmpfile(::open("/dev/shm", O_RDWR | O_TMPFILE | O_CLOEXEC, 0600));
  REQUIRE(tmpfile.valid());
  CHECK(classify_memory_file(tmpfile.get(), link, ::getpid()).kind ==
        MemoryFileKind::kUnlinkedShmem);

  void* shared = ::mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  REQUIRE(shared != MAP_FAILED);
  char path[96];
  auto start = reinterpret_cast<uintptr_t>(shared);
  std::snprintf(path, sizeof(path), "/proc/self/map_files/%lx-%lx", start, start + 4096);
  UniqueFd anonymous(::open(path, O_PATH | O_CLOEXEC));
  REQUIRE(anonymous.valid());
  MemoryFile a = classify_memory_file(anonymous.get(), link, ::getpid());
  CHECK(a.kind == MemoryFileKind::kAnonymousShared);
  CHECK(runs_from_memory(a.kind, CodeUse::kExec, false));  // an ELF there is a program from memory
  CHECK(runs_from_memory(a.kind, CodeUse::kMapFile, false));  // and what ld.so maps from its fd
  // Making a range of anonymous memory executable is a JIT's right.
  CHECK_FALSE(runs_from_memory(a.kind, CodeUse::kProtectRange, false));
  CHECK(runs_from_memory(MemoryFileKind::kBlockDevice, CodeUse::kMapFile, false));
  CHECK(runs_from_memory(MemoryFileKind::kBlockDevice, CodeUse::kProtectRange, false));
  CHECK_FALSE(runs_from_memory(MemoryFileKind::kBlockDevice, CodeUse::kExec, false));
  ::munmap(shared, 4096);

  UniqueFd on_disk(::open("/bin/true", O_PATH | O_CLOEXEC));
  CHECK(classify_memory_file(on_disk.get(), link, ::getpid()).kind == MemoryFileKind::kNone);
  TempFile named("x");
  UniqueFd shm_named(::open("/dev/shm", O_PATH | O_CLOEXEC));
  CHECK(classify_memory_file(shm_named.get(), link, ::getpid()).kind ==
        MemoryFileKind::kNone);  // a directory
}

}  // namespace warden
