// The command line: `run`, `check`, `verify`, `probe`, `policy --default`. Turns argv into a Command; parsing and
// policy assembly are here, running is in main.cc.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "policy/policy.h"
#include "supervisor/agent/agent.h"
#include "supervisor/calls/audit_log.h"
#include "supervisor/launch/process_tree.h"
#include "supervisor/launch/target_privileges.h"

namespace warden {

inline constexpr int kExitUsage = 2;  // bad command line or bad policy: nothing ran
inline constexpr int kExitInternal = 125;
// --fail-on-deny: the target exited 0, but a call was denied, killed or (--dry-run) would have been.
inline constexpr int kExitDenied = 3;
inline constexpr const char* kVersion = "memfd-warden 0.1.0";

enum class BackendChoice { kAuto, kUnotify, kPtrace };

struct RunCommand {
  Policy policy;
  BackendChoice backend = BackendChoice::kAuto;
  bool tree_dies_with_us = true;  // --on-supervisor-exit kill (default) | enosys
  OrphanRule orphans;             // --orphans end (default) | wait, --orphans-grace
  AuditDestination audit;    // --audit FILE|-, --audit-fd N, --audit-socket PATH
  bool audit_strict = false;  // a tampered audit file ends the run
  bool count_live = false;    // count live memfds even when no limit needs it
  bool record_exe = false;    // name every caller's executable, allowed calls included
  bool dry_run = false;
  bool fail_on_deny = false;  // exit kExitDenied when the target succeeded but a call was refused
  // The target's privileges: by default a root target loses the capabilities that reach
  // memfd-warden (--keep-caps keeps them); --user runs it as another user.
  bool keep_caps = false;
  std::optional<TargetPrivileges> user;
  std::vector<std::string> command;  // PROGRAM ARGS...
};

struct CliOutcome {
  std::optional<RunCommand> run;  // set when there is a target to run
  std::optional<AgentCommand> agent;  // set for `agent`
  std::optional<int> exit_code;   // set when the command line was fully handled (or failed)
  std::string log_level = "warn";
};

CliOutcome parse_command_line(int argc, char** argv);

// The policy at PATH, or the embedded default without one; errors give file:line:col.
Result<Policy> load_policy_file(const std::optional<std::string>& path);

// Prints "memfd-warden: error: MESSAGE" to stderr, whatever the log level, and returns `code`.
// Every path that ends memfd-warden on a failure of its own or of its input goes through here.
int exit_with_error(int code, const std::string& message);

}  // namespace warden
