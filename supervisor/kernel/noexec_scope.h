// vm.memfd_noexec as a caller's PID namespace sees it, for the memfds memfd-warden makes on a
// caller's behalf (user notification). The sysctl is per PID namespace (6.3+; the highest value
// along the namespace and its ancestors), and the kernel reads the creating task's: memfd-warden's
// own value is the caller's only when they share a namespace. For any other namespace a reader
// process is started inside it (setns, then fork: the only way to be a task whose namespace that
// is) and asked at every call, since the value may change while the target runs; that round trip
// costs two cross-CPU wake-ups. The tree's own namespace needs none when nobody in it can write
// the sysctl (fix_namespace). The ptrace backend needs none of this: there the caller's own
// kernel call makes the memfd.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <unordered_map>

#include "supervisor/kernel/caller_info.h"
#include "supervisor/kernel/unique_fd.h"

namespace warden {

class NoexecScopes {
 public:
  NoexecScopes();

  // The scope for thread `tid`'s namespace: 0, 1 or 2 (always 0 before Linux 6.3). `pid_ns` is
  // that namespace's inode where the caller already knows it (CallerInfo), else 0: it is read. When
  // the scope cannot be known (no reader could start there, or it did not answer in time) the
  // strictest, 2, with an error logged: a memfd is then refused rather than made executable
  // against the namespace's wish. Call it while the caller's notification is pending, and check
  // that it still is after.
  int scope_of(pid_t tid, ino_t pid_ns = 0);

  // Our own namespace's value now; nullopt before 6.3 or when unreadable.
  std::optional<int> own_scope() const;

  // The namespace with inode `pid_ns` took `value` as its own when it was made, and nothing in it
  // may change that (no task there has CAP_SYS_ADMIN over it): its scope is then the higher of
  // `value` and ours, with no reader. For the tree's namespace when the target's capabilities are
  // dropped or it runs as another user.
  void fix_namespace(ino_t pid_ns, int value) { fixed_[pid_ns] = value; }

  // For a namespace memfd-warden did not make (a container's): when `pid`'s PID namespace belongs
  // to our user namespace and CAP_SYS_ADMIN is outside `pid`'s bounding set, nothing `pid` starts
  // can ever change the namespace's value, so it is read once and fixed. A process put into the
  // namespace from outside with that capability (runc exec --cap, nsenter) could still change it
  // unseen. Returns whether the namespace was fixed.
  bool fix_if_unwritable(pid_t pid);

  // Readers running now (for tests and the debug log).
  size_t readers() const { return readers_.size(); }

  // Readers kept at most. A target that makes PID namespaces of its own (unshare -Urp) would
  // otherwise have memfd-warden start and keep a process and two fds for each, outside the
  // target's own limits; past this the reader asked least recently is ended (a namespace it
  // served gets a new one when it calls again).
  static constexpr size_t kMaxReaders = 32;

 private:
  struct Reader {
    UniqueFd socket;  // one byte asks; the answer is the sysctl's text
    UniqueFd pidfd;   // to kill it when it does not answer
    uint64_t last_asked = 0;
  };
  static constexpr std::chrono::milliseconds kAnswerTimeout{500};

  // Kills the reader asked least recently and forgets it.
  void end_least_recent_reader();

  std::optional<int> ask(Reader& reader) const;
  // In thread `tid`'s PID namespace, which must still be the one with inode `pid_ns`.
  std::optional<Reader> start_reader(pid_t tid, ino_t pid_ns) const;

  UniqueFd sysctl_;  // our own /proc/sys/vm/memfd_noexec; invalid before 6.3
  ino_t own_pid_ns_ = 0;
  ino_t own_user_ns_ = 0;
  std::unordered_map<ino_t, Reader> readers_;  // by PID namespace inode
  uint64_t asks_ = 0;                          // Reader::last_asked's clock
  std::unordered_map<ino_t, int> fixed_;       // by PID namespace inode: its own value
};

}  // namespace warden
