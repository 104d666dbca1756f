// Ends the tree when memfd-warden has waited on the target for too long (kernel/target_wait.h): a
// page of the caller's memory, or a file of its, that the target holds back. Natively such a wait
// stops only the thread that made the call; here it would stop every trapped call in the tree,
// and memfd-warden itself, for good (signals included: they are read in the loop that waits).
// After kStallLimit of one wait the watchdog's own thread ends the tree, which releases the wait
// when the tree holds it (the userfaultfd or the FUSE connection goes with its last holder), and
// the run ends as a failure of memfd-warden's, with the reason. A holder outside the tree keeps
// the wait (docs/backends.md, "A target that holds a read back").
#pragma once

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <string>
#include <thread>

#include "policy/result.h"
#include "supervisor/kernel/unique_fd.h"

namespace warden {

// Longer than any page or open that its filesystem answers at all should take.
inline constexpr std::chrono::milliseconds kStallLimit{5000};

class StallWatchdog {
 public:
  StallWatchdog() = default;
  ~StallWatchdog() { stop(); }
  StallWatchdog(const StallWatchdog&) = delete;
  StallWatchdog& operator=(const StallWatchdog&) = delete;

  // Starts the thread. `end_tree` runs on it, at most once, when one wait has lasted `limit`; it
  // must use nothing the serving thread uses (pidfds and /proc only).
  Result<void> start(std::function<void()> end_tree, std::chrono::milliseconds limit = kStallLimit);
  void stop();

  // The failure to report once end_tree has run ("" before): whose wait, for how long.
  std::string failure() const;
  bool fired() const { return fired_.load(std::memory_order_acquire); }

 private:
  void watch();
  std::string what_waited() const;  // "waited 5 s for thread T's memory or files"

  std::function<void()> end_tree_;
  std::chrono::milliseconds limit_{kStallLimit};
  UniqueFd wake_;  // eventfd: stop()
  std::thread thread_;
  std::atomic<bool> fired_{false};
  std::atomic<pid_t> stalled_tid_{0};
};

}  // namespace warden
