// warden_attack: a hostile target for the hardening tests. Each command tries one way around
// memfd-warden, the way an attacker inside the sandbox would, and prints what it achieved as
// key=value lines; most exit with the errno they met (0 on success). Tests run each command
// natively too (the control: there it must succeed, or the test proves nothing).
//
// "Payload ran" is always the exit status 77: the payload is this very binary run from memory,
// which exits 77 when /proc/self/exe is a memory file and 0 when it is the file on disk.
#include <dirent.h>
#include <dlfcn.h>
#include <fcntl.h>
#include <linux/aio_abi.h>
#include <linux/loop.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/inotify.h>
#include <sys/ioctl.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/sendfile.h>
#include <sys/shm.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

namespace {

constexpr int kPayloadRan = 77;

int status_code(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

// Copies the file at `path` into `fd`.
bool copy_file(const char* path, int fd) {
  int source = ::open(path, O_RDONLY | O_CLOEXEC);
  struct stat st {};
  if (source < 0 || ::fstat(source, &st) != 0) return false;
  bool ok = ::sendfile(fd, source, nullptr, static_cast<size_t>(st.st_size)) == st.st_size;
  ::close(source);
  return ok;
}

// This program copied into an O_TMPFILE in /dev/shm (memory), open for reading only (a file open
// for writing cannot run: ETXTBSY), without O_CLOEXEC; -1 with errno set.
int self_in_tmpfile() {
  int copy = ::open("/dev/shm", O_TMPFILE | O_RDWR, 0755);
  if (copy < 0) return -1;
  if (!copy_file("/proc/self/exe", copy)) {
    ::close(copy);
    return -1;
  }
  char path[64];
  std::snprintf(path, sizeof(path), "/proc/self/fd/%d", copy);
  int readable = ::open(path, O_RDONLY);
  int error = errno;
  ::close(copy);
  errno = error;
  return readable;
}

// A memfd holding a copy of this binary: the payload.
int payload_memfd(const char* name, unsigned flags) {
  int fd = static_cast<int>(::syscall(SYS_memfd_create, name, flags));
  if (fd < 0) return -1;
  if (!copy_file("/proc/self/exe", fd)) return -1;
  return fd;
}

// Forks; the child runs `attempt` (which execs or returns an errno); returns the child's status
// as a shell reports it: 77 when the payload ran, the errno when the exec failed.
template <typename F>
int in_child(F attempt) {
  std::fflush(stdout);
  pid_t child = ::fork();
  if (child == 0) _exit(attempt());
  int status = 0;
  ::waitpid(child, &status, 0);
  return status_code(status);
}

char* const* payload_argv() {
  static char arg0[] = "attack", arg1[] = "payload";
  static char* argv[] = {arg0, arg1, nullptr};
  return argv;
}
char* const* no_env() {
  static char* envp[] = {nullptr};
  return envp;
}

// exec-path FD FORM: runs the payload in inherited (unsealed) memfd FD through one path form.
// SCRATCH: a directory of this run's own for the symlink and the script.
int exec_path_form(int fd, const std::string& form, const std::string& scratch) {
  char path[256];
  if (form == "task") {
    std::snprintf(path, sizeof(path), "/proc/self/task/%ld/fd/%d", ::syscall(SYS_gettid), fd);
  } else if (form == "dot") {
    std::snprintf(path, sizeof(path), "/proc/self/./fd/%d", fd);
  } else if (form == "slashes") {
    std::snprintf(path, sizeof(path), "//proc///self//fd/%d", fd);
  } else if (form == "trailing-slash") {
    std::snprintf(path, sizeof(path), "/proc/self/fd/%d/", fd);  // asks for a directory
  } else if (form == "dotdot") {
    std::snprintf(path, sizeof(path), "/proc/self/fd/../fd/%d", fd);
  } else if (form == "long") {
    std::string padded = "/proc/self";
    while (padded.size() < 300) padded += "/.";
    std::snprintf(path, sizeof(path), "%.*s", 200, "");  // unused
    padded += "/fd/" + std::to_string(fd);
    ::execve(padded.c_str(), payload_argv(), no_env());
    return errno;
  } else if (form == "symlink") {
    char target[64];
    std::snprintf(target, sizeof(target), "/proc/%d/fd/%d", ::getpid(), fd);
    std::snprintf(path, sizeof(path), "%s/link", scratch.c_str());
    if (::symlink(target, path) != 0) return errno;
  } else if (form == "tmp-symlink") {
    // The same, in /tmp itself: sticky, world-writable and root's, where fs.protected_symlinks
    // lets only the link's owner (or the directory's) follow it.
    char target[64];
    std::snprintf(target, sizeof(target), "/proc/%d/fd/%d", ::getpid(), fd);
    std::snprintf(path, sizeof(path), "%s-link", scratch.c_str());
    if (::symlink(target, path) != 0) return errno;
  } else if (form == "dirfd") {
    int dir = ::open("/proc/self/fd", O_RDONLY | O_DIRECTORY);
    std::snprintf(path, sizeof(path), "%d", fd);
    ::syscall(SYS_execveat, dir, path, payload_argv(), no_env(), 0);
    return errno;
  } else if (form == "mapfiles") {
    struct stat st {};
    ::fstat(fd, &st);
    void* map = ::mmap(nullptr, static_cast<size_t>(st.st_size), PROT_READ, MAP_SHARED, fd, 0);
    if (map == MAP_FAILED) return errno;
    auto start = reinterpret_cast<uintptr_t>(map);
    std::snprintf(path, sizeof(path), "/proc/self/map_files/%lx-%lx", start,
                  start + ((static_cast<uintptr_t>(st.st_size) + 4095) & ~uintptr_t{4095}));
  } else if (form == "chdir") {
    if (::chdir("/proc/self/fd") != 0) return errno;
    std::snprintf(path, sizeof(path), "./%d", fd);
  } else if (form == "script") {
    // A script on disk whose interpreter is the memfd.
    std::snprintf(path, sizeof(path), "%s/script", scratch.c_str());
    int script = ::open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0755);
    if (script < 0) return errno;
    char line[64];
    int n = std::snprintf(line, sizeof(line), "#!/proc/self/fd/%d payload\n", fd);
    if (::write(script, line, static_cast<size_t>(n)) != n) return errno;
    ::close(script);
    char arg0[] = "script";
    char* argv[] = {arg0, nullptr};
    ::execve(path, argv, no_env());
    return errno;
  } else {
    return EINVAL;
  }
  ::execve(path, payload_argv(), no_env());
  return errno;
}

int cmd_exec_path(int fd, const char* form) {
  // Made here, not in the child, so that it goes even when the exec works. Not named after
  // getpid(): inside the tree's PID namespace that is the same in every run, and two runs side
  // by side would remove or rewrite each other's files.
  char scratch[] = "/tmp/warden-attack-XXXXXX";
  if (::mkdtemp(scratch) == nullptr) return errno;
  int code = in_child([&] { return exec_path_form(fd, form, scratch); });
  for (const char* name : {"/link", "/script", "-link"}) {
    ::unlink((std::string(scratch) + name).c_str());
  }
  ::rmdir(scratch);
  std::printf("%s=%d\n", form, code);
  return code == kPayloadRan ? 0 : 1;
}

// exec-race FD ROUNDS DISK: a second thread flips the exec path between the memfd and this
// binary on disk (DISK) while the first execs it. Counts the rounds where the payload ran from
// memory.
int cmd_exec_race(int fd, long rounds, const char* disk) {
  long from_memory = 0, from_disk = 0, refused = 0, killed = 0;
  for (long i = 0; i < rounds; ++i) {
    int code = in_child([&] {
      static char buffer[256];
      char memory[64];
      std::snprintf(memory, sizeof(memory), "/proc/self/fd/%d", fd);
      std::strcpy(buffer, disk);
      std::atomic<bool> go{true}, flipping{false};
      std::thread flipper([&] {
        flipping.store(true);
        while (go.load(std::memory_order_relaxed)) {
          std::strcpy(buffer, memory);
          std::strcpy(buffer, disk);
        }
      });
      flipper.detach();
      // Exec only once the flipper runs: a new thread can take longer to start than the exec
      // takes to read the path, and then no round races at all.
      while (!flipping.load()) {
      }
      ::execve(buffer, payload_argv(), no_env());
      return errno;
    });
    if (code == kPayloadRan) {
      ++from_memory;
    } else if (code == 0) {
      ++from_disk;
    } else if (code >= 128) {
      ++killed;
    } else {
      ++refused;
    }
  }
  std::printf("from_memory=%ld\nfrom_disk=%ld\nrefused=%ld\nkilled=%ld\n", from_memory, from_disk,
              refused, killed);
  return 0;
}

// map-race FD ROUNDS DISK: a second thread keeps swapping fd number 50 between the memfd FD and
// the file DISK (dup2) while the first maps fd 50 PROT_READ|PROT_EXEC, ROUNDS times. Prints how
// many mappings were of the memfd (/proc/self/map_files says), of the disk file, and refused.
int cmd_map_race(int memfd, long rounds, const char* disk) {
  constexpr int kSlot = 50;
  int disk_fd = ::open(disk, O_RDONLY | O_CLOEXEC);
  if (disk_fd < 0) return errno;
  ::dup2(disk_fd, kSlot);
  std::atomic<bool> go{true}, swapping{false};
  std::thread swapper([&] {
    swapping.store(true);
    while (go.load(std::memory_order_relaxed)) {
      ::dup2(memfd, kSlot);
      ::dup2(disk_fd, kSlot);
    }
  });
  while (!swapping.load()) {
  }
  long from_memory = 0, from_disk = 0, refused = 0;
  for (long i = 0; i < rounds; ++i) {
    void* at = ::mmap(nullptr, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE, kSlot, 0);
    if (at == MAP_FAILED) {
      ++refused;
      continue;
    }
    char path[64], link[256] = {};
    auto start = reinterpret_cast<uintptr_t>(at);
    std::snprintf(path, sizeof(path), "/proc/self/map_files/%lx-%lx", start, start + 4096);
    (void)::readlink(path, link, sizeof(link) - 1);
    if (std::strncmp(link, "/memfd:", 7) == 0) {
      ++from_memory;
    } else {
      ++from_disk;
    }
    ::munmap(at, 4096);
  }
  go.store(false);
  swapper.join();
  std::printf("mapped_memfd=%ld\nmapped_disk=%ld\nrefused=%ld\n", from_memory, from_disk, refused);
  return 0;
}

// Machine code for: mov eax, 42; ret.
constexpr unsigned char kCode[] = {0xb8, 0x2a, 0x00, 0x00, 0x00, 0xc3};

// map-exec HOW [nodump]: an in-tree memfd holding code, made executable by HOW (mmap, mprotect,
// pkey, personality); runs it. Prints fd= (the memfd's), and ran=1 when the code ran; exits with
// the errno that stopped it. "nodump": the process makes itself non-dumpable once the memfd is
// made.
int cmd_map_exec(const std::string& how, bool nodump) {
  int fd = static_cast<int>(::syscall(SYS_memfd_create, "jit-code", 0));
  if (fd < 0) return errno;
  std::printf("fd=%d\n", fd);
  if (::write(fd, kCode, sizeof(kCode)) != sizeof(kCode)) return errno;
  if (nodump && ::prctl(PR_SET_DUMPABLE, 0) != 0) return errno;
  void* map = MAP_FAILED;
  if (how == "mmap") {
    map = ::mmap(nullptr, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE, fd, 0);
  } else if (how == "mmap-shared") {
    map = ::mmap(nullptr, 4096, PROT_READ | PROT_EXEC, MAP_SHARED, fd, 0);
  } else if (how == "mprotect" || how == "pkey") {
    map = ::mmap(nullptr, 4096, PROT_READ, MAP_PRIVATE, fd, 0);
    if (map == MAP_FAILED) return errno;
    long rc = how == "mprotect"
                  ? ::mprotect(map, 4096, PROT_READ | PROT_EXEC)
                  : ::syscall(SYS_pkey_mprotect, map, 4096, PROT_READ | PROT_EXEC, -1);
    if (rc != 0) return errno;
  } else if (how == "personality") {
    if (::personality(static_cast<unsigned long>(READ_IMPLIES_EXEC)) == -1) return errno;
    if (!(::personality(0xffffffff) & READ_IMPLIES_EXEC)) return EPERM;
    map = ::mmap(nullptr, 4096, PROT_READ, MAP_PRIVATE, fd, 0);
  } else {
    return EINVAL;
  }
  if (map == MAP_FAILED) return errno;
  int value = reinterpret_cast<int (*)()>(map)();
  std::printf("ran=%d\n", value == 42 ? 1 : 0);
  return 0;
}

// Maps `fd` (holding kCode at 0) readable and executable, shared, and calls it: prints
// map_ran=1, or map_errno=N when the mapping was refused.
void map_and_call(int fd) {
  void* map = ::mmap(nullptr, 4096, PROT_READ | PROT_EXEC, MAP_SHARED, fd, 0);
  if (map == MAP_FAILED) {
    std::printf("map_errno=%d\n", errno);
  } else {
    std::printf("map_ran=%d\n", reinterpret_cast<int (*)()>(map)() == 42 ? 1 : 0);
    ::munmap(map, 4096);
  }
  std::fflush(stdout);
}

// detached-tmpfs HOW [PROGRAM]: a file "x" (one link) on a tmpfs, in a user and mount namespace
// of our own, that no path reaches. HOW says how:
//   fsmount           made with fsopen/fsmount and never attached;
//   umount            mounted, then unmounted with MNT_DETACH while the file is open;
//   covered           a second tmpfs mounted over it;
//   covered-link      as covered, with a symlink "x" in the second tmpfs to /proc/self/fd/D/x,
//                     where D is our fd of the first one's directory;
//   overlay           the upper layer of an overlay made with fsmount and never attached either,
//                     whose file is the overlay's;
//   chroot, chroot-sub  as fsmount, and then chrooted into that tmpfs (or a directory of it);
//   chroot-bind       as covered, with a clone of the first tmpfs mounted (move_mount) at the
//                     same path in a tmpfs made with fsmount, never attached, and chrooted into;
//   chroot-covered    as covered, and chrooted into the covered tmpfs;
//   chroot-dircover   x in a directory d of an attached tmpfs, d covered by a second tmpfs, and
//                     chrooted into d;
//   attached, overlay-attached  the controls: the file (a tmpfs's, an overlay's) reachable.
// Writes code into x and maps it executable (map_and_call), then writes a program into it and
// runs it with execveat(AT_EMPTY_PATH): this one, or PROGRAM (a static one, for the chroots, run
// as "PROGRAM payload 0"). Prints exec=ran (it exited 0 or 77), or exec=ERRNO. Exits 3 when
// there is no such tmpfs (or overlay).
int cmd_detached_tmpfs(const std::string& how, const char* program) {
  uid_t uid = ::geteuid();
  gid_t gid = ::getegid();
  int self = ::open(program != nullptr ? program : "/proc/self/exe", O_RDONLY | O_CLOEXEC);
  if (self < 0) return errno;
  if (::unshare(CLONE_NEWUSER | CLONE_NEWNS) != 0) return 3;
  // Our own ids, mapped, so that files can be made.
  auto write_file = [](const char* path, const std::string& text) {
    int fd = ::open(path, O_WRONLY | O_CLOEXEC);
    bool ok = fd >= 0 && ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
    if (fd >= 0) ::close(fd);
    return ok;
  };
  if (!write_file("/proc/self/setgroups", "deny") ||
      !write_file("/proc/self/uid_map", std::to_string(uid) + " " + std::to_string(uid) + " 1") ||
      !write_file("/proc/self/gid_map", std::to_string(gid) + " " + std::to_string(gid) + " 1")) {
    return 3;
  }
  // A new mount of `type` with string options, never attached: its fd, or -1.
  auto detached_mount = [](const char* type,
                           std::initializer_list<std::pair<const char*, std::string>> options) {
    int fs = static_cast<int>(::syscall(SYS_fsopen, type, 0));
    if (fs < 0) return -1;
    for (const auto& [key, value] : options) {
      if (::syscall(SYS_fsconfig, fs, 1 /* FSCONFIG_SET_STRING */, key, value.c_str(), 0) != 0)
        return -1;
    }
    if (::syscall(SYS_fsconfig, fs, 6 /* FSCONFIG_CMD_CREATE */, nullptr, nullptr, 0) != 0)
      return -1;
    return static_cast<int>(::syscall(SYS_fsmount, fs, 0, 0));
  };
  int dir = -1;        // the directory that holds x
  int jail_root = -1;  // chroot-bind: the root to take
  if (how == "fsmount" || how == "overlay" || how == "chroot" || how == "chroot-sub") {
    dir = detached_mount("tmpfs", {});
    if (dir < 0) return 3;
    if (how == "overlay") {
      for (const char* sub : {"lower", "upper", "work"}) ::mkdirat(dir, sub, 0755);
      std::string layers = "/proc/self/fd/" + std::to_string(dir) + "/";
      dir = detached_mount("overlay", {{"lowerdir", layers + "lower"},
                                       {"upperdir", layers + "upper"},
                                       {"workdir", layers + "work"}});
      if (dir < 0) return 3;
    } else if (how == "chroot-sub") {
      ::mkdirat(dir, "sub", 0755);
      dir = ::openat(dir, "sub", O_PATH | O_DIRECTORY | O_CLOEXEC);
    }
  } else if (how == "overlay-attached") {
    char base[] = "/tmp/overlay-XXXXXX";
    if (::mkdtemp(base) == nullptr) return 3;
    std::string at(base);
    if (::mount("tmpfs", base, "tmpfs", 0, nullptr) != 0) return 3;
    for (const char* sub : {"/lower", "/upper", "/work", "/merged"}) {
      ::mkdir((at + sub).c_str(), 0755);
    }
    std::string options =
        "lowerdir=" + at + "/lower,upperdir=" + at + "/upper,workdir=" + at + "/work";
    if (::mount("overlay", (at + "/merged").c_str(), "overlay", 0, options.c_str()) != 0) return 3;
    dir = ::open((at + "/merged").c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
  } else {
    char base[] = "/tmp/detached-XXXXXX";
    if (::mkdtemp(base) == nullptr) return 3;
    if (::mount("tmpfs", base, "tmpfs", 0, nullptr) != 0) return 3;
    dir = ::open(base, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (how == "umount") {
      ::umount2(base, MNT_DETACH);
      ::rmdir(base);
    } else if (how == "chroot-bind") {
      int jail = detached_mount("tmpfs", {});
      std::string inside = std::string(base).substr(1);  // "tmp/detached-..."
      if (jail < 0 || ::mkdirat(jail, "tmp", 0755) != 0 ||
          ::mkdirat(jail, inside.c_str(), 0755) != 0) {
        return 3;
      }
      int at = ::openat(jail, inside.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
      int clone = static_cast<int>(
          ::syscall(SYS_open_tree, AT_FDCWD, base, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC));
      if (at < 0 || clone < 0 ||
          ::syscall(SYS_move_mount, clone, "", at, "",
                    MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) != 0) {
        return 3;
      }
      ::mount("tmpfs", base, "tmpfs", 0, nullptr);  // covered where it is attached
      jail_root = jail;
    } else if (how == "chroot-dircover") {
      std::string covered = std::string(base) + "/d";
      if (::mkdir(covered.c_str(), 0755) != 0) return 3;
      dir = ::open(covered.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
      ::mount("tmpfs", covered.c_str(), "tmpfs", 0, nullptr);
      jail_root = dir;
    } else if (how == "covered" || how == "covered-link" || how == "chroot-covered") {
      ::mount("tmpfs", base, "tmpfs", 0, nullptr);  // a second tmpfs over the first
      if (how == "chroot-covered") jail_root = dir;
      if (how == "covered-link") {
        std::string target = "/proc/self/fd/" + std::to_string(dir) + "/x";
        if (::symlink(target.c_str(), (std::string(base) + "/x").c_str()) != 0) return 3;
      }
    }  // "attached": left as it is, its name usable (the control)
  }
  if (dir < 0) return 3;
  int file = ::openat(dir, "x", O_RDWR | O_CREAT | O_CLOEXEC, 0755);
  if (file < 0) return 3;
  if (jail_root >= 0 && (::fchdir(jail_root) != 0 || ::chroot(".") != 0)) return 3;
  if ((how == "chroot" || how == "chroot-sub") && (::fchdir(dir) != 0 || ::chroot(".") != 0)) {
    return 3;
  }
  struct stat st {};
  ::fstat(file, &st);
  std::printf("nlink=%lu\n", static_cast<unsigned long>(st.st_nlink));
  if (::write(file, kCode, sizeof(kCode)) != sizeof(kCode)) return errno;
  map_and_call(file);
  ::ftruncate(file, 0);
  ::lseek(file, 0, SEEK_SET);
  if (::sendfile(file, self, nullptr, 1 << 30) < 0) return errno;
  ::close(file);
  // Run from a read-only fd: while one open for writing is left, execve fails with ETXTBSY.
  int image = ::openat(dir, "x", O_RDONLY | O_CLOEXEC);
  if (image < 0) return errno;
  static char arg0[] = "program", arg1[] = "payload", arg2[] = "0";
  static char* const program_argv[] = {arg0, arg1, arg2, nullptr};
  int code = in_child([&] {
    ::syscall(SYS_execveat, image, "", program != nullptr ? program_argv : payload_argv(), no_env(),
              AT_EMPTY_PATH);
    return errno;
  });
  if (code == 0 || code == kPayloadRan) {
    std::printf("exec=ran\n");
  } else {
    std::printf("exec=%d\n", code);
  }
  return 0;
}

// Runs the program open as `fd` through it (execveat AT_EMPTY_PATH) as "PROGRAM payload 0", in a
// child. Returns the program's status, or the errno that stopped it.
int run_through_fd(int fd) {
  static char arg0[] = "program", arg1[] = "payload", arg2[] = "0";
  static char* const argv[] = {arg0, arg1, arg2, nullptr};
  return in_child([&] {
    ::syscall(SYS_execveat, fd, "", argv, no_env(), AT_EMPTY_PATH);
    return errno;
  });
}

// fexec-chroot PROGRAM JAIL: opens PROGRAM (a static one), chroots into JAIL, and runs it through
// its fd, the way a sandbox opens its program before it confines itself.
int cmd_fexec_chroot(const char* program, const char* jail) {
  int fd = ::open(program, O_RDONLY | O_CLOEXEC);
  if (fd < 0 || ::chroot(jail) != 0 || ::chdir("/") != 0) return errno;
  return run_through_fd(fd);
}

// fexec-pivot PROGRAM NEW_ROOT: opens PROGRAM (a static one), makes the mount at NEW_ROOT the root
// of a mount namespace of its own (pivot_root, the old root then detached), and runs it through its
// fd as fexec-chroot does, after mapping it executable (map_errno=0, or the errno that refused
// it). Needs CAP_SYS_ADMIN (a user namespace of its own).
int cmd_fexec_pivot(const char* program, const char* new_root) {
  int fd = ::open(program, O_RDONLY | O_CLOEXEC);
  if (fd < 0 || ::unshare(CLONE_NEWNS) != 0 ||
      ::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0 || ::chdir(new_root) != 0 ||
      ::syscall(SYS_pivot_root, ".", ".") != 0 || ::umount2(".", MNT_DETACH) != 0 ||
      ::chdir("/") != 0) {
    return errno;
  }
  void* map = ::mmap(nullptr, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE, fd, 0);
  std::printf("map_errno=%d\n", map == MAP_FAILED ? errno : 0);
  std::fflush(stdout);
  if (map != MAP_FAILED) ::munmap(map, 4096);
  return run_through_fd(fd);
}

// exec-climbing DIR: this program copied into an O_TMPFILE in /dev/shm (memory), then, from DIR
// as the working directory, run by a path that climbs out of it: "../../(...)/proc/self/fd/N".
// Prints exec=ran (the payload ran), or exec=CODE (the errno, or 128+signal).
int cmd_exec_climbing(const char* dir) {
  int image = self_in_tmpfile();
  if (image < 0 || ::chdir(dir) != 0) return 65;
  std::string path;
  for (int i = 0; i < 32; ++i) path += "../";  // ".." at the root stays there
  path += "proc/self/fd/" + std::to_string(image);
  int code = in_child([&] {
    ::execve(path.c_str(), payload_argv(), no_env());
    return errno;
  });
  if (code == kPayloadRan) {
    std::printf("exec=ran\n");
  } else {
    std::printf("exec=%d\n", code);
  }
  return 0;
}

// acl-exec ROUNDS DISK: a memfd made with MFD_NOEXEC_SEAL, holding this program, given the
// POSIX ACL u::rwx,g::rw-,o::rw- (fsetxattr system.posix_acl_access): the kernel updates the
// mode from the ACL without asking the exec seal. Prints acl= (0 or the errno), mode= (octal,
// after), and direct=ran|ERRNO for an execveat of it; then races ROUNDS execs of it against
// DISK as exec-race does.
int cmd_acl_exec(long rounds, const char* disk) {
  int memfd = static_cast<int>(::syscall(SYS_memfd_create, "acl-payload", 0x0008U));
  int self = ::open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
  if (memfd < 0 || self < 0 || ::sendfile(memfd, self, nullptr, 1 << 30) <= 0) return 65;
  struct Entry {
    uint16_t tag, perm;
    uint32_t id;
  } __attribute__((packed));
  struct {
    uint32_t version;
    Entry entries[3];
  } __attribute__((packed)) acl = {2, {{0x01, 7, ~0u}, {0x04, 6, ~0u}, {0x20, 6, ~0u}}};
  int set = ::fsetxattr(memfd, "system.posix_acl_access", &acl, sizeof(acl), 0) == 0 ? 0 : errno;
  struct stat st {};
  ::fstat(memfd, &st);
  std::printf("acl=%d\nmode=%o\n", set, st.st_mode & 07777);
  int image = ::open(("/proc/self/fd/" + std::to_string(memfd)).c_str(), O_RDONLY);
  ::close(memfd);  // not open for writing (ETXTBSY)
  if (image < 0) return 65;
  int code = in_child([&] {
    ::syscall(SYS_execveat, image, "", payload_argv(), no_env(), AT_EMPTY_PATH);
    return errno;
  });
  if (code == kPayloadRan) {
    std::printf("direct=ran\n");
  } else {
    std::printf("direct=%d\n", code);
  }
  return cmd_exec_race(image, rounds, disk);
}

// anon-shared: code in a shared anonymous mapping, made executable with mprotect as a JIT does
// (prints jit_ran=1, or jit_errno=N), then its shmem file opened through /proc/self/map_files
// (root: CAP_CHECKPOINT_RESTORE), unmapped, and mapped executable through that fd
// (map_and_call). Exits 3 when map_files is closed to us.
int cmd_anon_shared() {
  void* region = ::mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (region == MAP_FAILED) return errno;
  std::memcpy(region, kCode, sizeof(kCode));
  if (::mprotect(region, 4096, PROT_READ | PROT_EXEC) != 0) {
    std::printf("jit_errno=%d\n", errno);
  } else {
    std::printf("jit_ran=%d\n", reinterpret_cast<int (*)()>(region)() == 42 ? 1 : 0);
  }
  char path[96];
  auto start = reinterpret_cast<uintptr_t>(region);
  std::snprintf(path, sizeof(path), "/proc/self/map_files/%lx-%lx", start, start + 4096);
  int file = ::open(path, O_RDONLY | O_CLOEXEC);
  if (file < 0) return 3;
  ::munmap(region, 4096);
  map_and_call(file);
  return 0;
}

// loop-exec: code in a memfd, attached to a free loop device (LOOP_CONFIGURE, cleared when
// closed), and the device mapped executable (map_and_call). Exits 3 when no loop device can be
// had.
int cmd_loop_exec() {
  int memfd = static_cast<int>(::syscall(SYS_memfd_create, "loop-backing", 0));
  if (memfd < 0 || ::ftruncate(memfd, 1 << 20) != 0 ||
      ::pwrite(memfd, kCode, sizeof(kCode), 0) != sizeof(kCode)) {
    return errno;
  }
  int control = ::open("/dev/loop-control", O_RDWR | O_CLOEXEC);
  if (control < 0) return 3;
  int number = ::ioctl(control, LOOP_CTL_GET_FREE);
  if (number < 0) return 3;
  int device = ::open(("/dev/loop" + std::to_string(number)).c_str(), O_RDWR | O_CLOEXEC);
  if (device < 0) return 3;
  loop_config config{};
  config.fd = static_cast<uint32_t>(memfd);
  config.info.lo_flags = LO_FLAGS_AUTOCLEAR;
  if (::ioctl(device, LOOP_CONFIGURE, &config) != 0) return 3;
  ::close(memfd);  // the loop device holds it
  map_and_call(device);
  ::ioctl(device, LOOP_CLR_FD, 0);
  return 0;
}

// map-file DIR named|deleted: code in a file on disk (in DIR), mapped readable and made
// executable with mprotect, the file still named or already deleted; runs it. Prints ran=1 when
// the code ran; exits with the errno that stopped it.
int cmd_map_file(const std::string& dir, const std::string& how) {
  std::string path = dir + "/map-file-XXXXXX";
  int fd = ::mkstemp(path.data());
  if (fd < 0) return errno;
  if (::write(fd, kCode, sizeof(kCode)) != sizeof(kCode)) return errno;
  void* map = ::mmap(nullptr, 4096, PROT_READ, MAP_PRIVATE, fd, 0);
  if (map == MAP_FAILED) return errno;
  if (how == "deleted") ::unlink(path.c_str());
  int error = ::mprotect(map, 4096, PROT_READ | PROT_EXEC) == 0 ? 0 : errno;
  if (how != "deleted") ::unlink(path.c_str());
  if (error != 0) return error;
  int value = reinterpret_cast<int (*)()>(map)();
  std::printf("ran=%d\n", value == 42 ? 1 : 0);
  return 0;
}

// ldso: the dynamic loader runs a program from a memfd: ld.so /proc/self/fd/N payload.
int cmd_ldso(const char* loader) {
  int fd = payload_memfd("ldso-payload", 0);
  if (fd < 0) return errno;
  int code = in_child([&] {
    char path[64];
    std::snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
    char arg0[] = "ld.so", arg2[] = "payload";
    char* argv[] = {arg0, path, arg2, nullptr};
    ::execve(loader, argv, no_env());
    return errno;
  });
  std::printf("ldso=%d\n", code);
  return code == kPayloadRan ? 0 : 1;
}

// dlopen LIBRARY: a shared library copied into a memfd and loaded from /proc/self/fd/N.
int cmd_dlopen(const char* library) {
  int fd = static_cast<int>(::syscall(SYS_memfd_create, "lib-payload", 0));
  if (fd < 0 || !copy_file(library, fd)) return errno;
  char path[64];
  std::snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
  void* handle = ::dlopen(path, RTLD_NOW);
  if (handle == nullptr) {
    std::printf("dlopen_error=%s\n", ::dlerror());
    return EACCES;
  }
  auto answer = reinterpret_cast<int (*)()>(::dlsym(handle, "warden_payload_answer"));
  std::printf("ran=%d\n", answer != nullptr && answer() == 42 ? 1 : 0);
  return 0;
}

// shm-exec: System V shared memory attached executable (SHM_EXEC).
int cmd_shm_exec() {
  int id = ::shmget(IPC_PRIVATE, 4096, IPC_CREAT | 0600);
  if (id < 0) return errno;
  void* at = ::shmat(id, nullptr, SHM_EXEC);
  int err = at == reinterpret_cast<void*>(-1) ? errno : 0;
  ::shmctl(id, IPC_RMID, nullptr);
  return err;
}

// untraced: clone(CLONE_UNTRACED); exits with its errno (0: a child ran untraced).
int cmd_untraced() {
  long child = ::syscall(SYS_clone, CLONE_UNTRACED | SIGCHLD, 0, 0, 0, 0);
  if (child < 0) return errno;
  if (child == 0) _exit(0);
  int status = 0;
  ::waitpid(static_cast<pid_t>(child), &status, 0);
  return 0;
}

// untraced-sleeper [TAG]: a child (untraced where the kernel lets us) that outlives us; prints
// ready. TAG is not used: it tells this run's processes from another's by their command line.
int cmd_untraced_sleeper() {
  long child = ::syscall(SYS_clone, CLONE_UNTRACED | SIGCHLD, 0, 0, 0, 0);
  if (child < 0) child = ::fork();
  if (child == 0) {
    for (;;) ::pause();
  }
  std::printf("untraced=%d\nready\n", errno == 0 ? 1 : 0);
  std::fflush(stdout);
  for (;;) ::pause();
}

// reach: looks for memfd-warden (any process named so) and tries to trace it, open its memory,
// signal it, read it, and to write the cgroup controls that would freeze or kill it. Also tries
// to trace and read memfd-warden's init in the tree's PID namespace ("warden-init").
int cmd_reach() {
  // The host's /proc may lie under the tree's own. Unmount it only in a mount namespace of our
  // own: run natively as root, an unmount in the host's namespace would take /proc away from
  // the whole machine.
  if (::unshare(CLONE_NEWNS) == 0 &&
      ::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) == 0) {
    ::umount2("/proc", MNT_DETACH);
    struct stat st {};
    // Nothing beneath (a native run): a /proc of our own, of the same processes.
    if (::stat("/proc/self", &st) != 0) ::mount("proc", "/proc", "proc", 0, nullptr);
  }
  int found = 0, traced = 0, mem = 0, signalled = 0, pidfd_signalled = 0, read_memory = 0;
  int init_traced = 0, init_mem = 0;
  if (DIR* proc = ::opendir("/proc")) {
    while (dirent* entry = ::readdir(proc)) {
      char* end = nullptr;
      long pid = std::strtol(entry->d_name, &end, 10);
      if (pid <= 0 || *end != '\0' || pid == ::getpid()) continue;
      char path[96], comm[32] = {};
      std::snprintf(path, sizeof(path), "/proc/%ld/comm", pid);
      int fd = ::open(path, O_RDONLY);
      if (fd < 0) continue;
      ssize_t n = ::read(fd, comm, sizeof(comm) - 1);
      ::close(fd);
      if (n > 0 && std::strncmp(comm, "warden-init", 11) == 0) {
        if (::ptrace(PTRACE_SEIZE, static_cast<pid_t>(pid), nullptr, nullptr) == 0) {
          ++init_traced;
          ::ptrace(PTRACE_DETACH, static_cast<pid_t>(pid), nullptr, nullptr);
        }
        std::snprintf(path, sizeof(path), "/proc/%ld/mem", pid);
        fd = ::open(path, O_RDWR);
        if (fd >= 0) {
          ++init_mem;
          ::close(fd);
        }
        continue;
      }
      if (n <= 0 || std::strncmp(comm, "memfd-warden", 12) != 0) continue;
      ++found;
      if (::ptrace(PTRACE_SEIZE, static_cast<pid_t>(pid), nullptr, nullptr) == 0) {
        ++traced;
        ::ptrace(PTRACE_DETACH, static_cast<pid_t>(pid), nullptr, nullptr);
      }
      std::snprintf(path, sizeof(path), "/proc/%ld/mem", pid);
      fd = ::open(path, O_RDWR);
      if (fd >= 0) {
        ++mem;
        ::close(fd);
      }
      if (::kill(static_cast<pid_t>(pid), 0) == 0) ++signalled;
      std::snprintf(path, sizeof(path), "/proc/%ld", pid);
      fd = ::open(path, O_RDONLY | O_DIRECTORY);
      if (fd >= 0 && ::syscall(SYS_pidfd_send_signal, fd, 0, nullptr, 0) == 0) ++pidfd_signalled;
      if (fd >= 0) ::close(fd);
      char byte = 0;
      iovec local{&byte, 1}, remote{reinterpret_cast<void*>(0x400000), 1};
      // Any readable address proves access; EFAULT (not EPERM/ESRCH) says we got that far.
      long got = ::process_vm_readv(static_cast<pid_t>(pid), &local, 1, &remote, 1, 0);
      if (got >= 0 || errno == EFAULT) ++read_memory;
    }
    ::closedir(proc);
  }
  // The cgroup tree: a writable one lets a root target freeze or kill the cgroup it shares with
  // memfd-warden (freezer.state, cgroup.freeze, cgroup.kill) or move itself out of it. Measured
  // by making (and removing) a cgroup of our own, and by opening those controls for writing.
  int cgroup_writable = 0;
  for (const char* hierarchy :
       {"/sys/fs/cgroup/freezer", "/sys/fs/cgroup/unified", "/sys/fs/cgroup"}) {
    char path[128];
    std::snprintf(path, sizeof(path), "%s/warden-attack-%d", hierarchy, ::getpid());
    if (::mkdir(path, 0755) == 0) {
      ++cgroup_writable;
      ::rmdir(path);
    }
  }
  for (const char* control :
       {"/sys/fs/cgroup/freezer/freezer.state", "/sys/fs/cgroup/cgroup.freeze",
        "/sys/fs/cgroup/unified/cgroup.freeze", "/sys/fs/cgroup/cgroup.kill"}) {
    int fd = ::open(control, O_WRONLY);
    if (fd >= 0) {
      ++cgroup_writable;
      ::close(fd);
    }
  }
  std::printf(
      "found=%d\ntraced=%d\nmem=%d\nsignalled=%d\npidfd_signalled=%d\nread_memory=%d\n"
      "cgroup_writable=%d\ninit_traced=%d\ninit_mem=%d\n",
      found, traced, mem, signalled, pidfd_signalled, read_memory, cgroup_writable, init_traced,
      init_mem);
  return 0;
}

// decoy NAME: a process named NAME (memfd-warden, warden-init), for reach's control run.
int cmd_decoy(const char* name) {
  ::prctl(PR_SET_NAME, name, 0, 0, 0);
  std::printf("ready\n");
  std::fflush(stdout);
  for (;;) ::pause();
}

// aio SIZE: Linux AIO writes one byte at offset SIZE-1 of a memfd (growing it to SIZE).
int cmd_aio(long size) {
  int fd = static_cast<int>(::syscall(SYS_memfd_create, "aio", 0));
  if (fd < 0) return errno;
  aio_context_t context = 0;
  if (::syscall(SYS_io_setup, 1, &context) != 0) return errno;
  char byte = 'x';
  iocb request{};
  request.aio_lio_opcode = IOCB_CMD_PWRITE;
  request.aio_fildes = static_cast<uint32_t>(fd);
  request.aio_buf = reinterpret_cast<uint64_t>(&byte);
  request.aio_nbytes = 1;
  request.aio_offset = size - 1;
  iocb* requests[] = {&request};
  if (::syscall(SYS_io_submit, context, 1, requests) != 1) return errno;
  io_event event{};
  if (::syscall(SYS_io_getevents, context, 1, 1, &event, nullptr) != 1) return errno;
  struct stat st {};
  ::fstat(fd, &st);
  std::printf("size=%lld\n", static_cast<long long>(st.st_size));
  return event.res < 0 ? static_cast<int>(-event.res) : 0;
}

// copy-position-race HOW ROUNDS: a second thread keeps moving a memfd's file position between 0
// and 1 GiB while this one copies 4 MiB into it at that position, ROUNDS times or until the memfd
// is past 1 GiB. HOW: cfr (copy_file_range from a 4 MiB memfd), sendfile (from /dev/zero), splice
// (64 KiB from a pipe); cfr-append: the second thread turns O_APPEND on and off instead, and each
// copy goes to offset 0 (which O_APPEND, set after the kernel's check, sends to the end), until the
// memfd is past 64 MiB; write-append: the same with a 4 MiB pwrite at 0 (natively O_APPEND, read
// once when the write starts, decides where all of it goes). A copy booked at one position and
// made at another lands past what was checked. Prints escaped=0|1 and size_mib=N.
int cmd_copy_position_race(const std::string& how, long rounds) {
  constexpr off_t kFar = off_t{1} << 30;
  constexpr size_t kPiece = 4 << 20;
  int source = static_cast<int>(::syscall(SYS_memfd_create, "race-source", MFD_CLOEXEC));
  int zero = ::open("/dev/zero", O_RDONLY | O_CLOEXEC);
  int memfd = static_cast<int>(::syscall(SYS_memfd_create, "race-target", MFD_CLOEXEC));
  if (source < 0 || zero < 0 || memfd < 0 || ::ftruncate(source, kPiece) != 0) return errno;
  std::atomic<bool> stop{false};
  std::atomic<long> moves{0};
  std::thread mover([&] {
    for (long i = 0; !stop.load(std::memory_order_relaxed); ++i) {
      if (how == "cfr-append" || how == "write-append") {
        ::fcntl(memfd, F_SETFL, (i & 1) ? O_APPEND : 0);
      } else {
        ::lseek(memfd, (i & 1) ? kFar : 0, SEEK_SET);
      }
      moves.store(i + 1, std::memory_order_release);
    }
  });
  struct stat st {};
  bool escaped = false;
  std::vector<char> chunk(64 << 10, 'p');
  std::vector<char> bytes(how == "write-append" ? kPiece : 0, 'w');
  long seen = 0;
  for (long i = 0; i < rounds && !escaped; ++i) {
    // The mover has moved the position since the last copy (a loaded machine may not run it).
    while (moves.load(std::memory_order_acquire) == seen) std::this_thread::yield();
    seen = moves.load(std::memory_order_acquire);
    if (how == "cfr") {
      loff_t in = 0;
      (void)::copy_file_range(source, &in, memfd, nullptr, kPiece, 0);
    } else if (how == "cfr-append") {
      loff_t in = 0, out = 0;
      (void)::copy_file_range(source, &in, memfd, &out, kPiece, 0);
    } else if (how == "write-append") {
      (void)!::pwrite(memfd, bytes.data(), bytes.size(), 0);
    } else if (how == "sendfile") {
      (void)::sendfile(memfd, zero, nullptr, kPiece);
    } else {
      int pipe_fds[2];
      if (::pipe2(pipe_fds, O_CLOEXEC) != 0) break;
      (void)!::write(pipe_fds[1], chunk.data(), chunk.size());
      (void)::splice(pipe_fds[0], nullptr, memfd, nullptr, chunk.size(), 0);
      ::close(pipe_fds[0]);
      ::close(pipe_fds[1]);
    }
    ::fstat(memfd, &st);
    bool appending = how == "cfr-append" || how == "write-append";
    escaped = st.st_size > (appending ? off_t{64} << 20 : kFar);
  }
  stop = true;
  mover.join();
  std::printf("escaped=%d\nsize_mib=%lld\n", escaped ? 1 : 0,
              static_cast<long long>(st.st_size >> 20));
  return 0;
}

// seal-race ROUNDS: each round a second thread seals a fresh memfd against writing
// (F_ADD_SEALS, F_SEAL_WRITE) about 2 ms into a 64 MiB write to it from this one. The kernel's
// write holds the file's lock throughout, and the seal waits for it: the write is whole, or
// refused (EPERM) when the seal came first. Prints whole=, refused= and short= (writes that
// ended part way, which the kernel never makes here).
int cmd_seal_race(long rounds) {
  constexpr size_t kLength = size_t{64} << 20;
  std::vector<char> bytes(kLength, 's');
  long whole = 0, refused = 0, cut = 0;
  for (long i = 0; i < rounds; ++i) {
    int memfd = static_cast<int>(
        ::syscall(SYS_memfd_create, "sealed-late", MFD_CLOEXEC | MFD_ALLOW_SEALING));
    if (memfd < 0) return errno;
    std::atomic<bool> go{false};
    std::thread sealer([&] {
      while (!go.load(std::memory_order_acquire)) std::this_thread::yield();
      ::usleep(2000);
      (void)::fcntl(memfd, F_ADD_SEALS, F_SEAL_WRITE);
    });
    go.store(true, std::memory_order_release);
    ssize_t written = ::write(memfd, bytes.data(), bytes.size());
    int error = errno;
    sealer.join();
    if (written == static_cast<ssize_t>(kLength)) {
      ++whole;
    } else if (written < 0 && error == EPERM) {
      ++refused;
    } else {
      ++cut;
    }
    ::close(memfd);
  }
  std::printf("whole=%ld\nrefused=%ld\nshort=%ld\n", whole, refused, cut);
  return 0;
}

// lease-write: a write lease on a memfd's only description (reopened write-only through
// /proc/self/fd, the first closed), then a write through it, SIGIO left to kill. Natively the
// leaseholder's own write breaks nothing. Prints lease=ERRNO and written=N (or -ERRNO).
int cmd_lease_write() {
  int memfd = static_cast<int>(::syscall(SYS_memfd_create, "leased", MFD_CLOEXEC));
  if (memfd < 0) return errno;
  std::string self = "/proc/self/fd/" + std::to_string(memfd);
  int only = ::open(self.c_str(), O_WRONLY | O_CLOEXEC);
  if (only < 0) return errno;
  ::close(memfd);
  int lease = ::fcntl(only, F_SETLEASE, F_WRLCK);
  std::printf("lease=%d\n", lease == 0 ? 0 : errno);
  std::fflush(stdout);
  ssize_t written = ::write(only, "hello", 5);
  std::printf("written=%zd\n", written >= 0 ? written : -static_cast<ssize_t>(errno));
  return 0;
}

// xattr-swap HOW ROUNDS DIR: a second thread keeps swapping what a name means between a file in
// DIR and a memfd, while this one sets ROUNDS user.* attributes of 1 KiB through that name. HOW:
// fd (dup2 of the file and the memfd onto one fd number, then fsetxattr), path (two symlinks,
// one to the file and one to /proc/self/fd/M, exchanged by renameat2, then setxattr); fd-acl
// (the fd swapped, a POSIX ACL of 100 named users set each time); fd-flip (the fd swapped, and
// with it the attribute's name between security.flip, with the file, and user.fN, with the
// memfd). Each set waits until the swapper has swapped since the last. Prints on_memfd= and
// on_file= (attributes each holds at the end).
int cmd_xattr_swap(const std::string& how, long rounds, const std::string& dir) {
  constexpr int kSwapped = 900;  // the fd number that names one and then the other
  std::string file_path = dir + "/swapped", a = dir + "/a", b = dir + "/b";
  int file = ::open(file_path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  int memfd = static_cast<int>(::syscall(SYS_memfd_create, "swap-target", MFD_CLOEXEC));
  if (file < 0 || memfd < 0 || ::dup2(file, kSwapped) < 0) return errno;
  std::string proc_memfd = "/proc/self/fd/" + std::to_string(memfd);
  if (::symlink(file_path.c_str(), a.c_str()) != 0 || ::symlink(proc_memfd.c_str(), b.c_str()) != 0)
    return errno;
  std::atomic<bool> stop{false};
  std::atomic<long> swaps{0};
  char name_buffer[32] = "security.flip";  // rewritten by the swapper for fd-flip
  std::thread swapper([&] {
    for (long i = 0; !stop.load(std::memory_order_relaxed); ++i) {
      if (how != "path") {
        ::dup3((i & 1) ? file : memfd, kSwapped, O_CLOEXEC);
        if (how == "fd-flip") {
          if (i & 1) {
            std::strcpy(name_buffer, "security.flip");
          } else {
            std::snprintf(name_buffer, sizeof(name_buffer), "user.f%ld", i);
          }
        }
      } else {
        ::syscall(SYS_renameat2, AT_FDCWD, a.c_str(), AT_FDCWD, b.c_str(), RENAME_EXCHANGE);
      }
      swaps.store(i + 1, std::memory_order_release);
    }
  });
  std::vector<char> value(1024, 'x');
  // version 2; u::rw-, 100 named users r--, g::r--, m::r--, o::r-- (as 32-bit words).
  std::vector<uint32_t> acl{2, 0x01 | (6 << 16), ~0u};
  for (uint32_t user = 1000; user < 1100; ++user) {
    acl.push_back(0x02 | (4 << 16));
    acl.push_back(user);
  }
  for (uint32_t tag : {0x04u, 0x10u, 0x20u}) {
    acl.push_back(tag | (4 << 16));
    acl.push_back(~0u);
  }
  long seen = 0;
  for (long i = 0; i < rounds; ++i) {
    while (swaps.load(std::memory_order_acquire) == seen) std::this_thread::yield();
    seen = swaps.load(std::memory_order_acquire);
    std::string name = "user.r" + std::to_string(i);
    if (how == "fd") {
      (void)::fsetxattr(kSwapped, name.c_str(), value.data(), value.size(), 0);
    } else if (how == "fd-acl") {
      (void)::fsetxattr(kSwapped, "system.posix_acl_access", acl.data(), acl.size() * 4, 0);
    } else if (how == "fd-flip") {
      (void)::fsetxattr(kSwapped, name_buffer, value.data(), value.size(), 0);
    } else {
      (void)::setxattr(a.c_str(), name.c_str(), value.data(), value.size(), 0);
    }
  }
  stop = true;
  swapper.join();
  auto count = [](int fd) {
    std::vector<char> names(1 << 20);
    ssize_t listed = ::flistxattr(fd, names.data(), names.size());
    long held = 0;
    for (ssize_t i = 0; i < listed; i += static_cast<ssize_t>(std::strlen(&names[i])) + 1) ++held;
    return held;
  };
  std::printf("on_memfd=%ld\non_file=%ld\n", count(memfd), count(file));
  ::unlink(a.c_str());
  ::unlink(b.c_str());
  ::unlink(file_path.c_str());
  return 0;
}

// truncate-path SIZE [SUFFIX]: grows a memfd to SIZE through truncate("/proc/self/fd/N"), with
// SUFFIX ("/": a name that must be a directory) after it.
int cmd_truncate_path(long size, const char* suffix) {
  int fd = static_cast<int>(::syscall(SYS_memfd_create, "by-path", 0));
  if (fd < 0) return errno;
  char path[64];
  std::snprintf(path, sizeof(path), "/proc/self/fd/%d%s", fd, suffix);
  int err = ::truncate(path, size) == 0 ? 0 : errno;
  struct stat st {};
  ::fstat(fd, &st);
  std::printf("size=%lld\n", static_cast<long long>(st.st_size));
  return err;
}

// truncate-args: truncate's argument checks in the kernel's order: a null path (null), a null
// path with a negative length (null_negative), and a negative length for a path that does not
// exist (negative). Prints each as CASE=ERRNO.
int cmd_truncate_args() {
  auto report = [](const char* name, long rc) {
    std::printf("%s=%d\n", name, rc == 0 ? 0 : errno);
  };
  report("null", ::syscall(SYS_truncate, nullptr, 1));
  report("null_negative", ::syscall(SYS_truncate, nullptr, -1));
  report("negative", ::truncate("/no-such-dir/no-such-file", -1));
  return 0;
}

// userns-truncate PATH: makes a user namespace of its own (a full effective set, valid only
// inside it), then, without an exec, truncate(PATH, 0). Exits with the errno, 3 when it cannot
// make the namespace.
int cmd_userns_truncate(const char* path) {
  if (::unshare(CLONE_NEWUSER) != 0) return 3;
  return ::truncate(path, 0) == 0 ? 0 : errno;
}

// secret-flight COUNT SIZE [nested]: COUNT memfd_secret files of SIZE bytes, each filled, sent
// over a socketpair that nobody reads, and closed here. Prints how many were made in full.
// "nested": done by the first process of new user, network and PID namespaces of its own, whose
// sockets the tree's network namespace does not list (exit 3 when they cannot be had).
int cmd_secret_flight(long count, long size, bool nested) {
  if (nested) {
    if (::unshare(CLONE_NEWUSER | CLONE_NEWNET | CLONE_NEWPID) != 0) return 3;
    std::fflush(stdout);
    pid_t child = ::fork();
    if (child == 0) {
      int code = cmd_secret_flight(count, size, false);
      std::fflush(stdout);
      ::_exit(code);
    }
    int status = 0;
    ::waitpid(child, &status, 0);
    return status_code(status);
  }
  int pair[2];
  if (::socketpair(AF_UNIX, SOCK_DGRAM, 0, pair) != 0) return errno;
  long made = 0;
  int err = 0;
  for (long i = 0; i < count; ++i) {
    int fd = static_cast<int>(::syscall(SYS_memfd_secret, 0));
    if (fd < 0) {
      err = errno;
      break;
    }
    if (::ftruncate(fd, size) != 0) {
      err = errno;
      break;
    }
    void* map =
        ::mmap(nullptr, static_cast<size_t>(size), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (map == MAP_FAILED) {
      err = errno;
      break;
    }
    std::memset(map, 0x5a, static_cast<size_t>(size));
    ::munmap(map, static_cast<size_t>(size));
    char byte = 's';
    iovec data{&byte, 1};
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
    msghdr message{};
    message.msg_iov = &data;
    message.msg_iovlen = 1;
    message.msg_control = control;
    message.msg_controllen = sizeof(control);
    cmsghdr* header = CMSG_FIRSTHDR(&message);
    header->cmsg_level = SOL_SOCKET;
    header->cmsg_type = SCM_RIGHTS;
    header->cmsg_len = CMSG_LEN(sizeof(int));
    std::memcpy(CMSG_DATA(header), &fd, sizeof(int));
    if (::sendmsg(pair[0], &message, 0) != 1) {
      err = errno;
      break;
    }
    ::close(fd);
    ++made;
  }
  std::printf("made=%ld\n", made);
  return err;
}

// A record that looks like memfd-warden's: a run id, a seq and a chain value of the right shape.
constexpr char kForged[] =
    "{\"time\":\"2026-01-01T00:00:00.000000Z\",\"event\":\"decision\",\"syscall\":"
    "\"memfd_create\",\"decision\":\"allow\",\"name\":\"benign\",\"run\":"
    "\"00000000000000000000000000000000\",\"seq\":1,\"chain\":"
    "\"0000000000000000000000000000000000000000000000000000000000000000\"}\n";

// tamper MODE PATH: what a target does to the audit log at PATH after its memfd_create "evil" was
// denied: truncate, rewrite (garbage over the start), append (a forged record), unlink, rename,
// relink (a link elsewhere, then an unlink: a rename without IN_MOVE_SELF), or repoint (PATH is
// DIR/LINK/FILE with LINK a symlink to a directory: LINK now points to a directory with a fake
// FILE, and the real file's mode is touched); the first five put a fake log in its place. Then it
// makes another memfd, so that memfd-warden writes again. Prints tampered=ERRNO (0: the change went
// through) and exits 0.
int cmd_tamper(const std::string& mode, const char* path) {
  ::syscall(SYS_memfd_create, "evil", 0);
  int err = 0;
  auto fake_at_path = [&] {
    int fd = ::open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
    if (fd >= 0) {
      (void)!::write(fd, kForged, sizeof(kForged) - 1);
      ::close(fd);
    }
  };
  if (mode == "truncate") {
    err = ::truncate(path, 0) == 0 ? 0 : errno;
  } else if (mode == "rewrite") {
    int fd = ::open(path, O_WRONLY);
    err = fd >= 0 && ::pwrite(fd, "{\"garbage\":1}\n", 14, 0) == 14 ? 0 : errno;
    if (fd >= 0) ::close(fd);
  } else if (mode == "append") {
    int fd = ::open(path, O_WRONLY | O_APPEND);
    err = fd >= 0 && ::write(fd, kForged, sizeof(kForged) - 1) > 0 ? 0 : errno;
    if (fd >= 0) ::close(fd);
  } else if (mode == "unlink") {
    err = ::unlink(path) == 0 ? 0 : errno;
    if (err == 0) fake_at_path();
  } else if (mode == "rename") {
    std::string away = std::string(path) + ".moved";
    err = ::rename(path, away.c_str()) == 0 ? 0 : errno;
    if (err == 0) fake_at_path();
  } else if (mode == "repoint") {
    std::string file = path, link = file.substr(0, file.rfind('/'));
    std::string dir = link.substr(0, link.rfind('/'));
    char target[4096] = {};
    err = ::readlink(link.c_str(), target, sizeof(target) - 1) > 0 ? 0 : errno;
    std::string real = (target[0] == '/' ? std::string(target) : dir + "/" + target) +
                       file.substr(file.rfind('/'));
    std::string fresh = link + ".new";
    if (err == 0 && (::mkdir((dir + "/elsewhere").c_str(), 0755) != 0 ||
                     ::symlink("elsewhere", fresh.c_str()) != 0 ||
                     ::rename(fresh.c_str(), link.c_str()) != 0)) {
      err = errno;
    }
    if (err == 0) {
      fake_at_path();
      err = ::chmod(real.c_str(), 0640) == 0 ? 0 : errno;  // an IN_ATTRIB on the real log
    }
  } else if (mode == "relink") {
    std::string away = std::string(path) + ".moved";
    err = ::link(path, away.c_str()) == 0 && ::unlink(path) == 0 ? 0 : errno;
    if (err == 0) fake_at_path();
  } else {
    return EINVAL;
  }
  std::printf("tampered=%d\n", err);
  std::fflush(stdout);
  int fd = static_cast<int>(::syscall(SYS_memfd_create, "after", 0));
  if (fd >= 0) ::close(fd);
  return 0;
}

// tamper-fd N: writes a forged record to fd N (memfd-warden's audit fd, if it leaked to us).
int cmd_tamper_fd(int fd) {
  ::syscall(SYS_memfd_create, "evil", 0);
  int err = ::write(fd, kForged, sizeof(kForged) - 1) > 0 ? 0 : errno;
  std::printf("tampered=%d\n", err);
  return 0;
}

// tamper-socket PATH: connects to the audit socket itself and sends a forged record.
int cmd_tamper_socket(const char* path) {
  ::syscall(SYS_memfd_create, "evil", 0);
  int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::strncpy(address.sun_path, path, sizeof(address.sun_path) - 1);
  int err = ::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0 &&
                    ::write(fd, kForged, sizeof(kForged) - 1) > 0
                ? 0
                : errno;
  std::printf("tampered=%d\n", err);
  ::close(fd);
  return 0;
}

// x32-create: memfd_create through the x32 ABI.
int cmd_x32_create() {
  long fd = ::syscall(0x40000000 | 319, "x32", 0);
  return fd >= 0 ? 0 : errno;
}

// i386-read-exec DIR gnu-stack|no-gnu-stack: writes a tiny i386 program to DIR and runs it. The
// program makes a memfd holding code (mov eax, 77; ret), maps it with mmap2 and only PROT_READ,
// and calls it: it exits with kPayloadRan if the code ran, with the errno of a failed call, or
// dies of SIGSEGV. "no-gnu-stack" leaves out the PT_GNU_STACK header: for such an i386 program
// the kernel's ELF loader sets READ_IMPLIES_EXEC, which makes the readable mapping executable.
int cmd_i386_read_exec(const std::string& dir, const std::string& stack) {
  // Assembled with `as --32`; the two absolute addresses (the name, the payload) are set below.
  unsigned char code[] = {
      0xb8, 0x64,        0x01, 0x00, 0x00,              // mov eax, 356 (memfd_create)
      0xbb, 0x00,        0x00, 0x00, 0x00,              // mov ebx, NAME
      0x31, 0xc9,        0xcd, 0x80,                    // xor ecx, ecx; int 0x80
      0x85, 0xc0,        0x78, 0x47,                    // test eax, eax; js fail
      0x89, 0xc6,                                       // mov esi, eax
      0xb8, 0x04,        0x00, 0x00, 0x00, 0x89, 0xf3,  // mov eax, 4 (write); mov ebx, esi
      0xb9, 0x00,        0x00, 0x00, 0x00,              // mov ecx, PAYLOAD
      0xba, 0x06,        0x00, 0x00, 0x00, 0xcd, 0x80,  // mov edx, 6; int 0x80
      0x85, 0xc0,        0x78, 0x2e,                    // test eax, eax; js fail
      0x89, 0xf7,        0x31, 0xdb,                    // mov edi, esi; xor ebx, ebx
      0xb9, 0x00,        0x10, 0x00, 0x00,              // mov ecx, 4096
      0xba, 0x01,        0x00, 0x00, 0x00,              // mov edx, PROT_READ
      0xbe, 0x02,        0x00, 0x00, 0x00,              // mov esi, MAP_PRIVATE
      0x31, 0xed,                                       // xor ebp, ebp
      0xb8, 0xc0,        0x00, 0x00, 0x00, 0xcd, 0x80,  // mov eax, 192 (mmap2); int 0x80
      0x3d, 0x00,        0xf0, 0xff, 0xff, 0x77, 0x0b,  // cmp eax, -4096; ja fail
      0xff, 0xd0,        0x89, 0xc3,                    // call eax; mov ebx, eax
      0xb8, 0x01,        0x00, 0x00, 0x00, 0xcd, 0x80,  // mov eax, 1 (exit); int 0x80
      0xf7, 0xd8,        0x89, 0xc3,                    // fail: neg eax; mov ebx, eax
      0xb8, 0x01,        0x00, 0x00, 0x00, 0xcd, 0x80,  // mov eax, 1 (exit); int 0x80
      'r',  'e',         'x',  0x00,                    // NAME
      0xb8, kPayloadRan, 0x00, 0x00, 0x00, 0xc3         // PAYLOAD: mov eax, 77; ret
  };
  constexpr uint32_t kBase = 0x08048000;
  constexpr uint32_t kCodeOffset = 52 + 2 * 32;  // the ELF header, two program headers
  constexpr uint32_t kPayload = kBase + kCodeOffset + sizeof(code) - 6, kName = kPayload - 4;
  auto put32 = [](unsigned char* at, uint32_t value) { std::memcpy(at, &value, 4); };
  put32(code + 6, kName);      // mov ebx's operand
  put32(code + 28, kPayload);  // mov ecx's operand
  unsigned char image[kCodeOffset + sizeof(code)] = {0x7f, 'E', 'L', 'F', 1, 1, 1};
  constexpr uint32_t size = sizeof(image);
  auto put16 = [](unsigned char* at, uint16_t value) { std::memcpy(at, &value, 2); };
  put16(image + 16, 2);                    // e_type: ET_EXEC
  put16(image + 18, 3);                    // e_machine: EM_386
  put32(image + 20, 1);                    // e_version
  put32(image + 24, kBase + kCodeOffset);  // e_entry
  put32(image + 28, 52);                   // e_phoff
  put16(image + 40, 52);                   // e_ehsize
  put16(image + 42, 32);                   // e_phentsize
  put16(image + 44, 2);                    // e_phnum
  unsigned char* load = image + 52;        // PT_LOAD of the whole file, readable and executable
  put32(load + 0, 1);
  put32(load + 8, kBase);
  put32(load + 12, kBase);
  put32(load + 16, size);
  put32(load + 20, size);
  put32(load + 24, 5);
  put32(load + 28, 4096);
  unsigned char* second = image + 84;  // PT_GNU_STACK (not executable), or PT_NULL
  if (stack == "gnu-stack") {
    put32(second + 0, 0x6474e551);
    put32(second + 24, 6);
  }
  std::memcpy(image + kCodeOffset, code, sizeof(code));
  std::string path = dir + "/i386-read-exec";
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0755);
  if (fd < 0) return errno;
  bool written = ::write(fd, image, size) == static_cast<ssize_t>(size);
  ::close(fd);
  if (!written) return EIO;
  char* argv[] = {path.data(), nullptr};
  ::execve(path.c_str(), argv, no_env());
  return errno;  // ENOEXEC: a kernel without i386 emulation
}

// int80-high MODE: i386 calls made from 64-bit code with int $0x80, each pointer argument carrying
// a bit above 32 (HIGH = LOW + 4 GiB). The kernel's i386 handlers take the low 32 bits of each
// register, so they act on what is at LOW; seccomp and ptrace report the whole 64. HIGH holds
// something harmless, LOW what the policy refuses:
//   name      memfd_create: "good" at HIGH, NAME (argv[3]) at LOW. Exits 0 if it made one, else
//             the errno; prints link= (the memfd's /proc link).
//   mprotect  a memfd holding code mapped read-only at LOW, then mprotect(HIGH, PROT_EXEC) and a
//             call into it: kPayloadRan if the code ran, else the errno.
//   exec      this program copied into an O_TMPFILE in /dev/shm, run as "payload" by
//             execve(HIGH): "/proc/self/fd/N" at LOW, "/bin/true" at HIGH. Returns the errno.
long int80_three(long nr, long b, long c, long d) {
  long result;
  asm volatile("int $0x80" : "=a"(result) : "a"(nr), "b"(b), "c"(c), "d"(d) : "memory");
  return result;
}

int cmd_int80_high(const std::string& mode, const char* name) {
  constexpr uintptr_t kLow = 0x30000000;
  constexpr uintptr_t kHigh = kLow + (uintptr_t{1} << 32);
  auto map_at = [](uintptr_t address, int prot, int flags, int fd) {
    return ::mmap(reinterpret_cast<void*>(address), 4096, prot, flags | MAP_FIXED_NOREPLACE, fd, 0);
  };
  if (map_at(kHigh, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1) !=
      reinterpret_cast<void*>(kHigh)) {
    return 64;
  }
  char* high = reinterpret_cast<char*>(kHigh);
  if (mode == "mprotect") {
    static const unsigned char code[] = {0xb8, kPayloadRan, 0, 0, 0, 0xc3};  // mov eax, 77; ret
    int memfd = ::memfd_create("code", MFD_CLOEXEC);
    if (memfd < 0 || ::write(memfd, code, sizeof(code)) != sizeof(code)) return 65;
    if (map_at(kLow, PROT_READ, MAP_SHARED, memfd) != reinterpret_cast<void*>(kLow)) return 66;
    long changed = int80_three(125, static_cast<long>(kHigh), 4096, PROT_READ | PROT_EXEC);
    if (changed != 0) return static_cast<int>(-changed);
    return reinterpret_cast<int (*)()>(kLow)();
  }
  if (map_at(kLow, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1) !=
      reinterpret_cast<void*>(kLow)) {
    return 64;
  }
  char* low = reinterpret_cast<char*>(kLow);
  if (mode == "name") {
    std::strcpy(high, "good");
    std::snprintf(low, 250, "%s", name);
    long fd = int80_three(356, static_cast<long>(kHigh), 0, 0);  // i386 memfd_create
    if (fd < 0) return static_cast<int>(-fd);
    char path[64], link[256] = {};
    std::snprintf(path, sizeof(path), "/proc/self/fd/%ld", fd);
    ::readlink(path, link, sizeof(link) - 1);
    std::printf("link=%s\n", link);
    return 0;
  }
  // exec: argv for an i386 execve is an array of 32-bit pointers, here at LOW too.
  int readable = self_in_tmpfile();
  if (readable < 0) return 65;
  std::snprintf(low, 64, "/proc/self/fd/%d", readable);
  std::strcpy(high, "/bin/true");
  std::strcpy(low + 256, "attack");
  std::strcpy(low + 320, "payload");
  auto* argv32 = reinterpret_cast<uint32_t*>(low + 512);
  argv32[0] = static_cast<uint32_t>(kLow + 256);
  argv32[1] = static_cast<uint32_t>(kLow + 320);
  argv32[2] = 0;
  long ran = int80_three(11, static_cast<long>(kHigh), static_cast<long>(kLow + 512), 0);
  return static_cast<int>(-ran);
}

// shared-table-untrackable: uses up this user's inotify watches (a user namespace's low
// user.max_inotify_watches, shared with a memfd-warden started in it), then a child sharing our
// fd table (clone CLONE_FILES, a process, not a thread) makes a memfd that cannot be watched.
// Prints child=exited:N or child=killed:N, and held=N, the memfds in our table after it. Exits 0.
int cmd_shared_table_untrackable() {
  const char* paths[] = {"/", "/proc", "/etc", "/usr", "/bin", "/tmp", "/dev", "/sys", "/var"};
  for (bool full = false; !full;) {
    int instance = ::inotify_init1(IN_CLOEXEC);
    if (instance < 0) break;
    for (const char* path : paths) {
      if (::inotify_add_watch(instance, path, IN_ATTRIB) < 0 && errno == ENOSPC) full = true;
    }
  }
  pid_t child = static_cast<pid_t>(::syscall(SYS_clone, CLONE_FILES | SIGCHLD, 0, 0, 0, 0));
  if (child == 0) _exit(::memfd_create("shared", 0) >= 0 ? 0 : errno);
  int status = 0;
  ::waitpid(child, &status, 0);
  if (WIFSIGNALED(status)) {
    std::printf("child=killed:%d\n", WTERMSIG(status));
  } else {
    std::printf("child=exited:%d\n", WEXITSTATUS(status));
  }
  int held = 0;
  DIR* fds = ::opendir("/proc/self/fd");
  while (dirent* entry = fds != nullptr ? ::readdir(fds) : nullptr) {
    char path[300], link[300] = {};
    std::snprintf(path, sizeof(path), "/proc/self/fd/%s", entry->d_name);
    if (::readlink(path, link, sizeof(link) - 1) > 0 && std::strncmp(link, "/memfd:", 7) == 0) {
      ++held;
    }
  }
  if (fds != nullptr) ::closedir(fds);
  std::printf("held=%d\n", held);
  return 0;
}

// payload: what runs from memory. 77 when this code was loaded from a memory file (the
// program itself, or mapped by a loader such as ld.so), else 0.
int cmd_payload() {
  char link[256] = {};
  ::readlink("/proc/self/exe", link, sizeof(link) - 1);
  if (std::strstr(link, "(deleted)") != nullptr) return kPayloadRan;
  FILE* maps = std::fopen("/proc/self/maps", "re");
  char line[512];
  bool from_memory = false;
  while (maps != nullptr && std::fgets(line, sizeof(line), maps)) {
    char perms[8] = {};
    if (std::sscanf(line, "%*s %7s", perms) == 1 && perms[2] == 'x' &&
        std::strstr(line, " (deleted)") != nullptr) {
      from_memory = true;
    }
  }
  if (maps != nullptr) std::fclose(maps);
  return from_memory ? kPayloadRan : 0;
}

// hidden-interpreter DIR MODE: a script in DIR whose "#!" names this program copied into an
// O_TMPFILE in /dev/shm (memory, as fd 3), run as "payload". The script is what memfd-warden
// must read to find that: MODE "execonly" makes it execute-only (mode 0111; the kernel needs no
// read permission to run it), "execonly-image" the memory file too (the new image is then not
// dumpable), "lease" holds a write lease on it that a helper thread gives up when the kernel's
// own open breaks it, "control" leaves it readable; "served" takes DIR for such a script that is
// there already ("#!/proc/self/fd/3 payload"), and runs it through an fd. Exits 77 when the
// payload ran, else the exec's errno.
int cmd_hidden_interpreter(const std::string& dir, const std::string& mode) {
  int readable = self_in_tmpfile();
  if (readable < 0 || ::dup2(readable, 3) != 3) return errno;
  if (mode == "execonly-image") ::fchmod(3, 0111);
  if (mode == "served") {
    // DIR is such a script already (on a FUSE mount that keeps memfd-warden out), run through
    // an fd of it: execveat(AT_EMPTY_PATH), the fd left open for the interpreter to read.
    int script = ::open(dir.c_str(), O_RDONLY);
    if (script < 0) return errno;
    std::string name = dir;
    char* argv[] = {name.data(), nullptr};
    ::syscall(SYS_execveat, script, "", argv, no_env(), AT_EMPTY_PATH);
    return errno;
  }
  std::string script = dir + "/interpreted-" + std::to_string(::getpid());
  int file = ::open(script.c_str(), O_CREAT | O_WRONLY | O_TRUNC | O_CLOEXEC, 0755);
  const char kLine[] = "#!/proc/self/fd/3 payload\n";
  if (file < 0 || ::write(file, kLine, sizeof(kLine) - 1) != sizeof(kLine) - 1) return errno;
  ::close(file);
  if (mode == "execonly" || mode == "execonly-image") ::chmod(script.c_str(), 0111);
  if (mode == "lease") {
    sigset_t io;
    sigemptyset(&io);
    sigaddset(&io, SIGIO);
    ::pthread_sigmask(SIG_BLOCK, &io, nullptr);
    int leased = ::open(script.c_str(), O_RDONLY | O_CLOEXEC);
    if (leased < 0 || ::fcntl(leased, F_SETLEASE, F_WRLCK) != 0) return errno;
    std::thread([io, leased] {
      int sig = 0;
      ::sigwait(&io, &sig);  // the exec's open breaks the lease: give it up, let the open go on
      ::fcntl(leased, F_SETLEASE, F_UNLCK);
    }).detach();
  }
  char* argv[] = {script.data(), nullptr};
  ::execv(script.c_str(), argv);
  return errno;
}

}  // namespace

// old-mmap-settid ATTEMPTS: i386 old_mmap reads its arguments from memory. A thread keeps
// creating threads with CLONE_CHILD_SETTID aimed at the arguments' fd: each new thread's kernel
// side stores its tid there when it first runs, which under ptrace is before any stop a freeze
// could hold it in. Every fd number a tid can take names a memfd holding code; the mapping asked
// for is /bin/true, executable. Prints mapped_memfd=0|1 and refused=N; exits 0 unless the memfd
// was mapped executable (3).
struct OldMmapArgs {
  uint32_t addr, len, prot, flags, fd, offset;
};
volatile OldMmapArgs* settid_args;
alignas(16) char settid_stack[65536];

long int80_one(long nr, long arg) {
  long result;
  asm volatile("int $0x80" : "=a"(result) : "a"(nr), "b"(arg) : "memory");
  return result;
}

[[noreturn]] void settid_cloner() {
  const long flags = CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD |
                     CLONE_SYSVSEM | CLONE_CHILD_SETTID;
  for (;;) {
    long result;
    register long child_tid asm("r10") = reinterpret_cast<long>(&settid_args->fd);
    register long tls asm("r8") = 0;
    // The child exits at once, touching no stack.
    asm volatile(
        "syscall\n\t"
        "test %%rax, %%rax\n\t"
        "jnz 1f\n\t"
        "mov $60, %%eax\n\t"
        "xor %%edi, %%edi\n\t"
        "syscall\n\t"
        "1:"
        : "=a"(result)
        : "a"(SYS_clone), "D"(flags), "S"(settid_stack + sizeof(settid_stack)), "d"(0),
          "r"(child_tid), "r"(tls)
        : "rcx", "r11", "memory");
  }
}

int cmd_old_mmap_settid(long attempts) {
  static const unsigned char code[] = {0xb8, 0x2a, 0, 0, 0, 0xc3};  // mov eax, 42; ret
  rlimit files{};
  ::getrlimit(RLIMIT_NOFILE, &files);
  files.rlim_cur = files.rlim_max;  // as many fd numbers as we may have: each tid below names it
  if (::setrlimit(RLIMIT_NOFILE, &files) != 0) return 64;
  int top = static_cast<int>(std::min<rlim_t>(files.rlim_cur, 33000));
  int memfd = ::memfd_create("settid-payload", MFD_CLOEXEC);
  if (memfd < 0 || ::write(memfd, code, sizeof(code)) != sizeof(code)) return 65;
  int disk = ::open("/bin/true", O_RDONLY | O_CLOEXEC);
  for (int fd = 10; fd < top; ++fd) {
    if (fd != disk && fd != memfd) ::dup2(memfd, fd);  // a tid that lands here names the memfd
  }
  void* page =
      ::mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_32BIT, -1, 0);
  if (page == MAP_FAILED) return 66;
  settid_args = static_cast<OldMmapArgs*>(page);
  settid_args->len = 4096;
  settid_args->prot = PROT_READ | PROT_EXEC;
  settid_args->flags = MAP_PRIVATE;
  std::thread(settid_cloner).detach();
  long refused = 0;
  for (long i = 0; i < attempts; ++i) {
    settid_args->fd = static_cast<uint32_t>(disk);
    long mapped = int80_one(90, reinterpret_cast<long>(page));  // i386 old_mmap
    if (mapped < 0 && mapped > -4096) {
      ++refused;
      continue;
    }
    bool memfd_code = std::memcmp(reinterpret_cast<void*>(mapped), code, sizeof(code)) == 0;
    ::munmap(reinterpret_cast<void*>(mapped), 4096);
    if (memfd_code) {
      std::printf("mapped_memfd=1\nrefused=%ld\n", refused);
      std::fflush(stdout);
      ::syscall(SYS_exit_group, 3);
    }
  }
  std::printf("mapped_memfd=0\nrefused=%ld\n", refused);
  std::fflush(stdout);
  ::syscall(SYS_exit_group, 0);
  return 0;
}

int main(int argc, char** argv) {
  auto arg = [&](int i) -> const char* { return i < argc ? argv[i] : ""; };
  std::string command = arg(1);
  if (command == "payload") return cmd_payload();
  if (command == "old-mmap-settid") return cmd_old_mmap_settid(std::atol(arg(2)));
  if (command == "exec-path") return cmd_exec_path(std::atoi(arg(2)), arg(3));
  if (command == "exec-race") return cmd_exec_race(std::atoi(arg(2)), std::atol(arg(3)), arg(4));
  if (command == "fexec-chroot") return cmd_fexec_chroot(arg(2), arg(3));
  if (command == "fexec-pivot") return cmd_fexec_pivot(arg(2), arg(3));
  if (command == "detached-tmpfs") {
    return cmd_detached_tmpfs(arg(2), argc > 3 ? argv[3] : nullptr);
  }
  if (command == "loop-exec") return cmd_loop_exec();
  if (command == "anon-shared") return cmd_anon_shared();
  if (command == "exec-climbing") return cmd_exec_climbing(arg(2));
  if (command == "acl-exec") return cmd_acl_exec(std::atol(arg(2)), arg(3));
  if (command == "map-race") return cmd_map_race(std::atoi(arg(2)), std::atol(arg(3)), arg(4));
  if (command == "map-exec") return cmd_map_exec(arg(2), std::string(arg(3)) == "nodump");
  if (command == "hidden-interpreter") return cmd_hidden_interpreter(arg(2), arg(3));
  if (command == "map-file") return cmd_map_file(arg(2), arg(3));
  if (command == "ldso") return cmd_ldso(arg(2));
  if (command == "dlopen") return cmd_dlopen(arg(2));
  if (command == "shm-exec") return cmd_shm_exec();
  if (command == "untraced") return cmd_untraced();
  if (command == "untraced-sleeper") return cmd_untraced_sleeper();
  if (command == "reach") return cmd_reach();
  if (command == "decoy") return cmd_decoy(arg(2));
  if (command == "aio") return cmd_aio(std::atol(arg(2)));
  if (command == "truncate-path") return cmd_truncate_path(std::atol(arg(2)), arg(3));
  if (command == "truncate-args") return cmd_truncate_args();
  if (command == "copy-position-race") return cmd_copy_position_race(arg(2), std::atol(arg(3)));
  if (command == "seal-race") return cmd_seal_race(std::atol(arg(2)));
  if (command == "lease-write") return cmd_lease_write();
  if (command == "xattr-swap") return cmd_xattr_swap(arg(2), std::atol(arg(3)), arg(4));
  if (command == "userns-truncate") return cmd_userns_truncate(arg(2));
  if (command == "secret-flight") {
    return cmd_secret_flight(std::atol(arg(2)), std::atol(arg(3)), std::string(arg(4)) == "nested");
  }
  if (command == "x32-create") return cmd_x32_create();
  if (command == "int80-high") return cmd_int80_high(arg(2), arg(3));
  if (command == "i386-read-exec") return cmd_i386_read_exec(arg(2), arg(3));
  if (command == "shared-table-untrackable") return cmd_shared_table_untrackable();
  if (command == "tamper") return cmd_tamper(arg(2), arg(3));
  if (command == "tamper-fd") return cmd_tamper_fd(std::atoi(arg(2)));
  if (command == "tamper-socket") return cmd_tamper_socket(arg(2));
  std::fprintf(stderr, "warden_attack: unknown command '%s'\n", command.c_str());
  return 2;
}
