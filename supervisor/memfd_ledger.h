// MemfdLedger: how many memfds the tree has been given and how many are alive, without the
// supervisor keeping any of them alive. Each memfd we create gets an inotify watch (through
// /proc/self/fd/N) before we hand it over and close our copy; the kernel sends IN_IGNORED once
// the last fd and the last mapping are gone in every process, and the slot comes back then.
// A watch holds no reference to the file. Owned by the supervisor loop's thread.
#pragma once

#include <cstdint>
#include <unordered_set>

#include "policy/decide.h"
#include "policy/result.h"
#include "supervisor/unique_fd.h"

namespace warden {

class MemfdLedger {
 public:
  static Result<MemfdLedger> open();

  // For the event loop: readable when releases are queued.
  int event_fd() const { return inotify_.get(); }

  // Starts tracking `memfd` (our own fd for it) as alive. Returns the watch id, or -errno
  // (ENOSPC: fs.inotify.max_user_watches reached).
  int track(int memfd);

  // A tracked memfd reached the target: one more successful call.
  void count_call() { ++calls_; }

  // Applies every queued release. Call before deciding, so a close() that returned in the target
  // before its next memfd_create is always seen.
  void drain();

  QuotaState state() const { return {calls_, live_.size()}; }
  uint64_t peak_live() const { return peak_live_; }
  uint64_t lost_events() const { return lost_events_; }

 private:
  explicit MemfdLedger(UniqueFd inotify) : inotify_(std::move(inotify)) {}

  UniqueFd inotify_;
  std::unordered_set<int> live_;  // watch ids of memfds still alive somewhere
  uint64_t calls_ = 0;
  uint64_t peak_live_ = 0;
  uint64_t lost_events_ = 0;
};

}  // namespace warden
