// The seccomp profile that routes a policy's calls to the agent: the OCI `linux.seccomp` object
// (also a Kubernetes Localhost profile), written from the same rules `run` compiles
// (kernel/filter_rules.h), or merged into an existing profile without weakening any of its rules.
// Pure: JSON in, JSON out.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "policy/policy.h"
#include "policy/result.h"
#include "supervisor/kernel/filter_rules.h"

namespace warden {

// What a container cannot have, or success. runc refuses SCMP_ACT_NOTIFY on write(2) (it would
// deadlock on its own writes to the agent), so quota.strict_writes cannot be kept in a container.
Result<void> check_container_policy(const Policy& policy, std::string_view origin);

struct ProfileRequest {
  std::string socket;    // listenerPath
  std::string metadata;  // listenerMetadata; empty: none
};

struct Profile {
  std::string json;                 // pretty-printed, with a final newline
  std::vector<std::string> notes;   // what a merge kept as it was, and why
};

// A profile that allows everything except `rules`' trapped calls, which go to the agent. OCI
// rules apply to every architecture, so a call gets the union of its rules on the three ABIs
// (i386's old mmap, whose arguments are in memory, makes every mmap go to the agent).
Profile oci_profile(const std::vector<FilterRule>& rules, const ProfileRequest& request);

// `existing` (from `origin`) with the agent's routing added. A call the profile refuses stays
// refused (a note says so); a call it allows goes to the agent instead, under the agent's
// conditions. A profile with a listener already, or one that decides a routed call in a way the
// merge cannot combine (argument comparisons other than equality, includes/excludes, actions
// other than allow, log, errno, kill and trap), is an error naming the call.
Result<Profile> merge_oci_profile(std::string_view existing, std::string_view origin,
                                  const std::vector<FilterRule>& rules,
                                  const ProfileRequest& request);

}  // namespace warden
