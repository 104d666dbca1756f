// The target's process tree as the supervisor sees it: we are a child subreaper, so every orphan
// in the tree is re-parented to us, and the tree is gone exactly when waitpid(-1) finds no child.
// Also forwards the signals a user sends to memfd-warden, and ends what the main target leaves
// running when it exits (OrphanRule).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <set>

#include "supervisor/kernel/unique_fd.h"

namespace warden {

// What happens to the rest of the tree when the main target exits (--orphans, --orphans-grace):
// `end` sends it SIGTERM (and SIGCONT, for stopped processes), then SIGKILL to whatever is left
// after `grace`; otherwise the run waits for every descendant to exit by itself.
struct OrphanRule {
  bool end = true;
  std::chrono::milliseconds grace{2000};
};

// SIGKILL to every process that descends from us, from any thread, without ProcessTree's state:
// for a serving thread that is stuck (backends/stall_watchdog.h). Each process is held by a pidfd
// before its ancestry is read, so no signal reaches a process that took a dead one's pid. A few
// rounds, for processes forked meanwhile; a PID namespace's init takes the rest with it.
void kill_descendants();

class ProcessTree {
 public:
  ProcessTree(pid_t main_pid, UniqueFd main_pidfd, OrphanRule rule = {})
      : main_pid_(main_pid), main_pidfd_(std::move(main_pidfd)), rule_(rule) {}

  // Reaps every child that has exited, and tends the ending of the rest. True once the main
  // target and all descendants are gone.
  bool reap();

  // For a caller that does its own waitpid (the ptrace backend): `pid` ended with `status`.
  void note_exit(pid_t pid, int status) {
    if (pid == main_pid_) main_status_ = status;
  }

  // Once the main target has exited, under OrphanRule::end: signals every child not signalled
  // yet (orphans re-parented to us since), and everything after the grace period. Call it after
  // reaping and when wait_timeout_ms() runs out.
  void tend();

  // How long the caller's poll may sleep before tend() has work: -1 for no limit.
  int wait_timeout_ms() const;

  // How many processes were still running when the main target exited, and were ended. (With
  // tree_init the init does the ending, and counts: read_init_report() in tree_init.h.)
  uint64_t ended() const { return ended_.size(); }

  // Sends `sig` to the main target, or, once it has exited, to the rest of the tree.
  void forward(int sig);

  // The main target's status as a shell reports it: the exit code, or 128+N after signal N.
  int exit_code() const;

 private:
  template <typename Visit>
  void for_each_child(Visit visit) const;

  pid_t main_pid_;
  UniqueFd main_pidfd_;
  OrphanRule rule_;
  std::optional<int> main_status_;
  // Ending the rest: started when the main target's exit is first seen.
  bool ending_ = false;
  bool killing_ = false;
  std::chrono::steady_clock::time_point deadline_{};
  std::set<pid_t> ended_;
};

}  // namespace warden
