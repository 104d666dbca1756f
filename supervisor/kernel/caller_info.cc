#include "supervisor/kernel/caller_info.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "supervisor/kernel/kernel_abi.h"

namespace warden {
namespace {

ssize_t read_small_file(const char* path, char* buffer, size_t size) {
  UniqueFd fd(::open(path, O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return -1;
  ssize_t got = ::read(fd.get(), buffer, size - 1);
  if (got >= 0) buffer[got] = '\0';
  return got;
}

// The fourth number after "Uid:" / "Gid:" is the filesystem id.
bool parse_fs_id(const char* status, const char* key, unsigned& out) {
  const char* line = std::strstr(status, key);
  if (line == nullptr) return false;
  unsigned real = 0, effective = 0, saved = 0, fs = 0;
  if (std::sscanf(line + std::strlen(key), "%u %u %u %u", &real, &effective, &saved, &fs) != 4) {
    return false;
  }
  out = fs;
  return true;
}

// /proc/TID/comm holds the raw name and a newline.
void set_comm(CallerInfo& out, ssize_t got) {
  if (got > 0) out.comm_length = static_cast<size_t>(got) - (out.comm[got - 1] == '\n' ? 1 : 0);
}

void read_exe(pid_t tid, CallerInfo& out) {
  char path[64];
  std::snprintf(path, sizeof(path), "/proc/%d/exe", tid);
  ssize_t got = ::readlink(path, out.exe, sizeof(out.exe));
  if (got > 0) out.exe_length = static_cast<size_t>(got);
}

void read_names_by_path(pid_t tid, CallerInfo& out) {
  char path[64];
  std::snprintf(path, sizeof(path), "/proc/%d/comm", tid);
  set_comm(out, read_small_file(path, out.comm, sizeof(out.comm)));
  read_exe(tid, out);
  out.names_read = true;
}

bool read_from_status(pid_t tid, CallerInfo& out, CallerReader::Names names) {
  char path[64];
  char status[4096];
  std::snprintf(path, sizeof(path), "/proc/%d/status", tid);
  if (read_small_file(path, status, sizeof(status)) < 0) return false;
  if (const char* tgid = std::strstr(status, "\nTgid:")) {
    out.tgid = static_cast<pid_t>(std::strtol(tgid + 6, nullptr, 10));
  }
  unsigned uid = 0, gid = 0;
  out.have_creds = parse_fs_id(status, "\nUid:", uid) && parse_fs_id(status, "\nGid:", gid);
  out.fsuid = uid;
  out.fsgid = gid;
  // /proc/TID/status escapes the name; /proc/TID/comm has the raw bytes.
  if (names == CallerReader::Names::kRead) read_names_by_path(tid, out);
  out.pid_ns = pid_namespace_of(tid);
  return true;
}

}  // namespace

ino_t pid_namespace_of(pid_t pid) {
  char path[64];
  std::snprintf(path, sizeof(path), "/proc/%d/ns/pid", pid);
  struct stat st {};
  return ::stat(path, &st) == 0 ? st.st_ino : 0;
}

CallerReader::Thread* CallerReader::thread(pid_t tid) {
  if (auto it = threads_.find(tid); it != threads_.end()) return &it->second;
  Thread fresh;
  fresh.pidfd = UniqueFd(sys::pidfd_open_flags(tid, PIDFD_THREAD));
  if (!fresh.pidfd.valid()) return nullptr;
  char path[64];
  std::snprintf(path, sizeof(path), "/proc/%d", tid);
  // By number, after the pidfd: if TID died and its number went to another task in between,
  // the PIDFD_GET_INFO that read_cached() makes next fails with ESRCH and drops this entry. Once
  // that read has passed, the directory is TID's for good: /proc/TID opened once names the task,
  // not the number, and reads through it fail when the task is gone.
  fresh.dir = UniqueFd(::open(path, O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (fresh.dir.valid()) {
    fresh.comm = UniqueFd(::openat(fresh.dir.get(), "comm", O_RDONLY | O_CLOEXEC));
    struct stat st {};
    if (::fstatat(fresh.dir.get(), "ns/pid", &st, 0) == 0) fresh.pid_ns = st.st_ino;
  }
  if (threads_.size() >= kMaxThreads) threads_.clear();
  return &threads_.emplace(tid, std::move(fresh)).first->second;
}

void CallerReader::read_kept_names(const Thread& cached, pid_t tid, CallerInfo& out) {
  if (cached.comm.valid()) {
    set_comm(out, ::pread(cached.comm.get(), out.comm, sizeof(out.comm) - 1, 0));
  }
  if (cached.dir.valid()) {
    ssize_t got = ::readlinkat(cached.dir.get(), "exe", out.exe, sizeof(out.exe));
    if (got > 0) out.exe_length = static_cast<size_t>(got);
  } else {
    read_exe(tid, out);  // /proc/TID could not be kept open (out of fds): by path, every call
  }
  out.names_read = true;
}

int CallerReader::read_cached(pid_t tid, CallerInfo& out, Names names) {
  // A cached handle that fails with ESRCH belonged to an earlier thread with this number (or
  // this one just died): forget it and look once more.
  for (int attempt = 0; attempt < 2; ++attempt) {
    Thread* cached = thread(tid);
    if (cached == nullptr) return errno == EINVAL ? -1 : 0;  // EINVAL: no PIDFD_THREAD
    sys::PidfdInfo info{};
    info.mask = sys::kPidfdInfoPid | sys::kPidfdInfoCreds;
    if (::ioctl(cached->pidfd.get(), sys::kPidfdGetInfo, &info) != 0) {
      if (errno != ESRCH) return -1;  // ENOTTY / EINVAL: before 6.13
      threads_.erase(tid);
      continue;
    }
    if (static_cast<pid_t>(info.pid) != tid) {  // cannot happen; never trust a mismatch
      threads_.erase(tid);
      continue;
    }
    out.tgid = static_cast<pid_t>(info.tgid);
    out.fsuid = info.fsuid;
    out.fsgid = info.fsgid;
    out.have_creds = true;
    if (names == Names::kRead) read_kept_names(*cached, tid, out);
    out.pid_ns = cached->pid_ns;
    return 1;
  }
  return 0;
}

int CallerReader::pidfd(pid_t tid) const {
  auto it = threads_.find(tid);
  return it == threads_.end() ? -1 : it->second.pidfd.get();
}

int CallerReader::pidfd_for(pid_t tid, const CallerInfo& caller, UniqueFd& own) const {
  if (int kept = pidfd(tid); kept >= 0) return kept;
  own = UniqueFd(sys::pidfd_open_flags(tid, PIDFD_THREAD));
  if (!own.valid() && caller.tgid > 0) own = UniqueFd(sys::pidfd_open(caller.tgid));
  return own.get();
}

bool CallerReader::read(pid_t tid, CallerInfo& out, Names names) {
  out = CallerInfo{};
  if (source_ == Source::kPidfdInfo) {
    int got = read_cached(tid, out, names);
    if (got == 1) return true;
    if (got < 0) {
      source_ = Source::kProcStatus;
      threads_.clear();
    }
    out = CallerInfo{};  // gone, as far as the pidfd can tell: /proc/TID/status has the last word
  }
  return read_from_status(tid, out, names);
}

void CallerReader::read_names(pid_t tid, CallerInfo& out) {
  if (out.names_read) return;
  auto it = threads_.find(tid);
  if (it == threads_.end() || !it->second.dir.valid()) {
    read_names_by_path(tid, out);
  } else {
    read_kept_names(it->second, tid, out);
  }
}

}  // namespace warden
