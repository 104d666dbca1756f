// warden_probe: a target for the live tests. Each command does one thing the way a real program
// would and exits with the errno it saw (0 on success), printing what it observed as key=value
// lines on stdout. Tests run it with and without the supervisor and compare.
#include <dirent.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/falloc.h>
#include <linux/filter.h>
#include <linux/futex.h>
#include <linux/seccomp.h>
#include <linux/userfaultfd.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/inotify.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/random.h>
#include <sys/sendfile.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <thread>
#include <vector>

namespace {

// Raw syscall: glibc's wrapper is fine too, but the raw form lets us pass any pointer and flags.
int raw_memfd_create(const void* name, unsigned long flags) {
  return static_cast<int>(::syscall(SYS_memfd_create, name, flags));
}

unsigned parse_flags(const char* text) {
  return static_cast<unsigned>(std::strtoul(text, nullptr, 0));
}

std::string unhex(const char* hex) {
  std::string out;
  for (size_t i = 0; hex[i] && hex[i + 1]; i += 2) {
    char byte[3] = {hex[i], hex[i + 1], 0};
    out += static_cast<char>(std::strtoul(byte, nullptr, 16));
  }
  return out;
}

// Prints every fact a test compares between a supervised and an unsupervised memfd.
int describe(int fd) {
  char path[64], link[512] = {};
  std::snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
  ssize_t n = ::readlink(path, link, sizeof(link) - 1);
  std::printf("fd=%d\n", fd);
  std::printf("link=%s\n", n > 0 ? link : "?");
  std::printf("seals=%d\n", ::fcntl(fd, F_GET_SEALS));
  std::printf("cloexec=%d\n", (::fcntl(fd, F_GETFD) & FD_CLOEXEC) ? 1 : 0);
  struct stat st {};
  ::fstat(fd, &st);
  std::printf("mode=%o\nuid=%u\ngid=%u\nsize=%lld\n", st.st_mode, st.st_uid, st.st_gid,
              static_cast<long long>(st.st_size));
  int status_flags = ::fcntl(fd, F_GETFL);
  std::printf("accmode=%d\n", status_flags & O_ACCMODE);

  // read/write/mmap work, and a forked child sees the same file through fd and mapping.
  const char text[] = "hello memfd";
  bool rw = ::pwrite(fd, text, sizeof(text), 0) == sizeof(text);
  char back[sizeof(text)] = {};
  rw = rw && ::pread(fd, back, sizeof(back), 0) == sizeof(back) && std::strcmp(back, text) == 0;
  std::printf("rw=%d\n", rw ? 1 : 0);
  bool mapped = false, shared = false;
  if (::ftruncate(fd, 4096) == 0) {
    void* map = ::mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (map != MAP_FAILED) {
      auto* bytes = static_cast<char*>(map);
      bytes[100] = 'X';
      char via_fd = 0;
      mapped = ::pread(fd, &via_fd, 1, 100) == 1 && via_fd == 'X';
      pid_t child = ::fork();
      if (child == 0) {
        char seen = 0;
        bool ok = ::pread(fd, &seen, 1, 100) == 1 && seen == 'X' && bytes[100] == 'X';
        bytes[200] = 'Y';
        _exit(ok ? 0 : 1);
      }
      int status = 0;
      ::waitpid(child, &status, 0);
      shared = WIFEXITED(status) && WEXITSTATUS(status) == 0 && bytes[200] == 'Y';
      ::munmap(map, 4096);
    }
  }
  std::printf("mmap=%d\nfork_shared=%d\n", mapped ? 1 : 0, shared ? 1 : 0);
  // Last, since it stops writes: can a seal be added now, and which seals are there after.
  int added = ::fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE) == 0 ? 0 : errno;
  std::printf("add_write_seal=%d\nseals_after=%d\n", added, ::fcntl(fd, F_GET_SEALS));
  std::fflush(stdout);
  return 0;
}

// create NAME FLAGS: one memfd_create, then describe the result.
int cmd_create(const std::string& name, unsigned flags) {
  int fd = raw_memfd_create(name.c_str(), flags);
  if (fd < 0) return errno;
  return describe(fd);
}

// Writes VALUE to vm.memfd_noexec, which sets it for our own PID namespace; returns the errno
// (EINVAL below what the parent namespace has, EPERM without CAP_SYS_ADMIN over the namespace).
int write_noexec_sysctl(const char* value) {
  int fd = ::open("/proc/sys/vm/memfd_noexec", O_WRONLY | O_CLOEXEC);
  if (fd < 0) return errno;
  int err = ::write(fd, value, std::strlen(value)) < 0 ? errno : 0;
  ::close(fd);
  return err;
}

// unshare(`flags`, CLONE_NEWUSER among them) with our own ids mapped to 0 in the new user
// namespace: root there, capabilities kept across execve. 0 or the errno.
int unshare_as_root(int flags) {
  uid_t uid = ::geteuid();
  gid_t gid = ::getegid();
  if (::unshare(flags) != 0) return errno;
  auto write_file = [](const char* path, const std::string& text) {
    int fd = ::open(path, O_WRONLY | O_CLOEXEC);
    bool ok = fd >= 0 && ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
    if (fd >= 0) ::close(fd);
    return ok;
  };
  if (!write_file("/proc/self/uid_map", "0 " + std::to_string(uid) + " 1\n") ||
      !write_file("/proc/self/setgroups", "deny") ||
      !write_file("/proc/self/gid_map", "0 " + std::to_string(gid) + " 1\n")) {
    return errno;
  }
  return 0;
}

// hold-inotify SECONDS: takes an inotify instance (errno if it cannot), says held=1, and keeps
// it SECONDS: one fewer for anything else of this user (and user namespace).
int cmd_hold_inotify(long seconds) {
  int fd = ::inotify_init1(IN_CLOEXEC);
  if (fd < 0) return errno;
  std::printf("held=1\n");
  std::fflush(stdout);
  ::sleep(static_cast<unsigned>(seconds));
  return 0;
}

