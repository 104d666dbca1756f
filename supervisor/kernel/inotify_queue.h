// InotifyQueue: the one inotify instance of a supervisor (a `run`, or one container's session
// of the agent), shared by what it watches: the audit log's file (renames, unlinks) and the
// ledger's memfds (their ends). Instances are a per-user resource, shared with everything else
// that user runs: fs.inotify.max_user_instances (128 by default) and fs.inotify.max_user_watches,
// and the user.max_inotify_* limits of each user namespace above us. The agent runs a supervisor
// per container, so each takes one instance at most, and only when something is to be watched;
// errors name the limit that was met, so that an operator knows what to raise.
//
// Whoever reads the queue sorts every event it reads: the file's are kept for the audit log,
// memfd ends for the ledger, so neither loses the other's. When the queue overflowed
// (fs.inotify.max_queued_events), events of both may be lost, and both are told.
// Owned by the supervisor loop's thread.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "policy/result.h"
#include "supervisor/kernel/unique_fd.h"

namespace warden {

// A non-blocking, close-on-exec inotify instance, or an error whose context is `what` followed
// by the limit to raise when the limit is what failed (EMFILE).
Result<UniqueFd> open_inotify(const std::string& what);

// The error of an inotify_add_watch that just failed (errno), naming the limit to raise when
// the limit is what failed (ENOSPC).
Error inotify_watch_error(const std::string& what);

class InotifyQueue {
 public:
  // In take_file_events(): the queue overflowed, so the file's events may be among those lost.
  static constexpr uint32_t kEventsLost = 0x80000000u;

  static Result<std::shared_ptr<InotifyQueue>> open(const std::string& what);

  // For the event loop: readable when events are queued. Events a read has sorted already do not
  // make it readable: see file_events_pending().
  int fd() const { return fd_.get(); }

  // Watches the file at `path` for `mask`; its events are kept apart (take_file_events). One
  // such file per queue. Returns 0 or errno.
  int watch_file(const char* path, uint32_t mask);
  // Watches the inode at `path` for its end (IN_IGNORED: the last fd and mapping are gone).
  // Returns the watch descriptor, or -1 with errno set.
  int watch_end(const char* path);

  // Reads and sorts every event queued now.
  void read();

  // The file's event masks since the last call, or-ed together, with kEventsLost when the queue
  // overflowed meanwhile; 0 when nothing happened.
  uint32_t take_file_events() { return std::exchange(file_events_, 0); }
  bool file_events_pending() const { return file_events_ != 0; }

  // The watch_end() watches that ended since the last call, in order; the caller clears it.
  std::vector<int>& ended() { return ended_; }
  // Whether ends were lost to an overflow since the last call.
  bool take_ends_lost() { return std::exchange(ends_lost_, false); }

 private:
  explicit InotifyQueue(UniqueFd fd) : fd_(std::move(fd)) { ended_.reserve(64); }

  UniqueFd fd_;
  int file_watch_ = -1;
  uint32_t file_events_ = 0;
  std::vector<int> ended_;  // reused: no allocation once grown
  bool ends_lost_ = false;
};

}  // namespace warden
