// bench_loop OP N [THREADS [IDLE]]: runs OP N times and prints the median of 5 rounds in nanoseconds per
// op, so that what is measured is the call, not process start-up. OPs: memfd (memfd_create +
// close), memfd-denied (memfd_create of a name the benchmark's policy denies), ftruncate (on one
// memfd, alternating sizes), getpid (an untrapped call). With THREADS > 1, that many threads
// share the N calls of a round, started together: the figure is wall time per call, so its
// inverse is the throughput of the whole process. IDLE more threads sleep in pause() throughout
// (a tree with many threads, as a JVM or a browser has).
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <barrier>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <thread>
#include <vector>

namespace {

enum class Op { kMemfd, kMemfdDenied, kFtruncate, kGetpid };

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
    }
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: bench_loop memfd|memfd-denied|ftruncate|getpid N [THREADS]\n");
    return 64;
  }
  Op op = Op::kGetpid;
  if (std::strcmp(argv[1], "memfd") == 0) op = Op::kMemfd;
  if (std::strcmp(argv[1], "memfd-denied") == 0) op = Op::kMemfdDenied;
  if (std::strcmp(argv[1], "ftruncate") == 0) op = Op::kFtruncate;
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
