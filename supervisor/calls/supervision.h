// What both backends take and give back. main.cc chooses a backend, runs it, and writes the
// audit summary from its SuperviseResult.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace warden {

struct SuperviseOptions {
  bool dry_run = false;
  // --on-supervisor-exit=kill (true): the tree dies with memfd-warden. For the ptrace backend
  // this is PTRACE_O_EXITKILL; user notification uses a PID namespace (see main.cc).
  bool tree_dies_with_us = true;
  // exec = "deny" somewhere: the ptrace backend checks every new program image at its exec
  // event, before it runs.
  bool check_exec_images = false;
  // Watch every admitted memfd to know how many are alive (Policy::counts_live, or
  // --count-live). Without it the audit's live figures are null.
  bool count_live = true;
  // Read every caller's executable and comm for its record, allowed calls included
  // (Policy::matches_exe, or --record-exe). Without it a record of an allowed call has them
  // null; refusals and kills always have them.
  bool record_names = true;
};

struct SuperviseResult {
  int exit_code = 125;  // the target's status (128+N after signal N), or ours
  std::string error;    // set when memfd-warden itself failed (exit_code 125, 126, 127)
  // memfd-warden's own failure (125), not a program it could not run (126, 127): the summary's
  // "error".
  bool failed_itself() const { return exit_code == 125 && !error.empty(); }
  bool needs_ptrace = false;  // user notification could not serve it; nothing of it ran
  uint64_t calls = 0;
  std::optional<uint64_t> live_at_exit;  // set when live memfds were counted
  uint64_t bytes_at_exit = 0;
  std::optional<uint64_t> peak_live;
  std::optional<uint64_t> peak_bytes;  // set when byte limits made us track bytes
  // Processes the main target left running that were ended (--orphans end; 0 with wait); null
  // when the namespace's init could not count them.
  std::optional<uint64_t> orphans_ended;
};

}  // namespace warden
