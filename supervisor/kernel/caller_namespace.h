// A caller's mount namespace, for one exec check (memory_file.h): its /proc/TID/ns/mnt opened
// once, its id asked once, however many mounts the check asks about (mount_table.h) and whether
// it enters the namespace for its root (namespace_root.h).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>

#include "supervisor/kernel/unique_fd.h"

namespace warden {

class CallerNamespace {
 public:
  explicit CallerNamespace(pid_t tid) : tid_(tid) {}

  pid_t tid() const { return tid_; }
  // /proc/TID/ns/mnt, opened on first use; -1 when the thread is gone.
  int fd();
  // The namespace's id (NS_GET_MNTNS_ID, Linux 6.11+: never reused), asked on first use; nullopt
  // when the kernel does not give it.
  std::optional<uint64_t> id();

 private:
  pid_t tid_;
  UniqueFd fd_;
  bool opened_ = false;
  bool asked_ = false;
  std::optional<uint64_t> id_;
};

}  // namespace warden
