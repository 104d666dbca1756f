#include "supervisor/backends/stall_watchdog.h"

#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <system_error>

#include "supervisor/kernel/target_wait.h"

namespace warden {

Result<void> StallWatchdog::start(std::function<void()> end_tree, std::chrono::milliseconds limit) {
  end_tree_ = std::move(end_tree);
  limit_ = limit;
  wake_ = UniqueFd(::eventfd(0, EFD_CLOEXEC));
  if (!wake_.valid()) return errno_error("the stall watchdog: eventfd");
  try {
    thread_ = std::thread([this] { watch(); });
  } catch (const std::system_error& error) {
    return Error{error.code().value(), "the stall watchdog"};
  }
  return {};
}

void StallWatchdog::stop() {
  if (!thread_.joinable()) return;
  uint64_t one = 1;
  (void)::write(wake_.get(), &one, sizeof(one));
  thread_.join();
}

std::string StallWatchdog::what_waited() const {
  return "waited " + std::to_string(limit_.count() / 1000) + " s for thread " +
         std::to_string(stalled_tid_.load()) + "'s memory or files";
}

std::string StallWatchdog::failure() const {
  if (!fired()) return {};
  return what_waited() +
         ", which the target held back (a page of a userfaultfd or of a FUSE filesystem of its "
         "own); the tree was killed";
}

void StallWatchdog::watch() {
  using Clock = std::chrono::steady_clock;
  const TargetWaitState& state = target_wait_state();
  // A look a fifth of the limit apart: a wait is seen to have lasted at least the limit, and
  // at most a fifth more. Four wake-ups a second at most, none while nothing waits for long.
  auto interval = limit_ / 5;
  uint64_t seen = state.sequence.load(std::memory_order_acquire);
  auto since = Clock::now();
  for (;;) {
    pollfd wake{wake_.get(), POLLIN, 0};
    int ready = ::poll(&wake, 1, static_cast<int>(interval.count()));
    if (ready > 0 || (ready < 0 && errno != EINTR)) return;
    uint64_t now_seen = state.sequence.load(std::memory_order_acquire);
    auto now = Clock::now();
    if (now_seen != seen) {
      seen = now_seen;
      since = now;
      continue;
    }
    if ((seen & 1) == 0 || now - since < limit_) continue;
    stalled_tid_.store(state.tid.load(std::memory_order_relaxed));
    fired_.store(true, std::memory_order_release);
    // Said now: if what holds the wait is outside the tree (a network filesystem, someone
    // else's FUSE server), ending the tree does not end the wait, and the run goes on waiting.
    spdlog::error("{}; killing the tree", what_waited());
    end_tree_();  // the serving thread says why in full, once the run has ended
    return;       // once: the tree is gone, and the wait with it
  }
}

}  // namespace warden