// in-pidns VALUE COMMAND...: a new user and PID namespace (as an unprivileged container runtime
// makes them), vm.memfd_noexec set to VALUE there ("-": left as inherited), then COMMAND (a probe
// command) as its first process. Prints write_levelN=ERRNO (N: the namespace's depth); exits
// with COMMAND's status.
int cmd_in_pidns(int argc, char** argv) {
  if (argc < 4) return 64;
  if (int err = unshare_as_root(CLONE_NEWUSER | CLONE_NEWPID); err != 0) return err;
  std::fflush(stdout);
  pid_t child = ::fork();
  if (child < 0) return errno;
  if (child == 0) {
    if (std::strcmp(argv[2], "-") != 0) {
      int depth = 0;
      FILE* status = std::fopen("/proc/self/status", "re");
      char line[256];
      while (status && std::fgets(line, sizeof(line), status)) {
        if (std::strncmp(line, "NSpid:", 6) != 0) continue;
        for (char* p = std::strtok(line + 6, " \t\n"); p; p = std::strtok(nullptr, " \t\n"))
          ++depth;
      }
      if (status) std::fclose(status);
      std::printf("write_level%d=%d\n", depth - 1, write_noexec_sysctl(argv[2]));
      std::fflush(stdout);
    }
    std::vector<char*> command{argv[0]};
    for (int i = 3; i < argc; ++i) command.push_back(argv[i]);
    command.push_back(nullptr);
    ::execv("/proc/self/exe", command.data());
    _exit(127);
  }
  int status = 0;
  ::waitpid(child, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

// in-userns COMMAND...: a new user namespace only (ours mapped to 0 in it), then COMMAND (a probe
// command) in this same process: a caller whose user namespace is a child of the one that owns
// its PID namespace.
int cmd_in_userns(int argc, char** argv) {
  if (argc < 3) return 64;
  if (int err = unshare_as_root(CLONE_NEWUSER); err != 0) return err;
  std::vector<char*> command{argv[0]};
  for (int i = 2; i < argc; ++i) command.push_back(argv[i]);
  command.push_back(nullptr);
  ::execv("/proc/self/exe", command.data());
  return errno;
}

// flip VALUE NAME FLAGS: memfd_create(NAME, FLAGS) (first_mode=, first_seals= or first_errno=),
// then vm.memfd_noexec set to VALUE (flip_write=ERRNO), then `create NAME FLAGS`: a value changed
// while the program runs.
int cmd_flip(const char* value, const std::string& name, unsigned flags) {
  int first = raw_memfd_create(name.c_str(), flags);
  if (first < 0) {
    std::printf("first_errno=%d\n", errno);
  } else {
    struct stat st {};
    ::fstat(first, &st);
    std::printf("first_mode=%o\nfirst_seals=%d\n", st.st_mode, ::fcntl(first, F_GET_SEALS));
    ::close(first);
  }
  std::printf("flip_write=%d\n", write_noexec_sysctl(value));
  return cmd_create(name, flags);
}

// hit-reader SIGNAL NAME FLAGS: memfd_create(NAME, FLAGS), then SIGNAL (STOP or KILL) to every
// process named warden-nsread in sight (through /proc/PID directory fds: /proc may number them in
// another namespace), then `create NAME FLAGS`. Tells on stderr how many it hit.
int cmd_hit_reader(const std::string& signal_name, const std::string& name, unsigned flags) {
  int first = raw_memfd_create(name.c_str(), flags);
  if (first >= 0) ::close(first);
  int sig = signal_name == "STOP" ? SIGSTOP : SIGKILL;
  int hit = 0;
  if (DIR* proc = ::opendir("/proc")) {
    while (dirent* entry = ::readdir(proc)) {
      if (entry->d_name[0] < '0' || entry->d_name[0] > '9') continue;
      std::string dir = std::string("/proc/") + entry->d_name;
      FILE* comm = std::fopen((dir + "/comm").c_str(), "re");
      char text[32] = {};
      bool match =
          comm && std::fgets(text, sizeof(text), comm) && std::strcmp(text, "warden-nsread\n") == 0;
      if (comm) std::fclose(comm);
      if (!match) continue;
      int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
      if (fd >= 0 && ::syscall(SYS_pidfd_send_signal, fd, sig, nullptr, 0) == 0) ++hit;
      if (fd >= 0) ::close(fd);
    }
    ::closedir(proc);
  }
  std::fprintf(stderr, "readers_hit=%d\n", hit);
  return cmd_create(name, flags);
}

// stop-readers NAME FLAGS: as the first process of a PID namespace (under in-pidns), a thread
// stops with SIGSTOP every other process that appears in the namespace, as soon as it appears
// (it polls the next numbers with kill), while memfd_create(NAME, FLAGS) runs; the result
// is then described as `create` does. Tells on stderr how many it stopped (readers_stopped=N).
int cmd_stop_readers(const std::string& name, unsigned flags) {
  std::atomic<bool> done{false};
  std::atomic<int> stopped{0};
  std::thread stopper([&] {
    pid_t own = static_cast<pid_t>(::syscall(SYS_gettid));
    bool seen[32] = {};
    while (!done.load(std::memory_order_relaxed)) {
      for (pid_t pid = 2; pid < 32; ++pid) {
        if (pid == own || seen[pid]) continue;
        // kill(), not a pidfd: a pidfd held for a moment would push the memfd's number up.
        if (::kill(pid, SIGSTOP) == 0) {
          seen[pid] = true;
          stopped.fetch_add(1);
        }
      }
    }
  });
  int fd = raw_memfd_create(name.c_str(), flags);
  int error = errno;
  done = true;  // before `describe`, which forks
  stopper.join();
  std::fprintf(stderr, "readers_stopped=%d\n", stopped.load());
  return fd < 0 ? error : describe(fd);
}

// jobctl-race N: N rounds of: a child stops itself with SIGSTOP, and the parent sends SIGCONT as
// soon as /proc shows the child stopped (state T, or t when traced). A child still not exited
// 2 s after SIGCONT is hung (then killed). Prints rounds=, hung=, and premature_cont= (rounds
// where the child showed as stopped before it had asked to stop).
int cmd_jobctl_race(long rounds) {
  auto state_of = [](pid_t pid) {
    char path[64], text[512] = {};
    std::snprintf(path, sizeof(path), "/proc/%d/stat", pid);
    FILE* stat = std::fopen(path, "re");
    if (stat == nullptr) return '?';
    size_t got = std::fread(text, 1, sizeof(text) - 1, stat);
    std::fclose(stat);
    text[got] = '\0';
    const char* close = std::strrchr(text, ')');
    return close != nullptr && close[1] != '\0' ? close[2] : '?';
  };
  using Clock = std::chrono::steady_clock;
  auto* about_to_stop = static_cast<volatile int*>(
      ::mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0));
  long hung = 0, premature = 0;
  for (long round = 0; round < rounds; ++round) {
    *about_to_stop = 0;
    pid_t child = ::fork();
    if (child == 0) {
      *about_to_stop = 1;
      ::kill(::getpid(), SIGSTOP);
      _exit(7);
    }
    int status = 0;
    bool exited = false;
    auto give_up = Clock::now() + std::chrono::seconds(2);
    for (char state; (state = state_of(child)) != 'T' && state != 't';) {
      if (::waitpid(child, &status, WNOHANG) == child || Clock::now() > give_up) {
        exited = true;
        break;
      }
    }
    if (!exited && !*about_to_stop) ++premature;
    ::kill(child, SIGCONT);
    auto deadline = Clock::now() + std::chrono::seconds(2);
    pid_t got = exited ? child : 0;
    while (!exited && (got = ::waitpid(child, &status, WNOHANG)) == 0 && Clock::now() < deadline) {
      ::usleep(1000);
    }
    if (got != child || !WIFEXITED(status) || WEXITSTATUS(status) != 7) {
      ++hung;
      ::kill(child, SIGKILL);
      ::waitpid(child, &status, 0);
    }
  }
  std::printf("rounds=%ld\nhung=%ld\npremature_cont=%ld\n", rounds, hung, premature);
  return 0;
}

// bad-pointer KIND FLAGS: names the kernel must refuse.
//   null: NULL; wild: an unmapped address; edge: bytes running into an unmapped page with no NUL;
//   edge-ok: a short name that ends right before an unmapped page; long: 250 bytes; max: 249 bytes
int cmd_bad_pointer(const std::string& kind, unsigned flags) {
  long page = ::sysconf(_SC_PAGESIZE);
  auto* area =
      static_cast<char*>(::mmap(nullptr, static_cast<size_t>(page) * 2, PROT_READ | PROT_WRITE,
                                MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
  ::munmap(area + page, static_cast<size_t>(page));
  const void* name = nullptr;
  std::string text;
  if (kind == "null") {
    name = nullptr;
  } else if (kind == "wild") {
    name = area + page;
  } else if (kind == "edge") {
    std::memset(area + page - 10, 'a', 10);
    name = area + page - 10;
  } else if (kind == "edge-ok") {
    std::memcpy(area + page - 5, "edge", 5);
    name = area + page - 5;
  } else if (kind == "long" || kind == "max") {
    text.assign(kind == "long" ? 250 : 249, 'n');
    name = text.c_str();
  }
  int fd = raw_memfd_create(name, flags);
  if (fd < 0) return errno;
  std::printf("fd=%d\n", fd);
  return 0;
}

// many N [close]: N memfds, kept open (or closed right away with "close"); stops at the first
// error. Prints made=K and exits with the errno (0 if all N were made).
int cmd_many(long count, bool close_each) {
  long made = 0;
  for (; made < count; ++made) {
    char name[32];
    std::snprintf(name, sizeof(name), "many-%ld", made);
    int fd = raw_memfd_create(name, MFD_CLOEXEC);
    if (fd < 0) {
      int err = errno;
      std::printf("made=%ld\nerrno=%d\n", made, err);
      return err;
    }
    if (close_each) ::close(fd);
  }
  std::printf("made=%ld\n", made);
  return 0;
}

// release-close LIMIT: fill LIMIT slots, try one more (expect refusal), close one, try again.
int cmd_release_close(long limit) {
  std::vector<int> fds;
  for (long i = 0; i < limit; ++i) {
    int fd = raw_memfd_create("slot", 0);
    if (fd < 0) return errno;
    fds.push_back(fd);
  }
  int over = raw_memfd_create("over", 0);
  std::printf("over=%d\n", over < 0 ? errno : 0);
  ::close(fds.back());
  int again = raw_memfd_create("again", 0);
  std::printf("after_close=%d\n", again < 0 ? errno : 0);
  return 0;
}

// release-munmap: with max_live = 1, a mapping keeps a closed memfd alive until munmap.
int cmd_release_munmap() {
  int fd = raw_memfd_create("mapped", 0);
  if (fd < 0) return errno;
  if (::ftruncate(fd, 4096) != 0) return errno;
  void* map = ::mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (map == MAP_FAILED) return errno;
  ::close(fd);
  int while_mapped = raw_memfd_create("while-mapped", 0);
  std::printf("while_mapped=%d\n", while_mapped < 0 ? errno : 0);
  if (while_mapped >= 0) ::close(while_mapped);
  ::munmap(map, 4096);
  int after = raw_memfd_create("after-munmap", 0);
  std::printf("after_munmap=%d\n", after < 0 ? errno : 0);
  return 0;
}

// release-child: with max_live = 1, a forked child holding the only fd keeps the memfd alive
// until it exits.
int cmd_release_child() {
  int fd = raw_memfd_create("held-by-child", 0);
  if (fd < 0) return errno;
  int go[2];
  if (::pipe(go) != 0) return errno;
  pid_t child = ::fork();
  if (child == 0) {
    char byte;
    ::close(go[1]);
    (void)::read(go[0], &byte, 1);  // hold fd until the parent says so
    _exit(0);
  }
  ::close(go[0]);
  ::close(fd);
  int while_child = raw_memfd_create("while-child", 0);
  std::printf("while_child=%d\n", while_child < 0 ? errno : 0);
  if (while_child >= 0) ::close(while_child);
  ::close(go[1]);
  ::waitpid(child, nullptr, 0);
  int after = raw_memfd_create("after-child", 0);
  std::printf("after_child=%d\n", after < 0 ? errno : 0);
  return 0;
}

// The name races' creating side: one memfd_create from a name buffer another thread flips between
// "good-name" and "evil-name", counted as denied, allowed, or a breach (an allowed memfd whose
// name is evil).
struct RaceTally {
  long allowed = 0, denied = 0, breaches = 0;

  void create(const char* buffer) {
    int fd = raw_memfd_create(buffer, MFD_CLOEXEC);
    if (fd < 0) {
      ++denied;
      return;
    }
    ++allowed;
    char path[64], link[128] = {};
    std::snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
    if (::readlink(path, link, sizeof(link) - 1) > 0 && std::strstr(link, "evil") != nullptr) {
      ++breaches;
    }
    ::close(fd);
  }

  void print() const {
    std::printf("allowed=%ld\ndenied=%ld\nbreaches=%ld\n", allowed, denied, breaches);
  }
};

// race ITERATIONS: a second thread flips the name buffer between "good-name" and "evil-name"
// while this thread calls memfd_create on it. Any memfd whose /proc link says evil is a breach.
// Each name is held for a few microseconds (about a supervisor round trip) so that both names
// are seen, and the flip is one aligned 32-bit store so a name is never torn.
int cmd_race(long iterations) {
  alignas(64) static char buffer[16] = "good-name";
  uint32_t good = 0, evil = 0;
  std::memcpy(&good, "good", 4);
  std::memcpy(&evil, "evil", 4);
  auto* word = reinterpret_cast<uint32_t*>(buffer);
  std::atomic<bool> stop{false};
  std::thread flipper([&] {
    while (!stop.load(std::memory_order_relaxed)) {
      for (uint32_t value : {evil, good}) {
        __atomic_store_n(word, value, __ATOMIC_SEQ_CST);
        for (int spin = 0; spin < 2000; ++spin) asm volatile("" ::: "memory");
      }
    }
  });
  RaceTally tally;
  for (long i = 0; i < iterations; ++i) tally.create(buffer);
  stop = true;
  flipper.join();
  tally.print();
  return 0;
}

// race-wake N: the name race with a flipper that sleeps in a futex wait (with a timeout, so
// that timed waits restart too) and is woken just before each create, so that it wakes while the
// call is being checked. It then flips the name for a while and sleeps again. Under ptrace a
// thread asleep in a futex is not stopped by a freeze (docs/backends.md): it must still not run
// before the call has returned.
int cmd_race_wake(long iterations) {
  alignas(64) static char buffer[16] = "good-name";
  alignas(4) static uint32_t bell = 0;
  uint32_t good = 0, evil = 0;
  std::memcpy(&good, "good", 4);
  std::memcpy(&evil, "evil", 4);
  auto* word = reinterpret_cast<uint32_t*>(buffer);
  std::atomic<bool> stop{false};
  std::thread flipper([&] {
    uint32_t rung = 0;
    while (!stop.load(std::memory_order_relaxed)) {
      timespec timeout{0, 300 * 1000};
      ::syscall(SYS_futex, &bell, FUTEX_WAIT_PRIVATE, rung, &timeout, nullptr, 0);
      rung = __atomic_load_n(&bell, __ATOMIC_ACQUIRE);
      for (int flip = 0; flip < 40; ++flip) {
        for (uint32_t value : {evil, good}) {
          __atomic_store_n(word, value, __ATOMIC_SEQ_CST);
          for (int spin = 0; spin < 300; ++spin) asm volatile("" ::: "memory");
        }
      }
    }
  });
  RaceTally tally;
  for (long i = 0; i < iterations; ++i) {
    __atomic_add_fetch(&bell, 1, __ATOMIC_RELEASE);
    ::syscall(SYS_futex, &bell, FUTEX_WAKE_PRIVATE, 1, nullptr, nullptr, 0);
    for (long spin = 0; spin < (i * 7919) % 20000; ++spin) asm volatile("" ::: "memory");
    tally.create(buffer);
  }
  stop = true;
  __atomic_add_fetch(&bell, 1, __ATOMIC_RELEASE);
  ::syscall(SYS_futex, &bell, FUTEX_WAKE_PRIVATE, 1, nullptr, nullptr, 0);
  flipper.join();
  tally.print();
  return 0;
}

// race-escape N [direct]: the name race with a flipper that first sleeps in a futex wait made by
// a stub in a writable code page; once it sleeps, the stub's syscall instruction is rewritten
// into a jump to the flipping loop. A tracer that lets the sleeper restart its wait sends it
// into the loop instead: from then on it runs, and every later check must stop it like any
// running thread. "direct": the flipper runs the loop from the start (the control).
alignas(64) char escape_buffer[16] = "good-name";

[[noreturn]] void flip_escape_buffer() {
  uint32_t good = 0, evil = 0;
  std::memcpy(&good, "good", 4);
  std::memcpy(&evil, "evil", 4);
  auto* word = reinterpret_cast<uint32_t*>(escape_buffer);
  for (;;) {
    for (uint32_t value : {evil, good}) {
      __atomic_store_n(word, value, __ATOMIC_SEQ_CST);
      for (int spin = 0; spin < 2000; ++spin) asm volatile("" ::: "memory");
    }
  }
}

int cmd_race_escape(long iterations, bool direct) {
  // mov r10, rcx; mov eax, SYS_futex (202); syscall; ret. The fifth argument (r8) is where the
  // rewritten syscall jumps: "jmp r8" (41 ff e0) over "syscall; ret" (0f 05 c3).
  static const unsigned char kStub[] = {0x49, 0x89, 0xca, 0xb8, 0xca, 0x00,
                                        0x00, 0x00, 0x0f, 0x05, 0xc3};
  static const unsigned char kJump[] = {0x41, 0xff, 0xe0};
  void* page =
      ::mmap(nullptr, 4096, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (page == MAP_FAILED) return errno;
  auto* code = static_cast<unsigned char*>(page);
  std::memcpy(code, kStub, sizeof(kStub));
  using Stub = long (*)(uint32_t*, long, long, const timespec*, void (*)());
  auto stub = reinterpret_cast<Stub>(page);
  alignas(4) static uint32_t never = 0;  // nobody wakes the sleeper
  std::thread([stub, direct] {
    if (direct) flip_escape_buffer();
    stub(&never, FUTEX_WAIT_PRIVATE, 0, nullptr, flip_escape_buffer);
  }).detach();
  // Until the sleeper sleeps in the wait (its syscall in /proc is futex); if it never does, the
  // rewrite would send it straight into the loop and the run would test nothing: exit 3.
  bool asleep = direct;
  for (int tries = 0; !asleep && tries < 20000; ++tries) {
    if (DIR* tasks = ::opendir("/proc/self/task")) {
      while (dirent* entry = ::readdir(tasks)) {
        if (entry->d_name[0] == '.' || std::atol(entry->d_name) == ::gettid()) continue;
        char path[320], text[64] = {};
        std::snprintf(path, sizeof(path), "/proc/self/task/%s/syscall", entry->d_name);
        int fd = ::open(path, O_RDONLY | O_CLOEXEC);
        if (fd >= 0) {
          asleep |= ::read(fd, text, sizeof(text) - 1) > 0 && std::atol(text) == SYS_futex;
          ::close(fd);
        }
      }
      ::closedir(tasks);
    }
    if (!asleep) ::usleep(1000);
  }
  if (!asleep) {
    std::printf("the sleeper never slept in its futex wait\n");
    std::fflush(stdout);
    ::_exit(3);
  }
  std::memcpy(code + 8, kJump, sizeof(kJump));
  RaceTally tally;
  for (long i = 0; i < iterations; ++i) tally.create(escape_buffer);
  tally.print();
  std::fflush(stdout);
  ::_exit(0);  // the flipper never returns
}

// exec-while-creating ROUNDS [leader]: each round a child runs a thread creating memfds without
// pause and another thread that execs /bin/true after a short delay, so that the exec comes
// while a create is being decided. "leader": the creating thread is the child's main thread,
// whose pid the exec'ing thread takes over. Prints the number of rounds whose child did not exit
// 0, and exits 1 if there were any.
[[noreturn]] void create_memfds_forever() {
  for (;;) {
    int fd = raw_memfd_create("busy", MFD_CLOEXEC);
    if (fd >= 0) ::close(fd);
  }
}

int cmd_exec_while_creating(long rounds, bool leader) {
  int failed = 0;
  for (long round = 0; round < rounds; ++round) {
    pid_t child = ::fork();
    if (child == 0) {
      if (!leader) std::thread(create_memfds_forever).detach();
      long delay = 100 + (round * 397) % 2000;
      std::thread([delay] {
        ::usleep(static_cast<useconds_t>(delay));
        char* const argv[] = {const_cast<char*>("/bin/true"), nullptr};
        ::execv(argv[0], argv);
        ::_exit(127);
      }).detach();
      if (leader) create_memfds_forever();
      for (;;) ::pause();
    }
    int status = 0;
    ::waitpid(child, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) ++failed;
  }
  std::printf("failed=%d\n", failed);
  return failed == 0 ? 0 : 1;
}

// thread NAME FLAGS: memfd_create from a second thread; exits with its errno.
int cmd_thread(const std::string& name, unsigned flags) {
  int result = 0;
  std::thread worker([&] {
    int fd = raw_memfd_create(name.c_str(), flags);
    result = fd < 0 ? errno : 0;
  });
  worker.join();
  return result;
}

// grandchild NAME FLAGS: memfd_create two forks down; the errno travels back in exit codes.
int cmd_grandchild(const std::string& name, unsigned flags) {
  pid_t child = ::fork();
  if (child == 0) {
    pid_t grandchild = ::fork();
    if (grandchild == 0) {
      int fd = raw_memfd_create(name.c_str(), flags);
      _exit(fd < 0 ? errno : 0);
    }
    int status = 0;
    ::waitpid(grandchild, &status, 0);
    _exit(WIFEXITED(status) ? WEXITSTATUS(status) : 99);
  }
  int status = 0;
  ::waitpid(child, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 99;
}

// exec-then NAME FLAGS: execve ourselves into "create" to show the filter survives execve.
int cmd_exec_then(char* self, const char* name, const char* flags) {
  char create[] = "create";
  char* argv[] = {self, create, const_cast<char*>(name), const_cast<char*>(flags), nullptr};
  ::execv("/proc/self/exe", argv);
  return errno;
}

// across-exec NAME FLAGS: makes the memfd, then execs itself to report whether the fd is still
// open in the new program (open=1) or was closed by exec (open=0).
int cmd_across_exec(char* self, const std::string& name, unsigned flags) {
  int fd = raw_memfd_create(name.c_str(), flags);
  if (fd < 0) return errno;
  char command[] = "fd-open";
  std::string number = std::to_string(fd);
  char* argv[] = {self, command, number.data(), nullptr};
  ::execv("/proc/self/exe", argv);
  return errno;
}

int cmd_fd_open(int fd) {
  std::printf("open=%d\n", ::fcntl(fd, F_GETFD) >= 0 ? 1 : 0);
  return 0;
}

// lowest-free NAME: with fds 3, 4 and 5 open and 4 closed again, the memfd must land on 4.
int cmd_lowest_free(const std::string& name) {
  int a = ::open("/dev/null", O_RDONLY), b = ::open("/dev/null", O_RDONLY),
      c = ::open("/dev/null", O_RDONLY);
  ::close(b);
  int fd = raw_memfd_create(name.c_str(), 0);
  std::printf("hole=%d\nfd=%d\n", b, fd);
  (void)a;
  (void)c;
  return fd < 0 ? errno : 0;
}

// secret FLAGS: memfd_secret(FLAGS), then describe the file.
int cmd_secret(unsigned flags) {
  int fd = static_cast<int>(::syscall(SYS_memfd_secret, flags));
  if (fd < 0) return errno;
  return describe(fd);
}

// orphan NAME FLAGS FILE: exit at once, leaving a grandchild that later calls memfd_create and
// writes its errno to FILE. The supervisor must wait for it and decide its call.
int cmd_orphan(const std::string& name, unsigned flags, const std::string& file) {
  pid_t child = ::fork();
  if (child == 0) {
    if (::fork() == 0) {
      ::usleep(300 * 1000);  // let the main process and its child exit first
      int fd = raw_memfd_create(name.c_str(), flags);
      int err = fd < 0 ? errno : 0;
      FILE* out = std::fopen(file.c_str(), "w");
      if (out) {
        std::fprintf(out, "%d\n", err);
        std::fclose(out);
      }
      _exit(0);
    }
    _exit(0);
  }
  ::waitpid(child, nullptr, 0);
  return 3;
}

// hold NAME: create a memfd, write 8 MiB into it, print "ready", wait for a line on stdin.
int cmd_hold(const std::string& name) {
  int fd = raw_memfd_create(name.c_str(), 0);
  if (fd < 0) return errno;
  std::vector<char> chunk(1 << 20, 'h');
  for (int i = 0; i < 8; ++i) {
    if (::write(fd, chunk.data(), chunk.size()) < 0) return errno;
  }
  std::printf("fd=%d\nready\n", fd);
  std::fflush(stdout);
  char line[16];
  (void)::read(STDIN_FILENO, line, sizeof(line));
  return 0;
}

std::atomic<int> g_caught{0};
void on_signal(int sig) { g_caught = sig; }

// wait-signal: print "ready", wait for SIGTERM/SIGINT/SIGHUP, exit 40 + the signal number.
int cmd_wait_signal() {
  struct sigaction action {};
  action.sa_handler = on_signal;
  for (int sig : {SIGTERM, SIGINT, SIGHUP}) ::sigaction(sig, &action, nullptr);
  std::printf("ready\n");
  std::fflush(stdout);
  for (int i = 0; i < 3000 && g_caught == 0; ++i) ::usleep(10 * 1000);
  return g_caught ? 40 + g_caught : 1;
}

// wait-default: print "ready" and sleep with default dispositions (a signal kills it).
int cmd_wait_default() {
  std::printf("ready\n");
  std::fflush(stdout);
  for (int i = 0; i < 3000; ++i) ::usleep(10 * 1000);
  return 1;
}

// Sizes in scripts: a number with an optional K, M or G (binary), or "max": SIZE_MAX as a length.
long long parse_size(const char* text) {
  if (std::strcmp(text, "max") == 0) return -1;
  char* end = nullptr;
  long long value = std::strtoll(text, &end, 10);
  switch (*end) {
    case 'K':
      return value << 10;
    case 'M':
      return value << 20;
    case 'G':
      return value << 30;
    default:
      return value;
  }
}

// The byte written at file offset `pos`: lets `check` prove the data landed where it should.
char pattern(long long pos) { return static_cast<char>((pos * 7 + 3) % 251); }

// script OP [ARGS] ; OP [ARGS] ; ...: runs memfd operations in order on named memfds and prints
// opN=ERRNO for each (0 on success). Ops:
//   create N | secret N | ftruncate N SIZE | fallocate N OFF LEN | fallocate-keep N OFF LEN |
//   punch N OFF LEN | write N LEN | pwrite N OFF LEN | writev N LEN | pwritev N OFF LEN |
//   pwritev2 N OFF LEN | splice N LEN [ASK] (onto the end, from a pipe) | ftruncate32 N SIZE |
//   truncate32 N SIZE (i386's ftruncate64, truncate64) | append N LEN | sendfile N LEN |
//   copy_file_range N LEN (LEN may be "max") | copy-offsets N LEN | sendfile32 N LEN | check N OFF
//   LEN | size N | map N LEN | touch N LEN | unmap N | close N | fork-hold N | release-child |
//   inherit N FD | nodump
int cmd_script(int argc, char** argv) {
  std::map<std::string, int> fds;
  std::map<std::string, std::pair<char*, size_t>> maps;
  int hold_pipe[2] = {-1, -1};
  pid_t holder = -1;
  int op = 0;
  for (int i = 2; i < argc;) {
    std::vector<std::string> words;
    for (; i < argc && std::strcmp(argv[i], ";") != 0; ++i) words.push_back(argv[i]);
    ++i;  // the ';'
    if (words.empty()) continue;
    ++op;
    const std::string& verb = words[0];
    auto word = [&](size_t k) { return k < words.size() ? words[k].c_str() : "0"; };
    int fd = fds.count(word(1)) ? fds[word(1)] : -1;
    long long a = parse_size(word(2)), b = parse_size(word(3));
    int result = 0;
    auto check = [&](long long rc) { result = rc < 0 ? errno : 0; };
    if (verb == "create") {
      int made = raw_memfd_create(word(1), MFD_CLOEXEC);
      check(made);
      if (made >= 0) fds[word(1)] = made;
    } else if (verb == "secret") {
      int made = static_cast<int>(::syscall(447, O_CLOEXEC));
      check(made);
      if (made >= 0) fds[word(1)] = made;
    } else if (verb == "inherit") {
      fds[word(1)] = std::atoi(word(2));
    } else if (verb == "ftruncate") {
      check(::ftruncate(fd, a));
    } else if (verb == "fallocate" || verb == "fallocate-keep" || verb == "punch") {
      int mode = verb == "fallocate"        ? 0
                 : verb == "fallocate-keep" ? FALLOC_FL_KEEP_SIZE
                                            : FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE;
      check(::fallocate(fd, mode, a, b));
    } else if (verb == "write" || verb == "append" || verb == "writev") {
      off_t pos = verb == "append" ? ::lseek(fd, 0, SEEK_END) : ::lseek(fd, 0, SEEK_CUR);
      std::vector<char> data(static_cast<size_t>(a));
      for (size_t k = 0; k < data.size(); ++k) data[k] = pattern(pos + static_cast<long long>(k));
      if (verb == "writev") {
        size_t half = data.size() / 2;
        iovec parts[2] = {{data.data(), half}, {data.data() + half, data.size() - half}};
        check(::writev(fd, parts, 2));
      } else {
        check(::write(fd, data.data(), data.size()));
      }
    } else if (verb == "pwrite" || verb == "pwritev") {
      std::vector<char> data(static_cast<size_t>(b));
      for (size_t k = 0; k < data.size(); ++k) data[k] = pattern(a + static_cast<long long>(k));
      if (verb == "pwritev") {
        size_t half = data.size() / 2;
        iovec parts[2] = {{data.data(), half}, {data.data() + half, data.size() - half}};
        check(::pwritev(fd, parts, 2, a));
      } else {
        check(::pwrite(fd, data.data(), data.size(), a));
      }
    } else if (verb == "ftruncate32" || verb == "truncate32") {
      // i386's ftruncate64(fd, low, high) or truncate64("/proc/self/fd/N", low, high) through
      // int $0x80, the path below 4 GiB where a 32-bit pointer reaches it.
      long rax = verb == "ftruncate32" ? 194 : 193;
      long first = fd;
      if (verb == "truncate32") {
        void* low = ::mmap(nullptr, 4096, PROT_READ | PROT_WRITE,
                           MAP_PRIVATE | MAP_ANONYMOUS | MAP_32BIT, -1, 0);
        if (low == MAP_FAILED) return errno;
        std::snprintf(static_cast<char*>(low), 64, "/proc/self/fd/%d", fd);
        first = static_cast<long>(reinterpret_cast<uintptr_t>(low));
      }
      asm volatile("int $0x80"
                   : "+a"(rax)
                   : "b"(first), "c"(a & 0xffffffffLL), "d"(a >> 32)
                   : "memory");
      if (rax < 0) errno = static_cast<int>(-rax);
      check(rax < 0 ? -1 : 0);
    } else if (verb == "pwritev2") {
      // B bytes at offset A, in two parts, flags 0.
      std::vector<char> data(static_cast<size_t>(b));
      for (size_t k = 0; k < data.size(); ++k) data[k] = pattern(a + static_cast<long long>(k));
      size_t half = data.size() / 2;
      iovec parts[2] = {{data.data(), half}, {data.data() + half, data.size() - half}};
      check(::pwritev2(fd, parts, 2, a, 0));
    } else if (verb == "splice") {
      // A bytes (at most a pipe's 64 KiB) from a pipe onto the end of the memfd, asking for B
      // bytes (A when not given); prints where the offset is after.
      int pipe_fds[2];
      if (::pipe2(pipe_fds, O_CLOEXEC) != 0) return errno;
      struct stat st {};
      ::fstat(fd, &st);
      loff_t at = st.st_size;
      std::vector<char> data(static_cast<size_t>(a));
      for (size_t k = 0; k < data.size(); ++k) data[k] = pattern(at + static_cast<long long>(k));
      (void)!::write(pipe_fds[1], data.data(), data.size());
      size_t asked = words.size() > 3 ? static_cast<size_t>(b) : data.size();
      check(::splice(pipe_fds[0], nullptr, fd, &at, asked, 0));
      std::printf("splice_at=%lld\n", static_cast<long long>(at));
      ::close(pipe_fds[0]);
      ::close(pipe_fds[1]);
    } else if (verb == "sendfile") {
      // Copies A bytes of this executable into the memfd at its file position.
      int source = ::open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
      check(::sendfile(fd, source, nullptr, static_cast<size_t>(a)));
      ::close(source);
    } else if (verb == "copy_file_range") {
      // Copies A bytes from the start of the memfd named "src" (same filesystem, as the call
      // needs) into the memfd at its file position.
      loff_t from = 0;
      check(::copy_file_range(fds["src"], &from, fd, nullptr, static_cast<size_t>(a), 0));
    } else if (verb == "copy-offsets") {
      // copy_file_range from "src" at offset 0 into N at offset 100, and sendfile of this
      // executable from offset 0 into N at its position, A bytes each, both with the offsets
      // in memory: prints what each returned and where the offsets and positions are after.
      loff_t in = 0, out = 100;
      ssize_t copied = ::copy_file_range(fds["src"], &in, fd, &out, static_cast<size_t>(a), 0);
      int source = ::open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
      off_t from = 0;
      ssize_t sent = ::sendfile(fd, source, &from, static_cast<size_t>(a));
      std::printf("cfr=%zd\ncfr_in=%lld\ncfr_out=%lld\nsent=%zd\nsent_from=%lld\n", copied,
                  static_cast<long long>(in), static_cast<long long>(out), sent,
                  static_cast<long long>(from));
      std::printf("src_pos=%lld\nexe_pos=%lld\npos=%lld\n",
                  static_cast<long long>(::lseek(fds["src"], 0, SEEK_CUR)),
                  static_cast<long long>(::lseek(source, 0, SEEK_CUR)),
                  static_cast<long long>(::lseek(fd, 0, SEEK_CUR)));
      ::close(source);
      check(copied < 0 || sent < 0 ? -1 : 0);
    } else if (verb == "sendfile32") {
      // i386's sendfile (int $0x80, 187) of A bytes of this executable, from offset 8 kept as a
      // 32-bit off_t below 4 GiB, into N at its position: prints what it returned and the offset.
      int source = ::open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
      void* low = ::mmap(nullptr, 4096, PROT_READ | PROT_WRITE,
                         MAP_PRIVATE | MAP_ANONYMOUS | MAP_32BIT, -1, 0);
      if (low == MAP_FAILED) return errno;
      auto* offset = static_cast<int32_t*>(low);
      offset[0] = 8;
      offset[1] = 0x5a5a5a5a;  // beyond the off_t: must stay as it is
      long sent = 187;
      asm volatile("int $0x80" : "+a"(sent) : "b"(fd), "c"(source), "d"(offset), "S"(a) : "memory");
      std::printf("sent32=%ld\noffset32=%d\nbeyond32=%x\n", sent, offset[0],
                  static_cast<unsigned>(offset[1]));
      ::close(source);
      if (sent < 0) errno = static_cast<int>(-sent);
      check(sent < 0 ? -1 : 0);
    } else if (verb == "copy-writeback") {
      // copy_file_range's offsets in memory, as the kernel writes them back: A bytes from "src"
      // with off_in on a read-only page and off_out at 3 (EFAULT, yet off_out moves on); then
      // at src's end with off_out on a read-only page (0: nothing copied, nothing written).
      auto* page = static_cast<loff_t*>(
          ::mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
      if (page == MAP_FAILED) return errno;
      page[0] = 0;
      struct stat st {};
      ::fstat(fds["src"], &st);
      page[1] = st.st_size;
      ::mprotect(page, 4096, PROT_READ);
      loff_t out = 3;
      ssize_t first = ::copy_file_range(fds["src"], &page[0], fd, &out, static_cast<size_t>(a), 0);
      int first_errno = first < 0 ? errno : 0;
      loff_t in = st.st_size;
      ssize_t at_end = ::copy_file_range(fds["src"], &in, fd, &page[1], static_cast<size_t>(a), 0);
      std::printf("wb_first=%zd\nwb_first_errno=%d\nwb_out=%lld\nwb_end=%zd\n", first, first_errno,
                  static_cast<long long>(out), at_end);
      ::munmap(page, 4096);
    } else if (verb == "sendfile32-far") {
      // i386's sendfile (187) with no offset in memory, from a sparse 3 GiB file whose position
      // is 2^31 + 16: the 32-bit offset's cap is only for an offset in memory, so A bytes come.
      int source = ::open("/tmp", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
      if (source < 0 || ::ftruncate(source, 3LL << 30) != 0 ||
          ::lseek(source, (1LL << 31) + 16, SEEK_SET) < 0) {
        return errno;
      }
      long sent = 187;
      asm volatile("int $0x80" : "+a"(sent) : "b"(fd), "c"(source), "d"(0), "S"(a) : "memory");
      std::printf("far32=%ld\n", sent);
      ::close(source);
      if (sent < 0) errno = static_cast<int>(-sent);
      check(sent < 0 ? -1 : 0);
    } else if (verb == "check") {
      std::vector<char> data(static_cast<size_t>(b));
      ssize_t got = ::pread(fd, data.data(), data.size(), a);
      bool same = got == static_cast<ssize_t>(data.size());
      for (size_t k = 0; same && k < data.size(); ++k)
        same = data[k] == pattern(a + static_cast<long long>(k));
      result = same ? 0 : 1;
    } else if (verb == "size") {
      struct stat st {};
      ::fstat(fd, &st);
      std::printf("size.%s=%lld\n", word(1), static_cast<long long>(st.st_size));
    } else if (verb == "map" || verb == "touch") {
      void* map =
          ::mmap(nullptr, static_cast<size_t>(a), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
      check(map == MAP_FAILED ? -1 : 0);
      if (map != MAP_FAILED) {
        maps[word(1)] = {static_cast<char*>(map), static_cast<size_t>(a)};
        if (verb == "touch") std::memset(map, 'T', static_cast<size_t>(a));
      }
    } else if (verb == "unmap") {
      check(::munmap(maps[word(1)].first, maps[word(1)].second));
    } else if (verb == "close") {
      check(::close(fd));
      fds.erase(word(1));
    } else if (verb == "nodump") {
      check(::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0));  // /proc/PID/exe: only CAP_SYS_PTRACE reads it
    } else if (verb == "fork-hold") {
      if (::pipe(hold_pipe) != 0) return errno;
      holder = ::fork();
      if (holder == 0) {
        char byte;
        ::close(hold_pipe[1]);
        (void)::read(hold_pipe[0], &byte, 1);  // holds every fd until told
        _exit(0);
      }
      ::close(hold_pipe[0]);
    } else if (verb == "release-child") {
      ::close(hold_pipe[1]);
      ::waitpid(holder, nullptr, 0);
    } else {
      std::fprintf(stderr, "unknown op %s\n", verb.c_str());
      return 64;
    }
    std::printf("op%d=%d\n", op, result);
    std::fflush(stdout);
  }
  return 0;
}

// churn N: create, size, map, touch, release N memfds, pausing for a line on stdin at the
// half-way mark and at the end ("mark1", "mark2") so a test can look at the supervisor.
int cmd_churn(long count) {
  for (long i = 0; i < count; ++i) {
    if (i == count / 2 || i == count - 1) {
      std::printf("%s\n", i == count / 2 ? "mark1" : "mark2");
      std::fflush(stdout);
      char line[16];
      (void)::read(STDIN_FILENO, line, sizeof(line));
    }
    int fd = raw_memfd_create("churn", MFD_CLOEXEC);
    if (fd < 0) return errno;
    if (::ftruncate(fd, 4096) != 0) return errno;
    void* map = ::mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (map == MAP_FAILED) return errno;
    static_cast<char*>(map)[0] = 1;
    ::munmap(map, 4096);
    ::close(fd);
  }
  return 0;
}

// forks N THREADS [fault-init]: THREADS threads each fork N children that exit at once, and reap
// them. Under ptrace a child can start, run and exit before its parent's fork event is handled:
// the parent must not then be held for a first stop that was seen already. With fault-init each
// child is the init of a new PID namespace (CAP_SYS_ADMIN) and dies of SIGSEGV at once (under
// ptrace of SIGKILL: a traced init cannot die of its fault). Exits 0, 1 if a fork failed, 2 if a
// child did not end as it should.
int cmd_forks(long count, int threads, bool fault_init) {
  std::atomic<bool> failed{false}, wrong{false};
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&] {
      for (long i = 0; i < count; ++i) {
        pid_t child = fault_init ? static_cast<pid_t>(::syscall(SYS_clone, CLONE_NEWPID | SIGCHLD,
                                                                nullptr, nullptr, nullptr, 0))
                                 : ::fork();
        if (child == 0) {
          if (fault_init) *static_cast<volatile int*>(nullptr) = 1;
          ::_exit(0);
        }
        if (child < 0) {
          failed = true;
          return;
        }
        int status = 0;
        ::waitpid(child, &status, 0);
        // Under ptrace a faulting init is killed (SIGKILL): a traced init cannot die of it.
        bool as_meant = fault_init ? WIFSIGNALED(status) && (WTERMSIG(status) == SIGSEGV ||
                                                             WTERMSIG(status) == SIGKILL)
                                   : WIFEXITED(status) && WEXITSTATUS(status) == 0;
        if (!as_meant) wrong = true;
      }
    });
  }
  for (auto& worker : workers) worker.join();
  return failed ? 1 : wrong ? 2 : 0;
}

// jobctl: a child is stopped with SIGSTOP, continued with SIGCONT and ended with SIGTERM; the
// parent must see each change through waitpid as it would untraced. Exits 0 when it did, else
// the number of the step that went wrong.
int cmd_jobctl() {
  // The child counts in shared memory, so the parent can tell whether it is really stopped.
  auto* counter = static_cast<volatile long*>(
      ::mmap(nullptr, sizeof(long), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0));
  pid_t child = ::fork();
  if (child == 0) {
    for (;;) *counter = *counter + 1;
  }
  int status = 0;
  ::usleep(20 * 1000);
  ::kill(child, SIGSTOP);
  if (::waitpid(child, &status, WUNTRACED) != child || !WIFSTOPPED(status) ||
      WSTOPSIG(status) != SIGSTOP) {
    return 1;
  }
  long before = *counter;
  ::usleep(100 * 1000);
  std::printf("ran_while_stopped=%d\n", *counter != before ? 1 : 0);
  ::kill(child, SIGCONT);
  if (::waitpid(child, &status, WCONTINUED) != child || !WIFCONTINUED(status)) return 2;
  // WCONTINUED says the child was continued, not that it has run since: under ptrace, or on a
  // busy machine, its next count can come much later. Up to 5 s for it.
  long resumed = *counter;
  for (int i = 0; i < 5000 && *counter == resumed; ++i) ::usleep(1000);
  std::printf("ran_after_cont=%d\n", *counter != resumed ? 1 : 0);
  ::kill(child, SIGTERM);
  if (::waitpid(child, &status, 0) != child || !WIFSIGNALED(status) ||
      WTERMSIG(status) != SIGTERM) {
    return 3;
  }
  return 0;
}

// thread-exec NAME FLAGS: a second thread (not the leader) calls execve into "create".
int cmd_thread_exec(char* self, const char* name, const char* flags) {
  std::thread worker([&] {
    char create[] = "create";
    char* argv[] = {self, create, const_cast<char*>(name), const_cast<char*>(flags), nullptr};
    ::execv("/proc/self/exe", argv);
    _exit(errno);
  });
  worker.join();
  return 99;  // not reached
}

// leader-exits NAME FLAGS [exec]: the main thread ends (as pthread_exit ends it) while a second
// thread runs on; the kernel keeps the leader a zombie until the last thread ends. Once it is
// one, the second thread creates NAME twice (exit code: the errno of the first that failed, 0 if
// none) or, with "exec", execs into "create NAME FLAGS" (taking over the zombie's pid). 3: the
// leader never became a zombie.
int cmd_leader_exits(char* self, const char* name, const char* flags, bool exec) {
  std::thread([=] {
    bool zombie = false;
    for (int i = 0; i < 5000 && !zombie; ++i) {
      char stat[512] = {};
      int fd = ::open("/proc/self/stat", O_RDONLY | O_CLOEXEC);  // the leader's state
      ssize_t got = fd < 0 ? -1 : ::read(fd, stat, sizeof(stat) - 1);
      if (fd >= 0) ::close(fd);
      const char* paren = got > 0 ? std::strrchr(stat, ')') : nullptr;
      zombie = paren != nullptr && paren[1] == ' ' && paren[2] == 'Z';
      if (!zombie) ::usleep(1000);
    }
    if (!zombie) ::exit(3);
    if (exec) {
      char create[] = "create";
      char* argv[] = {self, create, const_cast<char*>(name), const_cast<char*>(flags), nullptr};
      ::execv(self, argv);  // not /proc/self/exe: the zombie leader's has no target
      ::exit(errno);
    }
    for (int i = 0; i < 2; ++i) {
      int fd = raw_memfd_create(name, parse_flags(flags));
      if (fd < 0) ::exit(errno);
      ::close(fd);
    }
    ::exit(0);
  }).detach();
  // The main thread alone ends (SYS_exit, not exit_group), without pthread_exit's unwinding.
  for (;;) ::syscall(SYS_exit, 0);
}

// uffd-name create|exec [trapped-first]: the memfd name ("uffd-name") or the program's path
// ("/bin/true") lies in a page that a userfaultfd of ours must fill; a second thread fills it 50 ms
// after it is asked, having first made a memfd of its own with `trapped-first`. Natively the call
// waits for that and succeeds. Exits with the call's errno (0: made, or for exec, the program
// ran), 3 when there is no userfaultfd to be had here.
int cmd_uffd_name(const std::string& kind, bool trapped_first) {
  int uffd = -1;
  if (int device = ::open("/dev/userfaultfd", O_RDWR | O_CLOEXEC); device >= 0) {
    uffd = ::ioctl(device, USERFAULTFD_IOC_NEW, O_CLOEXEC);
    ::close(device);
  }
  if (uffd < 0) uffd = static_cast<int>(::syscall(SYS_userfaultfd, O_CLOEXEC));
  if (uffd < 0) return 3;
  uffdio_api api{};
  api.api = UFFD_API;
  if (::ioctl(uffd, UFFDIO_API, &api) != 0) return 3;
  long page_size = ::sysconf(_SC_PAGESIZE);
  void* page = ::mmap(nullptr, static_cast<size_t>(page_size), PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (page == MAP_FAILED) return errno;
  uffdio_register reg{};
  reg.range.start = reinterpret_cast<uint64_t>(page);
  reg.range.len = static_cast<uint64_t>(page_size);
  reg.mode = UFFDIO_REGISTER_MODE_MISSING;
  if (::ioctl(uffd, UFFDIO_REGISTER, &reg) != 0) return 3;
  static char source[65536];
  std::strcpy(source, kind == "exec" ? "/bin/true" : "uffd-name");
  std::thread([=] {
    uffd_msg message{};
    while (::read(uffd, &message, sizeof(message)) == sizeof(message)) {
      if (message.event != UFFD_EVENT_PAGEFAULT) continue;
      if (trapped_first) ::close(raw_memfd_create("filler", 0));
      ::usleep(50 * 1000);
      uffdio_copy copy{};
      copy.dst = reinterpret_cast<uint64_t>(page);
      copy.src = reinterpret_cast<uint64_t>(source);
      copy.len = static_cast<uint64_t>(page_size);
      ::ioctl(uffd, UFFDIO_COPY, &copy);
    }
  }).detach();
  if (kind == "exec") {
    char arg0[] = "true";
    char* argv[] = {arg0, nullptr};
    ::execv(static_cast<const char*>(page), argv);
    return errno;
  }
  int fd = raw_memfd_create(page, 0);
  return fd < 0 ? errno : 0;
}

// secret-held N zombie|private|nodump: a second thread makes N memfd_secret files and holds
// them: "zombie" once the main thread has ended (SYS_exit), which empties /proc/PID/fd and maps;
// "private" with an fd table of its own (a clone without CLONE_FILES) while the main thread
// waits; "nodump" once the process has made itself non-dumpable. Prints made=K (made and all still
// open; -1: no memfd_secret here) and exits 0.
std::atomic<int> secrets_made{-2};
long secrets_wanted = 0;

int make_secrets(void*) {
  int made = 0;
  for (long i = 0; i < secrets_wanted; ++i) {
    long fd = ::syscall(SYS_memfd_secret, 0);
    if (fd < 0 && errno == ENOSYS) made = -1;
    if (fd < 0) break;
    ++made;
  }
  secrets_made = made;
  for (;;) ::syscall(SYS_pause);
}

int cmd_secret_held(long count, const std::string& how) {
  secrets_wanted = count;
  auto report = [] {
    while (secrets_made == -2) ::usleep(1000);
    std::printf("made=%d\n", secrets_made.load());
    std::fflush(stdout);
    ::syscall(SYS_exit_group, 0);
  };
  if (how == "nodump") {  // hides its fds from a memfd-warden without CAP_SYS_PTRACE
    if (::prctl(PR_SET_DUMPABLE, 0) != 0) return errno;
    std::thread(make_secrets, nullptr).detach();
    report();
  }
  if (how == "private") {
    static char stack[64 * 1024];
    if (::clone(make_secrets, stack + sizeof(stack),
                CLONE_VM | CLONE_FS | CLONE_SIGHAND | CLONE_THREAD | CLONE_SYSVSEM, nullptr) < 0) {
      return errno;
    }
    report();
  }
  std::thread([report] {
    // The leader's end is seen in its state: 'Z' in /proc/self/stat (the process's leader).
    for (bool zombie = false; !zombie; ::usleep(1000)) {
      char stat[512] = {};
      int fd = ::open("/proc/self/stat", O_RDONLY | O_CLOEXEC);
      ssize_t got = fd < 0 ? -1 : ::read(fd, stat, sizeof(stat) - 1);
      if (fd >= 0) ::close(fd);
      const char* paren = got > 0 ? std::strrchr(stat, ')') : nullptr;
      zombie = paren != nullptr && paren[1] == ' ' && paren[2] == 'Z';
    }
    std::thread(make_secrets, nullptr).detach();
    report();
  }).detach();
  for (;;) ::syscall(SYS_exit, 0);
}

// leader-exits-race ROUNDS: each round a child's second thread makes 100 memfds while its main
// thread ends after a short delay, so that the leader ends while a create is being decided.
// Prints the number of rounds whose child did not exit 0, and exits 1 if there were any.
int cmd_leader_exits_race(long rounds) {
  int failed = 0;
  for (long round = 0; round < rounds; ++round) {
    pid_t child = ::fork();
    if (child == 0) {
      std::thread([] {
        for (int i = 0; i < 100; ++i) {
          int fd = raw_memfd_create("busy", MFD_CLOEXEC);
          if (fd < 0) ::exit(errno);
          ::close(fd);
        }
        ::exit(0);
      }).detach();
      ::usleep(static_cast<useconds_t>(50 + (round * 397) % 1500));
      for (;;) ::syscall(SYS_exit, 0);
    }
    int status = 0;
    ::waitpid(child, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) ++failed;
  }
  std::printf("failed=%d\n", failed);
  return failed == 0 ? 0 : 1;
}

// vfork NAME FLAGS: a vfork child execs into "create"; the parent returns its exit code.
int cmd_vfork(char* self, const char* name, const char* flags) {
  char create[] = "create";
  char* argv[] = {self, create, const_cast<char*>(name), const_cast<char*>(flags), nullptr};
  pid_t child = ::vfork();
  if (child == 0) {
    ::execv("/proc/self/exe", argv);
    _exit(errno);
  }
  int status = 0;
  ::waitpid(child, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 99;
}

// storm THREADS: threads call memfd_create and close in a loop until the process is killed.
// Prints "ready" once they run.
int cmd_storm(int threads) {
  for (int i = 0; i < threads; ++i) {
    std::thread([] {
      for (;;) {
        int fd = raw_memfd_create("storm", MFD_CLOEXEC);
        if (fd >= 0) ::close(fd);
      }
    }).detach();
  }
  ::usleep(50 * 1000);
  std::printf("ready\n");
  std::fflush(stdout);
  for (;;) ::pause();
}

// ptrace-child: tries to trace its own child, the way a debugger in CI would; exits with the
// errno PTRACE_ATTACH gave (0 if it worked).
int cmd_ptrace_child() {
  pid_t child = ::fork();
  if (child == 0) {
    for (;;) ::pause();
  }
  long rc = ::ptrace(PTRACE_ATTACH, child, nullptr, nullptr);
  int result = rc == 0 ? 0 : errno;
  ::kill(child, SIGKILL);
  ::waitpid(child, nullptr, 0);
  return result;
}

// Copies /bin/true into `fd`.
bool fill_with_true(int fd) {
  int source = ::open("/bin/true", O_RDONLY | O_CLOEXEC);
  struct stat st {};
  if (source < 0 || ::fstat(source, &st) != 0) return false;
  bool ok = ::sendfile(fd, source, nullptr, static_cast<size_t>(st.st_size)) == st.st_size;
  ::close(source);
  return ok;
}

// Runs the program in `fd` the way HOW says; returns the errno when the exec fails.
int exec_fd(int fd, const std::string& how) {
  char arg0[] = "from-memory";
  char* argv[] = {arg0, nullptr};
  char* envp[] = {nullptr};
  char path[64];
  if (how == "fexecve") {
    ::fexecve(fd, argv, envp);
  } else if (how == "execveat") {
    ::syscall(SYS_execveat, fd, "", argv, envp, AT_EMPTY_PATH);
  } else if (how == "proc") {
    std::snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
    ::execve(path, argv, envp);
  } else if (how == "devfd") {
    std::snprintf(path, sizeof(path), "/dev/fd/%d", fd);
    ::execve(path, argv, envp);
  } else if (how == "symlink") {
    // A path memfd-warden does not recognise: only the kernel's exec seal can stop it.
    // Its name is random: getpid() is the same in every run inside the tree's PID namespace, and
    // two runs side by side would remove or replace each other's link. A child runs it, so that
    // the link is removed whether the exec succeeds or not; its status is the probe's.
    char target[64];
    std::snprintf(target, sizeof(target), "/proc/%d/fd/%d", ::getpid(), fd);
    unsigned long long suffix = 0;
    if (::getrandom(&suffix, sizeof(suffix), 0) != sizeof(suffix)) return errno;
    std::snprintf(path, sizeof(path), "/tmp/warden-probe-link-%016llx", suffix);
    if (::symlink(target, path) != 0) return errno;
    pid_t child = ::fork();
    if (child == 0) {
      ::execve(path, argv, envp);
      _exit(errno);
    }
    int status = 0;
    int waited = child > 0 ? ::waitpid(child, &status, 0) : -1;
    int err = errno;
    ::unlink(path);
    if (waited < 0) return err;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }
  return errno;
}

// exec-memfd NAME HOW: a memfd named NAME holding /bin/true, run by HOW (fexecve, execveat, proc,
// devfd, symlink). Exits 0 if /bin/true ran, else the errno.
int cmd_exec_memfd(const std::string& name, const std::string& how) {
  int fd = raw_memfd_create(name.c_str(), 0);
  if (fd < 0) return errno;
  if (!fill_with_true(fd)) return errno ? errno : 1;
  return exec_fd(fd, how);
}

// exec-huge HOW|mmap: a hugetlb memfd (MFD_HUGETLB, default huge page size) holding /bin/true, made
// executable with fchmod 0755 (F_SEAL_EXEC does not stop that on hugetlbfs), run by HOW. Exits 0
// if /bin/true ran, else the errno (ENOMEM: no huge page to be had).
int cmd_exec_huge(const std::string& how) {
  int fd = raw_memfd_create("huge-true", MFD_HUGETLB);
  if (fd < 0) return errno;
  int source = ::open("/bin/true", O_RDONLY | O_CLOEXEC);
  struct stat st {};
  if (source < 0 || ::fstat(source, &st) != 0) return errno;
  const size_t page = 2UL << 20;  // hugetlbfs sizes are whole huge pages
  size_t size = (static_cast<size_t>(st.st_size) + page - 1) / page * page;
  if (::ftruncate(fd, static_cast<off_t>(size)) != 0) return errno;
  void* map = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (map == MAP_FAILED) return errno;  // hugetlbfs has no write(): fill it through a mapping
  if (::read(source, map, static_cast<size_t>(st.st_size)) != st.st_size)
    return errno ? errno : EIO;
  ::munmap(map, size);
  ::close(source);
  std::printf("fchmod=%d\n", ::fchmod(fd, 0755) == 0 ? 0 : errno);
  std::fflush(stdout);
  if (how == "mmap") {  // code mapped from it, without execve
    return ::mmap(nullptr, size, PROT_READ | PROT_EXEC, MAP_SHARED, fd, 0) == MAP_FAILED ? errno
                                                                                         : 0;
  }
  return exec_fd(fd, how);
}

// exec-fd FD HOW: run the program in an inherited fd.
int cmd_exec_fd(int fd, const std::string& how) { return exec_fd(fd, how); }

// io_uring: io_uring_setup(1); exits 0 if it gave an fd, else the errno.
int cmd_io_uring() {
  char params[120] = {};  // struct io_uring_params, zeroed
  long fd = ::syscall(SYS_io_uring_setup, 1, params);
  return fd >= 0 ? 0 : errno;
}

// shm-route: anonymous memory by another route than memfd_create (shm in /dev/shm, O_TMPFILE).
int cmd_shm_route() {
  // A name of its own (O_EXCL, 0600): getpid() is the same in every run inside the tree's PID
  // namespace, and a run beside this one would make the same name.
  char name[] = "/dev/shm/warden-probe-XXXXXX";
  int shm = ::mkostemp(name, O_CLOEXEC);
  if (shm < 0) return errno;
  ::unlink(name);
  int tmp = ::open("/dev/shm", O_RDWR | O_TMPFILE | O_CLOEXEC, 0600);
  bool grown = ::ftruncate(shm, 1 << 20) == 0 && (tmp < 0 || ::ftruncate(tmp, 1 << 20) == 0);
  std::printf("shm=%d\ntmpfile=%d\n", grown ? 1 : 0, tmp >= 0 ? 1 : 0);
  return 0;
}

// i386-memfd NAME: memfd_create through the i386 ABI (int $0x80, syscall 356), the way a 32-bit
// program would; the name lives below 4 GiB so a 32-bit pointer can reach it. Exits with the
// errno, 0 on success. Where the kernel has no i386 ABI, int $0x80 kills the process (SIGSEGV).
int cmd_i386_memfd(const char* name) {
  void* low =
      ::mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_32BIT, -1, 0);
  if (low == MAP_FAILED) return errno;
  std::strncpy(static_cast<char*>(low), name, 255);
  long result = 356;
  asm volatile("int $0x80"
               : "+a"(result)
               : "b"(static_cast<long>(reinterpret_cast<uintptr_t>(low))), "c"(0L)
               : "memory");
  if (result < 0) return static_cast<int>(-result);
  std::printf("fd=%ld\n", result);
  return 0;
}

// lifeline DIR: a parent and a forked child that each write their host pid (DIR/pid.parent,
// DIR/pid.child), beat a heartbeat counter (DIR/hb.ROLE) every 20 ms, and once DIR/go exists
// call memfd_create once and write the errno to DIR/result.ROLE. Prints "ready" once both run.
// For tests that kill memfd-warden itself and watch what becomes of the tree.
int cmd_lifeline(const std::string& dir) {
  auto put = [&](const std::string& name, const std::string& text) {
    std::string tmp = dir + "/." + name;
    FILE* out = std::fopen(tmp.c_str(), "w");
    if (out == nullptr) return;
    std::fputs(text.c_str(), out);
    std::fclose(out);
    std::rename(tmp.c_str(), (dir + "/" + name).c_str());
  };
  auto announce = [&](const std::string& role) {
    char self[32] = {};
    (void)::readlink("/proc/self", self, sizeof(self) - 1);  // our pid as the host sees it
    put("pid." + role, self);
  };
  auto live = [&](const std::string& role) {
    bool called = false;
    for (long beat = 0;; ++beat) {
      put("hb." + role, std::to_string(beat));
      if (!called && ::access((dir + "/go").c_str(), F_OK) == 0) {
        int fd = raw_memfd_create("after-supervisor", 0);
        put("result." + role, std::to_string(fd < 0 ? errno : 0));
        called = true;
      }
      ::usleep(20 * 1000);
    }
  };
  announce("parent");
  pid_t child = ::fork();
  if (child == 0) {
    announce("child");
    live("child");
  }
  while (::access((dir + "/pid.child").c_str(), F_OK) != 0) ::usleep(5000);
  std::printf("ready\n");
  std::fflush(stdout);
  live("parent");
  return 0;
}

// own-filter MODE NAME: installs a filter of the target's own, then calls memfd_create(NAME, 0).
// MODE allow: an allow-everything filter (stacked on ours); listener: the same with
// SECCOMP_FILTER_FLAG_NEW_LISTENER (exits with its errno if refused); refuse-sealing: fails a
// memfd_create whose flags hold MFD_ALLOW_SEALING with ENOTUNIQ; zero-sealing: answers such a
// call with 0 without running it (SECCOMP_RET_ERRNO | 0). Prints fd=N; exits with the errno of
// memfd_create, 0 on success.
int cmd_own_filter(const std::string& mode, const std::string& name) {
  uint32_t answer = mode == "refuse-sealing" ? SECCOMP_RET_ERRNO | ENOTUNIQ
                    : mode == "zero-sealing" ? SECCOMP_RET_ERRNO | 0
                                             : SECCOMP_RET_ALLOW;
  sock_filter filter[] = {
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_memfd_create, 0, 2),
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, args[1])),
      BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, MFD_ALLOW_SEALING, 1, 0),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
      BPF_STMT(BPF_RET | BPF_K, answer),
  };
  sock_fprog prog{static_cast<unsigned short>(std::size(filter)), filter};
  ::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
  unsigned flags = mode == "listener" ? SECCOMP_FILTER_FLAG_NEW_LISTENER : 0;
  if (::syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &prog) < 0) return errno;
  int fd = raw_memfd_create(name.c_str(), 0);
  int error = errno;
  std::printf("fd=%d\n", fd);
  return fd < 0 ? error : 0;
}

