#include "supervisor/kernel/target_memory.h"

#include <fcntl.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "supervisor/kernel/target_wait.h"
#include "supervisor/kernel/unique_fd.h"

namespace warden {
namespace {

size_t page_size() {
  static const size_t size = static_cast<size_t>(::sysconf(_SC_PAGESIZE));
  return size;
}

// process_vm_readv with one remote piece per page: it stops at the first unreadable page and
// returns what it read before it. Returns bytes read or -errno.
ssize_t read_with_process_vm(pid_t tid, uint64_t address, char* buffer, size_t limit) {
  iovec local{buffer, limit};
  iovec remote[2];
  size_t first = page_size() - (address % page_size());
  int pieces = 1;
  if (first >= limit) {
    remote[0] = {reinterpret_cast<void*>(address), limit};
  } else {
    remote[0] = {reinterpret_cast<void*>(address), first};
    remote[1] = {reinterpret_cast<void*>(address + first), limit - first};
    pieces = 2;
  }
  ssize_t got = ::process_vm_readv(tid, &local, 1, remote, pieces, 0);
  return got >= 0 ? got : -errno;
}

// Through /proc/TID/mem, a page at a time; `string`: stop after the page that holds a NUL.
ssize_t read_with_proc_mem(pid_t tid, uint64_t address, char* buffer, size_t limit, bool string) {
  char path[64];
  std::snprintf(path, sizeof(path), "/proc/%d/mem", tid);
  UniqueFd mem(::open(path, O_RDONLY | O_CLOEXEC));
  if (!mem.valid()) return -errno;
  size_t done = 0;
  while (done < limit) {
    size_t in_page = page_size() - ((address + done) % page_size());
    size_t want = in_page < limit - done ? in_page : limit - done;
    ssize_t got = ::pread(mem.get(), buffer + done, want, static_cast<off_t>(address + done));
    if (got <= 0) {
      if (done > 0) break;
      return got == 0 ? -EFAULT : -errno;  // /proc/PID/mem answers EIO for an unmapped page
    }
    done += static_cast<size_t>(got);
    if (string &&
        std::memchr(buffer + done - static_cast<size_t>(got), '\0', static_cast<size_t>(got))) {
      break;
    }
  }
  return static_cast<ssize_t>(done);
}

ssize_t read_memory(MemoryReader reader, pid_t tid, uint64_t address, char* buffer, size_t size,
                    bool string) {
  TargetWait wait(tid);  // a page the target must fill (userfaultfd, its own FUSE file)
  if (reader == MemoryReader::kProcMem)
    return read_with_proc_mem(tid, address, buffer, size, string);
  ssize_t got = read_with_process_vm(tid, address, buffer, size);
  if (got == -EPERM || got == -ENOSYS) got = read_with_proc_mem(tid, address, buffer, size, string);
  return got;
}

}  // namespace

ssize_t read_target_memory(MemoryReader reader, pid_t tid, uint64_t address, void* buffer,
                           size_t size) {
  if (size == 0) return 0;
  return read_memory(reader, tid, address, static_cast<char*>(buffer), size, false);
}

int write_target_memory(MemoryReader reader, pid_t tid, uint64_t address, const void* data,
                        size_t size) {
  TargetWait wait(tid);  // a page the target must fill, as for a read
  if (reader == MemoryReader::kProcessVm) {
    iovec local{const_cast<void*>(data), size};
    iovec remote{reinterpret_cast<void*>(address), size};
    ssize_t wrote = ::process_vm_writev(tid, &local, 1, &remote, 1, 0);
    if (wrote == static_cast<ssize_t>(size)) return 0;
    if (wrote >= 0 || (errno != EPERM && errno != ENOSYS)) return -EFAULT;
  }
  char path[64];
  std::snprintf(path, sizeof(path), "/proc/%d/mem", tid);
  UniqueFd mem(::open(path, O_WRONLY | O_CLOEXEC));
  if (!mem.valid()) return -errno;
  ssize_t wrote = ::pwrite(mem.get(), data, size, static_cast<off_t>(address));
  return wrote == static_cast<ssize_t>(size) ? 0 : -EFAULT;
}

NameRead read_target_name(MemoryReader reader, pid_t tid, uint64_t address, char* buffer) {
  return read_target_string(reader, tid, address, buffer, kMaxMemfdName + 1);
}

NameRead read_target_string(MemoryReader reader, pid_t tid, uint64_t address, char* buffer,
                            size_t capacity) {
  const size_t limit = capacity < page_size() ? capacity : page_size();
  NameRead result;
  ssize_t got = read_memory(reader, tid, address, buffer, limit, true);
  if (got == -EFAULT || got == -EIO) {
    result.status = NameStatus::kFault;
    return result;
  }
  if (got < 0) {
    result.error = static_cast<int>(-got);
    return result;
  }
  const void* nul = std::memchr(buffer, '\0', static_cast<size_t>(got));
  if (nul != nullptr) {
    result.status = NameStatus::kOk;
    result.length = static_cast<size_t>(static_cast<const char*>(nul) - buffer);
  } else if (static_cast<size_t>(got) == limit) {
    result.status = NameStatus::kTooLong;
  } else {
    result.status = NameStatus::kFault;  // the string runs into an unreadable page
  }
  return result;
}

}  // namespace warden
