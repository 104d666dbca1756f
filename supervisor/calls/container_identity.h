// Who a session serves when memfd-warden did not start the program: a container, as its runtime
// named it (agent/oci_state.h reads it from the state message). Every audit record of the
// container's run carries it (audit_log.h). The values come from the runtime's message and the
// pod's annotations, so they are treated as hostile bytes.
#pragma once

#include <string>

namespace warden {

struct ContainerIdentity {
  std::string id;
  std::string bundle;
  // Kubernetes, where the annotations carry them; empty when absent.
  std::string pod;
  std::string pod_namespace;
  std::string container;
};

}  // namespace warden
