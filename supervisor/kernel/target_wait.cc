#include "supervisor/kernel/target_wait.h"

namespace warden {
namespace {

thread_local int depth = 0;

}  // namespace

TargetWaitState& target_wait_state() {
  static TargetWaitState state;
  return state;
}

TargetWait::TargetWait(pid_t tid) noexcept : outermost_(depth++ == 0) {
  if (!outermost_) return;
  TargetWaitState& state = target_wait_state();
  state.tid.store(tid, std::memory_order_relaxed);
  state.sequence.fetch_add(1, std::memory_order_release);
}

TargetWait::~TargetWait() {
  --depth;
  if (outermost_) target_wait_state().sequence.fetch_add(1, std::memory_order_release);
}

}  // namespace warden
