// Starts the target under the filter. The filter is compiled before fork; between fork and
// execve the child only makes raw syscalls: restore the signal mask, set no_new_privs, load the
// filter, pass the listener fd to us over SCM_RIGHTS and close its own copy (a target holding
// its own listener could answer its own notifications).
#pragma once

#include <signal.h>

#include <optional>
#include <string>
#include <vector>

#include "policy/result.h"
#include "supervisor/seccomp_filter.h"
#include "supervisor/unique_fd.h"

namespace warden {

struct LaunchRequest {
  std::string program;            // as typed: searched in PATH when it has no '/'
  std::vector<std::string> args;  // argv[1..]
  BpfProgram* filter = nullptr;
  const sigset_t* child_sigmask = nullptr;  // the mask the target starts with
};

struct Target {
  pid_t pid = -1;
  UniqueFd pidfd;
  UniqueFd listener;  // the seccomp notify fd
};

// Why a launch failed, mapped to the exit codes a shell would use.
struct LaunchFailure {
  int exit_code;  // 127 not found, 126 not executable, 125 our own failure
  std::string message;
};

struct LaunchResult {
  std::optional<Target> target;
  std::optional<LaunchFailure> failure;
};

LaunchResult launch(const LaunchRequest& request);

}  // namespace warden
