// bench_loop OP N [THREADS [IDLE]]: runs OP N times and prints the median of 5 rounds in
// nanoseconds per op, so that what is measured is the call, not process start-up. OPs: memfd
// (memfd_create + close), memfd-denied (memfd_create of a name the benchmark's policy denies),
// ftruncate (on one memfd, alternating sizes), getpid (an untrapped call), map-disk and map-shm
// (mmap of a page readable and executable, and munmap: of this program's file, on disk, and of a
// named file in /dev/shm, whose name the exec checks must find reachable). With THREADS > 1, that
// many threads share the N calls of a round, started together: the figure is wall time per call, so
// its inverse is the throughput of the whole process. IDLE more threads sleep in pause() throughout
// (a tree with many threads, as a JVM or a browser has).
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <barrier>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

namespace {

enum class Op { kMemfd, kMemfdDenied, kFtruncate, kGetpid, kMap };

// `sized`: the memfd for ftruncate, or the file to map.
bool run(Op op, long n, int sized) {
  for (long i = 0; i < n; ++i) {
    switch (op) {
      case Op::kMemfd: {
        int fd = static_cast<int>(::syscall(SYS_memfd_create, "bench", MFD_CLOEXEC));
        if (fd >= 0) ::close(fd);
        break;
      }
      case Op::kMemfdDenied:
        ::syscall(SYS_memfd_create, "denied", MFD_CLOEXEC);
        break;
      case Op::kFtruncate:
        if (::ftruncate(sized, (i & 1) ? 8192 : 4096) != 0) return false;
        break;
      case Op::kGetpid:
        ::syscall(SYS_getpid);
        break;
      case Op::kMap: {
        void* at = ::mmap(nullptr, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE, sized, 0);
        if (at == MAP_FAILED) return false;
        ::munmap(at, 4096);
        break;
      }
    }
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr,
                 "usage: bench_loop memfd|memfd-denied|ftruncate|getpid|map-disk|map-shm N "
                 "[THREADS [IDLE]]\n");
    return 64;
  }
  Op op = Op::kGetpid;
  if (std::strcmp(argv[1], "memfd") == 0) op = Op::kMemfd;
  if (std::strcmp(argv[1], "memfd-denied") == 0) op = Op::kMemfdDenied;
  if (std::strcmp(argv[1], "ftruncate") == 0) op = Op::kFtruncate;
  bool map_disk = std::strcmp(argv[1], "map-disk") == 0;
  bool map_shm = std::strcmp(argv[1], "map-shm") == 0;
  if (map_disk || map_shm) op = Op::kMap;
  long n = std::atol(argv[2]);
  int threads = argc > 3 ? std::atoi(argv[3]) : 1;
  int idle = argc > 4 ? std::atoi(argv[4]) : 0;
  if (n <= 0 || threads <= 0 || idle < 0) return 64;
  for (int i = 0; i < idle; ++i) {
    std::thread([] {
      for (;;) ::pause();
    }).detach();
  }
  int sized = ::memfd_create("bench-sized", MFD_CLOEXEC);
  if (map_disk) sized = ::open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
  if (map_shm) {
    std::string name = "/dev/shm/bench-map-" + std::to_string(::getpid());
    sized = ::open(name.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (sized < 0 || ::ftruncate(sized, 4096) != 0) return 1;
    std::atexit([] { ::unlink(("/dev/shm/bench-map-" + std::to_string(::getpid())).c_str()); });
  }
  if (sized < 0) return 1;
  std::vector<double> rounds;
  for (int round = 0; round < 5; ++round) {
    std::chrono::steady_clock::time_point start;
    if (threads == 1) {
      start = std::chrono::steady_clock::now();
      if (!run(op, n, sized)) return 1;
    } else {
      // Every thread is created before the clock starts; the barrier releases them together.
      std::barrier gate(threads + 1);
      std::vector<std::thread> workers;
      for (int t = 0; t < threads; ++t) {
        long share = n / threads + (t < n % threads ? 1 : 0);
        workers.emplace_back([&, share] {
          gate.arrive_and_wait();
          run(op, share, sized);
        });
      }
      start = std::chrono::steady_clock::now();
      gate.arrive_and_wait();
      for (auto& worker : workers) worker.join();
    }
    auto ns = std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - start);
    rounds.push_back(ns.count() / static_cast<double>(n));
  }
  std::sort(rounds.begin(), rounds.end());
  std::printf("%.1f\n", rounds[2]);
  return 0;
}