// addfd-einval PROGRAM ARGS...: runs PROGRAM (memfd-warden, in the tests) under a filter of its
// own that fails every SECCOMP_IOCTL_NOTIF_ADDFD with EINVAL, as a kernel before 5.14 answers
// ADDFD with the SEND flag. Exits 126 if the filter cannot be loaded or PROGRAM not exec'd.
int cmd_addfd_einval(char** program) {
  sock_filter filter[] = {
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_ioctl, 0, 4),
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, args[1])),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, static_cast<uint32_t>(SECCOMP_IOCTL_NOTIF_ADDFD), 0, 2),
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, args[1]) + 4),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0, 1, 0),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EINVAL),
  };
  sock_fprog prog{static_cast<unsigned short>(std::size(filter)), filter};
  if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
      ::syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) != 0) {
    std::perror("addfd-einval: loading the filter");
    return 126;
  }
  ::execv(program[0], program);
  std::perror("addfd-einval: execv");
  return 126;
}

// restart-storm N: N memfd_create calls while another thread pelts this one with SIGUSR1 (an
// SA_RESTART handler). Prints made=K; a call restarted by the signal must count once.
std::atomic<long> g_signals{0};
void count_signal(int) { ++g_signals; }
int cmd_restart_storm(long count) {
  struct sigaction action {};
  action.sa_handler = count_signal;
  action.sa_flags = SA_RESTART;
  ::sigaction(SIGUSR1, &action, nullptr);
  pthread_t self = ::pthread_self();
  std::atomic<bool> stop{false};
  std::thread pelter([&] {
    while (!stop) ::pthread_kill(self, SIGUSR1);
  });
  long made = 0;
  for (long i = 0; i < count; ++i) {
    int fd = raw_memfd_create("storm", MFD_CLOEXEC);
    if (fd >= 0) {
      ++made;
      ::close(fd);
    }
  }
  stop = true;
  pelter.join();
  std::printf("made=%ld\nsignals=%ld\n", made, g_signals.load());
  return 0;
}

