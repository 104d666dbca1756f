// The "container process state" that an OCI runtime (runc >= 1.1, crun >= 0.19) sends to the
// seccomp agent named by a profile's `listenerPath`, with the container's seccomp listener fd
// attached (runtime-spec config-linux.md, "Container process state"). Parsing is pure: the bytes
// come from whoever connected to the agent's socket, so every field is checked and anything
// unknown is ignored (runtimes differ: crun sends ociVersion "0.2.0").
#pragma once

#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "policy/result.h"
#include "supervisor/calls/container_identity.h"

namespace warden {

// The largest state message taken (runc's carries the bundle's annotations).
inline constexpr size_t kMaxContainerStateBytes = 64 * 1024;
// The most fds a message may carry (the spec defines one, "seccompFd").
inline constexpr size_t kMaxContainerStateFds = 8;

struct ContainerState {
  std::string oci_version;
  size_t seccomp_fd_index = 0;  // which of the received fds is the listener
  int pid = 0;                  // the container's process, in the runtime's PID namespace
  std::string metadata;         // the profile's listenerMetadata, as given
  std::string id;
  std::string status;
  std::string bundle;
  std::map<std::string, std::string> annotations;
};

// Parses `json`, which arrived with `fd_count` fds: their names ("fds") must be as many, and one
// of them "seccompFd".
Result<ContainerState> parse_container_state(std::string_view json, size_t fd_count);

// The policy a container asks for, and where it asked.
struct PolicyRequest {
  std::string name;
  // From the annotation io.memfd-warden.policy, which whoever writes a Kubernetes pod sets
  // (CRI-O passes a pod's annotations to the runtime), rather than from the profile.
  bool by_annotation = false;
  bool operator==(const PolicyRequest&) const = default;
};

// "policy=NAME" on a line of the listenerMetadata, else the annotation io.memfd-warden.policy;
// nullopt for neither. A name that is not [A-Za-z0-9._-]+ (at most 64) is an error: it is looked
// up as a file name.
Result<std::optional<PolicyRequest>> requested_policy(const ContainerState& state);

// Who the container is, for audit records: id and bundle, and the Kubernetes pod name, namespace
// and container name where the annotations carry them (CRI-O's io.kubernetes.* or containerd's
// io.kubernetes.cri.* keys); empty when absent, and when keys of both runtimes are there.
ContainerIdentity container_identity(const ContainerState& state);

}  // namespace warden
