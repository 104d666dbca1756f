// The target's process tree as the supervisor sees it: we are a child subreaper, so every orphan
// in the tree is re-parented to us, and the tree is gone exactly when waitpid(-1) finds no child.
// Also forwards the signals a user sends to memfd-warden.
#pragma once

#include <sys/types.h>

#include <optional>

#include "supervisor/unique_fd.h"

namespace warden {

class ProcessTree {
 public:
  ProcessTree(pid_t main_pid, UniqueFd main_pidfd)
      : main_pid_(main_pid), main_pidfd_(std::move(main_pidfd)) {}

  // Reaps every child that has exited. True once the main target and all descendants are gone.
  bool reap();

  // For a caller that does its own waitpid (the ptrace backend): `pid` ended with `status`.
  void note_exit(pid_t pid, int status) {
    if (pid == main_pid_) main_status_ = status;
  }

  // Sends `sig` to the main target, or, once it has exited, to the rest of the tree.
  void forward(int sig);

  // The main target's status as a shell reports it: the exit code, or 128+N after signal N.
  int exit_code() const;

 private:
  pid_t main_pid_;
  UniqueFd main_pidfd_;
  std::optional<int> main_status_;
};

}  // namespace warden