// load PROCESSES THREADS SECONDS: every thread of every process creates a memfd, sizes it to
// 4 KiB and holds it for 20 ms before it closes it, for SECONDS: with 64 threads, about 64
// memfds of 4 KiB are alive at any time, whatever the interleaving. Prints "started", then the
// totals of what the targets saw: created=, create_refused=, sized=, size_refused=.
int cmd_load(int processes, int threads, int seconds) {
  int totals[2];
  if (::pipe(totals) != 0) return errno;
  std::printf("started\n");
  std::fflush(stdout);
  for (int p = 0; p < processes; ++p) {
    if (::fork() != 0) continue;
    std::atomic<long> created{0}, create_refused{0}, sized{0}, size_refused{0};
    std::vector<std::thread> workers;
    auto until = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
    for (int t = 0; t < threads; ++t) {
      workers.emplace_back([&] {
        while (std::chrono::steady_clock::now() < until) {
          int fd = raw_memfd_create("load", MFD_CLOEXEC);
          if (fd < 0) {
            ++create_refused;
          } else {
            ++created;
            (::ftruncate(fd, 4096) == 0 ? sized : size_refused)++;
          }
          ::usleep(20 * 1000);
          if (fd >= 0) ::close(fd);
        }
      });
    }
    for (auto& worker : workers) worker.join();
    long line[4] = {created, create_refused, sized, size_refused};
    (void)::write(totals[1], line, sizeof(line));
    _exit(0);
  }
  ::close(totals[1]);
  long sum[4] = {0, 0, 0, 0}, line[4];
  while (::read(totals[0], line, sizeof(line)) == sizeof(line)) {
    for (int i = 0; i < 4; ++i) sum[i] += line[i];
  }
  while (::wait(nullptr) > 0) {
  }
  std::printf("created=%ld\ncreate_refused=%ld\nsized=%ld\nsize_refused=%ld\n", sum[0], sum[1],
              sum[2], sum[3]);
  return 0;
}

