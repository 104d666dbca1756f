// Who made a trapped call: process id, the credentials a file it creates would carry, its comm
// and executable. Everything read here may already be stale; the caller re-checks the
// notification id afterwards, which proves TID was the waiting thread throughout.
//
// The comm and executable are two system calls of their own (read() with Names::kSkip leaves
// them out): a handler reads them only for a record that needs them (docs/architecture.md,
// "Audit": refusals always, allowed calls when a rule matches on exe or --record-exe asks).
//
// CallerReader keeps, per calling thread, a pidfd, /proc/TID and /proc/TID/comm open. All are
// bound to the thread's struct pid, not to its number (an exec in another thread of the process
// hands the leader's pid to the exec'ing thread: only the pending proof settles whose they are): each call re-reads through them
// (PIDFD_GET_INFO for the thread group and filesystem ids, a pread for comm, a readlinkat for
// the executable), so values are always current, and a reused TID shows up as ESRCH on the old
// handles. The PID
// namespace is read once per cached thread: a task's own PID namespace never changes (setns and
// unshare place only its later children). Kernels without PIDFD_GET_INFO (before 6.13) get
// /proc/TID/status instead, at about 4x the cost.
#pragma once

#include <linux/limits.h>
#include <sys/types.h>

#include <cstddef>
#include <string_view>
#include <unordered_map>

#include "supervisor/kernel/unique_fd.h"

namespace warden {

// The inode of `pid`'s PID namespace, read now (0 if it is gone).
ino_t pid_namespace_of(pid_t pid);

struct CallerInfo {
  pid_t tgid = 0;
  uid_t fsuid = 0;
  gid_t fsgid = 0;
  bool have_creds = false;
  char comm[17] = {};
  size_t comm_length = 0;
  char exe[PATH_MAX] = {};
  size_t exe_length = 0;
  ino_t pid_ns = 0;  // the inode of its PID namespace; 0 if unknown
  bool names_read = false;  // comm and exe were read (each may still be empty: unreadable)

  std::string_view comm_view() const { return {comm, comm_length}; }
  std::string_view exe_view() const { return {exe, exe_length}; }
};

class CallerReader {
 public:
  enum class Source { kPidfdInfo, kProcStatus };

  // kPidfdInfo falls back to kProcStatus by itself where the kernel lacks PIDFD_GET_INFO.
  explicit CallerReader(Source source = Source::kPidfdInfo) : source_(source) {}

  enum class Names { kSkip, kRead };

  // Fills `out` for thread `tid`; fields it could not read stay empty. Returns false when the
  // thread is gone. With Names::kSkip the comm and executable are not read (names_read false).
  bool read(pid_t tid, CallerInfo& out, Names names = Names::kRead);

  // Adds the comm and executable to what read() filled for the same `tid` (nothing if they are
  // there already), through the handles read() kept or else by path. Like everything here they
  // are the caller's only if its call is proved pending afterwards: a kept /proc/TID names the
  // thread's pid, and an exec in another thread of its process takes that pid over.
  void read_names(pid_t tid, CallerInfo& out);

  // The pidfd kept for `tid` by the last read(), or -1. Owned by the reader; valid until the
  // next read(). Like everything here, it names the caller only once the call is proved pending.
  int pidfd(pid_t tid) const;

  // A pidfd that reaches `tid`'s fd table: the one kept by the last read(), or else one opened
  // into `own` (a thread pidfd, 6.9+, or the process's, from `caller.tgid`). -1 with errno set
  // when neither opens.
  int pidfd_for(pid_t tid, const CallerInfo& caller, UniqueFd& own) const;

  Source source() const { return source_; }
  size_t cached_threads() const { return threads_.size(); }

  // Threads remembered at most; past it the cache starts over (three fds per thread: 384 at most, where
  // the default limit on open files is 1024).
  static constexpr size_t kMaxThreads = 128;

 private:
  struct Thread {
    UniqueFd pidfd;
    UniqueFd dir;   // /proc/TID (O_PATH): the executable is read through it
    UniqueFd comm;  // /proc/TID/comm
    ino_t pid_ns = 0;  // read when the entry is made; the read that follows proves it was TID's
  };
  // 1: read; 0: the thread is gone; -1: this kernel cannot (switch to /proc/TID/status).
  int read_cached(pid_t tid, CallerInfo& out, Names names);
  static void read_kept_names(const Thread& cached, pid_t tid, CallerInfo& out);
  Thread* thread(pid_t tid);

  Source source_;
  std::unordered_map<pid_t, Thread> threads_;
};

}  // namespace warden
