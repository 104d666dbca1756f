// bench_loop OP N: runs OP N times and prints the median of 5 rounds in nanoseconds per op, so
// that what is measured is the call, not process start-up. OPs: memfd (memfd_create + close),
// memfd-denied (memfd_create of a name the benchmark's policy denies), ftruncate (on one memfd,
// alternating sizes), getpid (an untrapped call).
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: bench_loop memfd|memfd-denied|ftruncate|getpid N\n");
    return 64;
  }
  const char* op = argv[1];
  long n = std::atol(argv[2]);
  int sized = ::memfd_create("bench-sized", MFD_CLOEXEC);
  std::vector<double> rounds;
  for (int round = 0; round < 5; ++round) {
    auto start = std::chrono::steady_clock::now();
    for (long i = 0; i < n; ++i) {
      if (std::strcmp(op, "memfd") == 0) {
        int fd = static_cast<int>(::syscall(SYS_memfd_create, "bench", MFD_CLOEXEC));
        if (fd >= 0) ::close(fd);
      } else if (std::strcmp(op, "memfd-denied") == 0) {
        ::syscall(SYS_memfd_create, "denied", MFD_CLOEXEC);
      } else if (std::strcmp(op, "ftruncate") == 0) {
        if (::ftruncate(sized, (i & 1) ? 8192 : 4096) != 0) return 1;
      } else {
        ::syscall(SYS_getpid);
      }
    }
    auto ns = std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - start);
    rounds.push_back(ns.count() / static_cast<double>(n));
  }
  std::sort(rounds.begin(), rounds.end());
  std::printf("%.1f\n", rounds[2]);
  return 0;
}
