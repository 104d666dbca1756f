#include "supervisor/kernel/caller_namespace.h"

#include <fcntl.h>
#include <sys/ioctl.h>

#include <cstdio>

namespace warden {
namespace {

constexpr unsigned long kNsGetMntnsId = 0x8008b705;  // NS_GET_MNTNS_ID: _IOR(0xb7, 0x5, __u64)

}  // namespace

int CallerNamespace::fd() {
  if (!opened_) {
    opened_ = true;
    char path[64];
    std::snprintf(path, sizeof(path), "/proc/%d/ns/mnt", tid_);
    fd_ = UniqueFd(::open(path, O_RDONLY | O_CLOEXEC));
  }
  return fd_.get();
}

std::optional<uint64_t> CallerNamespace::id() {
  if (!asked_) {
    asked_ = true;
    uint64_t id = 0;
    if (fd() >= 0 && ::ioctl(fd(), kNsGetMntnsId, &id) == 0) id_ = id;
  }
  return id_;
}

}  // namespace warden
