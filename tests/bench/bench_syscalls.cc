// bench_syscalls: what each system call memfd-warden makes per trapped call costs on this
// machine, one by one, against a live child (the caller stand-in). Prints "name ns" per line,
// the mean of 200,000 calls. A diagnosis for docs/performance.md ("what a call costs here"), not
// a target: on a VM whose every kernel entry is expensive, the count of calls decides.
#include <fcntl.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>

#include "supervisor/kernel/kernel_abi.h"

namespace {

constexpr int kCalls = 200000;

template <typename Call>
void time_calls(const char* name, Call call) {
  auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < kCalls; ++i) call();
  std::chrono::duration<double, std::nano> spent = std::chrono::steady_clock::now() - start;
  std::printf("%-34s %7.0f\n", name, spent.count() / kCalls);
}

}  // namespace

int main() {
  static char name[32] = "bench-sized";  // at the same address in the child
  pid_t child = ::fork();
  if (child == 0) {
    for (;;) ::pause();
  }
  std::string proc = "/proc/" + std::to_string(child);
  int pidfd = warden::sys::pidfd_open(child);
  int dir = ::open(proc.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
  int comm = ::openat(dir, "comm", O_RDONLY | O_CLOEXEC);
  int sysctl = ::open("/proc/sys/vm/memfd_noexec", O_RDONLY | O_CLOEXEC);
  char audit_path[] = "/tmp/bench-syscalls-XXXXXX";
  int audit = ::mkstemp(audit_path);
  ::unlink(audit_path);
  char buffer[4096];
  std::memset(buffer, 'x', sizeof(buffer));
  std::string exe = proc + "/exe", ns = proc + "/ns/pid";

  time_calls("getppid (entry and exit only)", [] { ::syscall(SYS_getppid); });
  time_calls("process_vm_readv, 32 bytes", [&] {
    iovec local{buffer, sizeof(name)}, remote{name, sizeof(name)};
    ::process_vm_readv(child, &local, 1, &remote, 1, 0);
  });
  time_calls("ioctl PIDFD_GET_INFO", [&] {
    warden::sys::PidfdInfo info{};
    info.mask = warden::sys::kPidfdInfoPid | warden::sys::kPidfdInfoCreds;
    ::ioctl(pidfd, warden::sys::kPidfdGetInfo, &info);
  });
  time_calls("pread /proc/PID/comm (kept open)", [&] { ::pread(comm, buffer, 16, 0); });
  time_calls("readlinkat /proc/PID (kept), exe", [&] {
    ::readlinkat(dir, "exe", buffer, sizeof(buffer));
  });
  time_calls("readlink /proc/PID/exe", [&] { ::readlink(exe.c_str(), buffer, sizeof(buffer)); });
  time_calls("stat /proc/PID/ns/pid", [&] {
    struct stat st {};
    ::stat(ns.c_str(), &st);
  });
  if (sysctl >= 0) {
    time_calls("pread vm.memfd_noexec (kept open)", [&] { ::pread(sysctl, buffer, 8, 0); });
  }
  time_calls("write 450 bytes (an audit record)", [&] { (void)::write(audit, buffer, 450); });
  time_calls("memfd_create + close", [] { ::close(::memfd_create("x", MFD_CLOEXEC)); });
  ::kill(child, SIGKILL);
  ::waitpid(child, nullptr, 0);
  return 0;
}
