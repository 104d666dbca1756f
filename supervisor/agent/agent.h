// `memfd-warden agent`: the seccomp agent of OCI runtimes (runc >= 1.1, crun >= 0.19). A
// container whose seccomp profile routes calls to SCMP_ACT_NOTIFY with a `listenerPath` makes
// its runtime connect to our socket and send the container process state (oci_state.h) with the
// container's seccomp listener attached. Each container then gets a session of its own: a forked
// process that serves its listener with the container's policy, ledger and audit run, exactly as
// `run` serves its one tree (notify_session.h). The daemon only accepts, reads, and forks, never
// blocking on a client: a slow, silent or hostile client costs it one fd until its deadline.
#pragma once

#include <map>
#include <optional>
#include <string>

#include "policy/policy.h"
#include "supervisor/calls/audit_log.h"

namespace warden {

struct AgentCommand {
  std::string socket_path;
  std::optional<std::string> policy_path;  // the default policy; the embedded one without
  std::optional<std::string> policy_dir;   // NAME.toml files, chosen per container by NAME
  AuditDestination audit;
  bool record_exe = false;  // name every caller's executable, allowed calls included
  // Whether the annotation io.memfd-warden.policy may choose (where the profile names no policy).
  // Off: a container that asks by annotation is served under a policy that refuses its memfds.
  bool policy_annotation = false;
};

// The policies an agent serves: the default and the named ones, all validated.
struct AgentPolicies {
  Policy fallback;
  std::map<std::string, Policy> named;
};

// Loads and validates every policy; the error names the file, line and column.
Result<AgentPolicies> load_agent_policies(const AgentCommand& command);

// Serves until SIGTERM or SIGINT. Returns the process exit status.
int run_agent(const AgentCommand& command, AgentPolicies policies);

}  // namespace warden