// landlock FILE: a child takes on a Landlock domain that handles truncation and allows it
// nowhere, then truncates FILE by path (in_truncate), a path that does not resolve
// (in_truncate_missing), FILE through its parent's fd (in_other_fd: Landlock keeps it out of
// processes outside its domain; so too a missing name under the parent's cwd, in_other_missing,
// and an attribute on the parent's memfd, in_other_memfd), its own memfd by path
// (in_truncate_memfd), FILE through an fd opened before the domain (in_ftruncate_early), and sets
// an attribute on FILE by path (in_setxattr) and by that fd (in_fsetxattr). Then the parent, in
// no domain, truncates FILE by path (out_truncate). Prints each as CASE=ERRNO (0 for success),
// landlock= (the child's landlock_restrict_self: EOPNOTSUPP or ENOSYS without Landlock, and then
// nothing else), and size= (FILE's size at the end).
int cmd_landlock(const char* file) {
  constexpr uint64_t kAccessFsTruncate = 1ULL << 14;  // Landlock ABI 3 (Linux 6.2)
  int early = ::open(file, O_RDWR | O_CLOEXEC);
  int memfd = static_cast<int>(::syscall(SYS_memfd_create, "landlocked", 0));
  if (early < 0 || memfd < 0) return errno;
  std::string parent = "/proc/" + std::to_string(::getpid());
  std::string other_fd = parent + "/fd/" + std::to_string(early);
  std::string other_memfd = parent + "/fd/" + std::to_string(memfd);
  std::string other_missing = parent + "/cwd/no-such-file";
  std::string own_memfd = "/proc/self/fd/" + std::to_string(memfd);
  auto report = [](const char* name, long rc) {
    std::printf("%s=%d\n", name, rc == 0 ? 0 : errno);
  };
  std::fflush(stdout);
  pid_t child = ::fork();
  if (child == 0) {
    uint64_t handled = kAccessFsTruncate;  // struct landlock_ruleset_attr, ABI 1's size
    int ruleset =
        static_cast<int>(::syscall(SYS_landlock_create_ruleset, &handled, sizeof(handled), 0));
    long restricted = -1;
    if (ruleset >= 0 && ::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0) {
      restricted = ::syscall(SYS_landlock_restrict_self, ruleset, 0);
    }
    report("landlock", restricted);
    if (restricted != 0) _exit(0);
    report("in_truncate", ::truncate(file, 10));
    report("in_truncate_missing", ::truncate((std::string(file) + ".missing").c_str(), 10));
    report("in_other_fd", ::truncate(other_fd.c_str(), 12));
    report("in_other_missing", ::truncate(other_missing.c_str(), 12));
    report("in_other_memfd", ::setxattr(other_memfd.c_str(), "user.landlocked", "v", 1, 0));
    report("in_truncate_memfd", ::truncate(own_memfd.c_str(), 4096));
    report("in_ftruncate_early", ::ftruncate(early, 11));
    report("in_setxattr", ::setxattr(file, "user.landlocked", "v", 1, 0));
    report("in_fsetxattr", ::fsetxattr(early, "user.landlocked", "vv", 2, 0));
    std::fflush(stdout);
    _exit(0);
  }
  int status = 0;
  ::waitpid(child, &status, 0);
  report("out_truncate", ::truncate(file, 13));
  struct stat st {};
  ::fstat(early, &st);
  std::printf("size=%lld\n", static_cast<long long>(st.st_size));
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

// xattr-acl FILE ID: sets on FILE the POSIX ACL u::rw-,u:ID:r--,g::r--,m::r--,o::r-- (ID as this
// process's user namespace numbers it); prints acl=ERRNO (0 for success).
int cmd_xattr_acl(const char* file, const char* id) {
  struct __attribute__((packed)) {
    uint32_t version;
    struct __attribute__((packed)) {
      uint16_t tag, perm;
      uint32_t id;
    } entries[5];
  } acl = {2,
           {{0x01, 6, ~0u},
            {0x02, 4, static_cast<uint32_t>(std::strtoul(id, nullptr, 10))},
            {0x04, 4, ~0u},
            {0x10, 4, ~0u},
            {0x20, 4, ~0u}}};
  int set = ::setxattr(file, "system.posix_acl_access", &acl, sizeof(acl), 0) == 0 ? 0 : errno;
  std::printf("acl=%d\n", set);
  return 0;
}

// xattr-cases DIR: extended attributes set every way the kernel takes them, on a file in DIR, a
// directory, a symlink, a memfd, and with each bad argument in turn; prints CASE=ERRNO (0 for
// success) for each, then memfd_xattrs= (how many attributes the memfd holds at the end). A
// child that has become nobody tries a root-owned file and a memfd of its own (nobody_*). The
// i386 fsetxattr (int $0x80, 228) of a memfd is i386_memfd ("unusable" where the machine runs
// no i386 calls).
int cmd_xattr_cases(const std::string& dir) {
  std::string file = dir + "/file", link = dir + "/link";
  int fd = ::open(file.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  int memfd = static_cast<int>(::syscall(SYS_memfd_create, "xattrs", 0));
  int opath = ::open(file.c_str(), O_PATH | O_CLOEXEC);
  if (fd < 0 || memfd < 0 || opath < 0 || ::symlink("file", link.c_str()) != 0) return errno;
  std::string proc_memfd = "/proc/self/fd/" + std::to_string(memfd);
  std::string long_name = "user." + std::string(250, 'n');  // 255 bytes: the longest
  std::string too_long = long_name + "n";
  static char big[XATTR_SIZE_MAX + 1];
  auto report = [](const char* name, long rc) {
    std::printf("%s=%d\n", name, rc == 0 ? 0 : errno);
  };
  report("f_file", ::fsetxattr(fd, "user.a", "v", 1, 0));
  report("f_file_again", ::fsetxattr(fd, "user.a", "vv", 2, 0));
  report("f_create_exists", ::fsetxattr(fd, "user.a", "v", 1, XATTR_CREATE));
  report("f_replace_missing", ::fsetxattr(fd, "user.b", "v", 1, XATTR_REPLACE));
  report("f_empty_value", ::fsetxattr(fd, "user.c", nullptr, 0, 0));
  report("f_largest", ::fsetxattr(fd, "user.d", big, XATTR_SIZE_MAX, 0));
  report("f_longest_name", ::fsetxattr(fd, long_name.c_str(), "v", 1, 0));
  report("f_trusted", ::fsetxattr(fd, "trusted.a", "v", 1, 0));
  report("f_security", ::fsetxattr(fd, "security.a", "v", 1, 0));
  report("f_unknown_prefix", ::fsetxattr(fd, "nosuch.a", "v", 1, 0));
  report("f_bad_flags", ::fsetxattr(fd, "user.a", "v", 1, 0x100));
  report("f_empty_name", ::fsetxattr(fd, "", "v", 1, 0));
  report("f_name_too_long", ::fsetxattr(fd, too_long.c_str(), "v", 1, 0));
  report("f_too_big", ::fsetxattr(fd, "user.a", big, XATTR_SIZE_MAX + 1, 0));
  static const void* volatile no_value = nullptr;  // a bad pointer the compiler does not see
  report("f_bad_value", ::fsetxattr(fd, "user.a", no_value, 1, 0));
  report("f_bad_name", ::fsetxattr(fd, nullptr, "v", 1, 0));
  report("f_bad_fd", ::fsetxattr(999, "user.a", "v", 1, 0));
  report("f_bad_fd_bad_flags", ::fsetxattr(999, "user.a", "v", 1, 0x100));
  report("f_opath", ::fsetxattr(opath, "user.a", "v", 1, 0));
  report("f_memfd", ::fsetxattr(memfd, "user.a", "v", 1, 0));
  report("f_memfd_trusted", ::fsetxattr(memfd, "trusted.a", "v", 1, 0));
  report("f_memfd_security", ::fsetxattr(memfd, "security.a", "v", 1, 0));
  // A POSIX ACL, u::rw-,g::r--,o::r-- (version 2; tags USER_OBJ, GROUP_OBJ, OTHER).
  struct __attribute__((packed)) {
    uint32_t version;
    struct __attribute__((packed)) {
      uint16_t tag, perm;
      uint32_t id;
    } entries[3];
  } acl = {2, {{0x01, 6, ~0u}, {0x04, 4, ~0u}, {0x20, 4, ~0u}}};
  report("f_memfd_acl", ::fsetxattr(memfd, "system.posix_acl_access", &acl, sizeof(acl), 0));
  report("f_memfd_bad_flags", ::fsetxattr(memfd, "user.a", "v", 1, 0x100));
  report("f_memfd_too_big", ::fsetxattr(memfd, "user.a", big, XATTR_SIZE_MAX + 1, 0));
  // fsetxattr(AT_FDCWD, ...): the working directory, on Linux 6.13 and later.
  if (::chdir(dir.c_str()) == 0) report("f_cwd", ::fsetxattr(AT_FDCWD, "user.w", "v", 1, 0));
  report("p_file", ::setxattr(file.c_str(), "user.p", "v", 1, 0));
  report("p_dir", ::setxattr(dir.c_str(), "user.p", "v", 1, 0));
  report("p_follow_link", ::setxattr(link.c_str(), "user.q", "v", 1, 0));
  report("l_link", ::lsetxattr(link.c_str(), "user.q", "v", 1, 0));
  report("l_link_trusted", ::lsetxattr(link.c_str(), "trusted.q", "v", 1, 0));
  report("l_link_slash", ::lsetxattr((link + "/").c_str(), "user.q", "v", 1, 0));
  report("p_trailing_slash", ::setxattr((file + "/").c_str(), "user.p", "v", 1, 0));
  report("p_memfd_slash", ::setxattr((proc_memfd + "/").c_str(), "user.p", "v", 1, 0));
  report("p_missing", ::setxattr((dir + "/none").c_str(), "user.p", "v", 1, 0));
  report("p_missing_bad_flags", ::setxattr((dir + "/none").c_str(), "user.p", "v", 1, 0x100));
  report("p_empty", ::setxattr("", "user.p", "v", 1, 0));
  report("p_bad_path", ::setxattr(nullptr, "user.p", "v", 1, 0));
  report("p_memfd", ::setxattr(proc_memfd.c_str(), "user.p", "v", 1, 0));
  // The kernel's shmem files behind a shared anonymous mapping and a System V segment, reached
  // through /proc/self/map_files (CAP_SYS_ADMIN).
  auto map_file = [](void* start) {
    char path[96];
    std::snprintf(path, sizeof(path), "/proc/self/map_files/%lx-%lx",
                  static_cast<unsigned long>(reinterpret_cast<uintptr_t>(start)),
                  static_cast<unsigned long>(reinterpret_cast<uintptr_t>(start) + 4096));
    return std::string(path);
  };
  void* shared = ::mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  int segment = ::shmget(IPC_PRIVATE, 4096, IPC_CREAT | 0600);
  void* attached = segment >= 0 ? ::shmat(segment, nullptr, 0) : nullptr;
  if (segment >= 0) ::shmctl(segment, IPC_RMID, nullptr);
  report("p_anon_shared", ::setxattr(map_file(shared).c_str(), "user.s", "v", 1, 0));
  report("p_sysv", ::setxattr(map_file(attached).c_str(), "user.s", "v", 1, 0));
  report("l_memfd_link", ::lsetxattr(proc_memfd.c_str(), "user.p", "v", 1, 0));
  // setxattrat (6.13): struct xattr_args { u64 value; u32 size; u32 flags; }.
  struct {
    uint64_t value;
    uint32_t size, flags;
  } args{reinterpret_cast<uintptr_t>("v"), 1, 0};
  report("at_file", ::syscall(463, AT_FDCWD, file.c_str(), 0, "user.t", &args, sizeof(args)));
  report("at_memfd", ::syscall(463, memfd, "", AT_EMPTY_PATH, "user.t", &args, sizeof(args)));
  // i386: the name and value below 4 GiB, where a 32-bit pointer reaches them.
  auto* low = static_cast<char*>(::mmap(nullptr, 4096, PROT_READ | PROT_WRITE,
                                        MAP_PRIVATE | MAP_ANONYMOUS | MAP_32BIT, -1, 0));
  if (low != MAP_FAILED) {
    // In a child: a machine without i386 calls kills it (SIGSEGV), and says so as "unusable".
    std::strcpy(low, "user.i");
    std::fflush(stdout);
    pid_t child = ::fork();
    if (child == 0) {
      long result = 228, name = static_cast<long>(reinterpret_cast<uintptr_t>(low));
      asm volatile("int $0x80"
                   : "+a"(result)
                   : "b"(static_cast<long>(memfd)), "c"(name), "d"(name), "S"(1L), "D"(0L)
                   : "memory");
      std::printf("i386_memfd=%ld\n", -result);
      std::fflush(stdout);
      ::_exit(0);
    }
    int status = 0;
    if (child > 0 && ::waitpid(child, &status, 0) == child && WIFSIGNALED(status)) {
      std::printf("i386_memfd=unusable\n");
    }
  }
  std::fflush(stdout);  // before the forks, or each child prints it all again
  // 1500 supplementary groups: a /proc/PID/status longer than 8 KiB, its capabilities last.
  pid_t grouped = ::fork();
  if (grouped == 0) {
    std::vector<gid_t> groups(1500);
    for (size_t i = 0; i < groups.size(); ++i) groups[i] = static_cast<gid_t>(100000 + i);
    if (::setgroups(groups.size(), groups.data()) != 0) _exit(errno);
    report("many_groups", ::fsetxattr(fd, "user.g", "v", 1, 0));
    std::fflush(stdout);
    _exit(0);
  }
  ::waitpid(grouped, nullptr, 0);
  pid_t child = ::fork();
  if (child == 0) {
    int own = static_cast<int>(::syscall(SYS_memfd_create, "nobody", 0));
    int rd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
    if (::setgroups(0, nullptr) != 0 || ::setresgid(65534, 65534, 65534) != 0 ||
        ::setresuid(65534, 65534, 65534) != 0) {
      _exit(errno);
    }
    report("nobody_root_file", ::fsetxattr(rd, "user.n", "v", 1, 0));
    report("nobody_root_path", ::setxattr(file.c_str(), "user.n", "v", 1, 0));
    report("nobody_trusted", ::fsetxattr(rd, "trusted.n", "v", 1, 0));
    report("nobody_memfd", ::fsetxattr(own, "user.n", "v", 1, 0));
    std::fflush(stdout);
    _exit(0);
  }
  int status = 0;
  ::waitpid(child, &status, 0);
  char names[4096];
  ssize_t listed = ::flistxattr(memfd, names, sizeof(names));
  int held = 0;
  for (ssize_t i = 0; i < listed; i += static_cast<ssize_t>(std::strlen(names + i)) + 1) ++held;
  std::printf("memfd_xattrs=%d\n", held);
  std::fflush(stdout);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

int usage() {
  std::fprintf(
      stderr,
      "usage: warden_probe COMMAND ...\n"
      "  create NAME FLAGS | create-hex HEXNAME FLAGS | bad-pointer KIND FLAGS\n"
      "  many N [close] | release-close LIMIT | release-munmap | release-child\n"
      "  race N | thread NAME FLAGS | grandchild NAME FLAGS | exec-then NAME FLAGS\n"
      "  orphan NAME FLAGS FILE | hold NAME | wait-signal | wait-default\n"
      "  script OP ARGS ; OP ARGS ... | churn N\n"
      "  jobctl | thread-exec NAME FLAGS | vfork NAME FLAGS | storm THREADS | forks N THREADS "
      "[fault-init]\n"
      "  ptrace-child | exec-memfd NAME HOW | exec-huge HOW | exec-fd FD HOW | io_uring\n"
      "  shm-route | in-pidns VALUE COMMAND... | in-userns COMMAND... | flip VALUE NAME FLAGS\n"
      "  hit-reader STOP|KILL NAME FLAGS | stop-readers NAME FLAGS\n"
      "  i386-memfd NAME | lifeline DIR | own-filter allow|listener|refuse-sealing|zero-sealing "
      "NAME\n"
      "  restart-storm N | load PROCESSES THREADS SECONDS\n"
      "  exit CODE | raise SIGNAL | abort | segv | jobctl-race N | hold-inotify SECONDS\n"
      "  xattr-cases DIR | xattr-acl FILE ID | landlock FILE\n");
  return 64;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) return usage();
  std::string command = argv[1];
  auto arg = [&](int i) -> const char* { return i < argc ? argv[i] : "0"; };
  if (command == "create") return cmd_create(arg(2), parse_flags(arg(3)));
  if (command == "create-hex") return cmd_create(unhex(arg(2)), parse_flags(arg(3)));
  if (command == "bad-pointer") return cmd_bad_pointer(arg(2), parse_flags(arg(3)));
  if (command == "many") return cmd_many(std::atol(arg(2)), argc > 3);
  if (command == "release-close") return cmd_release_close(std::atol(arg(2)));
  if (command == "release-munmap") return cmd_release_munmap();
  if (command == "release-child") return cmd_release_child();
  if (command == "race") return cmd_race(std::atol(arg(2)));
  if (command == "race-wake") return cmd_race_wake(std::atol(arg(2)));
  if (command == "exec-while-creating") {
    return cmd_exec_while_creating(std::atol(arg(2)), std::string(arg(3)) == "leader");
  }
  if (command == "race-escape") {
    return cmd_race_escape(std::atol(arg(2)), std::string(arg(3)) == "direct");
  }
  if (command == "thread") return cmd_thread(arg(2), parse_flags(arg(3)));
  if (command == "grandchild") return cmd_grandchild(arg(2), parse_flags(arg(3)));
  if (command == "exec-then") return cmd_exec_then(argv[0], arg(2), arg(3));
  if (command == "across-exec") return cmd_across_exec(argv[0], arg(2), parse_flags(arg(3)));
  if (command == "fd-open") return cmd_fd_open(std::atoi(arg(2)));
  if (command == "lowest-free") return cmd_lowest_free(arg(2));
  if (command == "secret") return cmd_secret(parse_flags(arg(2)));
  if (command == "orphan") return cmd_orphan(arg(2), parse_flags(arg(3)), arg(4));
  if (command == "hold") return cmd_hold(arg(2));
  if (command == "wait-signal") return cmd_wait_signal();
  if (command == "wait-default") return cmd_wait_default();
  if (command == "script") return cmd_script(argc, argv);
  if (command == "jobctl") return cmd_jobctl();
  if (command == "exec-memfd") return cmd_exec_memfd(arg(2), arg(3));
  if (command == "exec-huge") return cmd_exec_huge(arg(2));
  if (command == "in-pidns") return cmd_in_pidns(argc, argv);
  if (command == "in-userns") return cmd_in_userns(argc, argv);
  if (command == "flip") return cmd_flip(arg(2), arg(3), parse_flags(arg(4)));
  if (command == "hit-reader") return cmd_hit_reader(arg(2), arg(3), parse_flags(arg(4)));
  if (command == "stop-readers") return cmd_stop_readers(arg(2), parse_flags(arg(3)));
  if (command == "exec-fd") return cmd_exec_fd(std::atoi(arg(2)), arg(3));
  if (command == "io_uring") return cmd_io_uring();
  if (command == "lifeline") return cmd_lifeline(arg(2));
  if (command == "own-filter") return cmd_own_filter(arg(2), arg(3));
  if (command == "addfd-einval" && argc > 2) return cmd_addfd_einval(argv + 2);
  if (command == "restart-storm") return cmd_restart_storm(std::atol(arg(2)));
  if (command == "load") return cmd_load(std::atoi(arg(2)), std::atoi(arg(3)), std::atoi(arg(4)));
  if (command == "i386-memfd") return cmd_i386_memfd(arg(2));
  if (command == "xattr-cases") return cmd_xattr_cases(arg(2));
  if (command == "xattr-acl") return cmd_xattr_acl(arg(2), arg(3));
  if (command == "landlock") return cmd_landlock(arg(2));
  if (command == "shm-route") return cmd_shm_route();
  if (command == "thread-exec") return cmd_thread_exec(argv[0], arg(2), arg(3));
  if (command == "vfork") return cmd_vfork(argv[0], arg(2), arg(3));
  if (command == "secret-held") return cmd_secret_held(std::atol(arg(2)), arg(3));
  if (command == "uffd-name") return cmd_uffd_name(arg(2), std::string(arg(3)) == "trapped-first");
  if (command == "leader-exits-race") return cmd_leader_exits_race(std::atol(arg(2)));
  if (command == "leader-exits") {
    return cmd_leader_exits(argv[0], arg(2), arg(3), argc > 4 && std::string(argv[4]) == "exec");
  }
  if (command == "storm") return cmd_storm(std::atoi(arg(2)));
  if (command == "ptrace-child") return cmd_ptrace_child();
  if (command == "churn") return cmd_churn(std::atol(arg(2)));
  if (command == "forks") {
    return cmd_forks(std::atol(arg(2)), std::atoi(arg(3)), std::string(arg(4)) == "fault-init");
  }
  if (command == "exit") return std::atoi(arg(2));
  if (command == "hold-inotify") return cmd_hold_inotify(std::atol(arg(2)));
  if (command == "abort") std::abort();
  if (command == "segv") {
    *static_cast<volatile int*>(nullptr) = 1;
    return 0;
  }
  if (command == "jobctl-race") return cmd_jobctl_race(std::atol(arg(2)));
  if (command == "raise") {
    ::signal(std::atoi(arg(2)), SIG_DFL);
    ::raise(std::atoi(arg(2)));
    return 99;
  }
  return usage();
}
