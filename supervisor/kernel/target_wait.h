// Where memfd-warden waits on something the target can hold back for ever. Reading the caller's
// memory faults its pages in, and opening or reading its files asks their filesystem: a page
// that a userfaultfd of the target's must fill, or a file on a FUSE filesystem the target serves
// itself, waits for the target, and the target may never answer (or may first wait for an answer
// of ours to a trapped call of its own). memfd-warden answers one call at a time, so such a wait
// would stop it for good. Each such wait is marked with a TargetWait; a StallWatchdog
// (backends/stall_watchdog.h) ends the tree when one lasts too long.
//
// The mark costs two atomic stores; the state is one per process (each agent session is a
// process of its own), and one thread at a time serves calls.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <cstdint>

namespace warden {

struct TargetWaitState {
  // Odd while a wait is under way; each wait's start and end add one, so that two looks that
  // see the same odd value saw one and the same wait.
  std::atomic<uint64_t> sequence{0};
  std::atomic<pid_t> tid{0};  // whose memory or files the wait is for
};

TargetWaitState& target_wait_state();

// Marks the span of its life as a wait on thread `tid`. Nested marks count as the outermost.
class TargetWait {
 public:
  explicit TargetWait(pid_t tid) noexcept;
  ~TargetWait();
  TargetWait(const TargetWait&) = delete;
  TargetWait& operator=(const TargetWait&) = delete;

 private:
  bool outermost_;
};

}  // namespace warden
