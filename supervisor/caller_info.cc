#include "supervisor/caller_info.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "supervisor/unique_fd.h"

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

}  // namespace

bool read_caller_info(pid_t tid, CallerInfo& out) {
  out = CallerInfo{};
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

  // /proc/TID/status escapes the name; /proc/TID/comm has the raw bytes plus a newline.
  std::snprintf(path, sizeof(path), "/proc/%d/comm", tid);
  ssize_t got = read_small_file(path, out.comm, sizeof(out.comm));
  if (got > 0) out.comm_length = static_cast<size_t>(got) - (out.comm[got - 1] == '\n' ? 1 : 0);

  std::snprintf(path, sizeof(path), "/proc/%d/exe", tid);
  got = ::readlink(path, out.exe, sizeof(out.exe));
  if (got > 0) out.exe_length = static_cast<size_t>(got);
  return true;
}

}  // namespace warden
