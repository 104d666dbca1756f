// Unit: the container process state an OCI runtime sends to a seccomp agent.
#include <doctest/doctest.h>

#include <string>

#include "supervisor/agent/oci_state.h"

namespace warden {

namespace {

// Shaped like runc 1.1's message (runtime-spec 1.0.2), with Kubernetes annotations as CRI-O sets
// them and a field no spec has.
const char* const kRunc = R"({"ociVersion":"1.0.2-dev","fds":["seccompFd"],"pid":4422,
  "metadata":"team=build\npolicy=ci-jobs","future":[1,2],
  "state":{"ociVersion":"1.0.2-dev","id":"job-17","status":"creating","pid":4422,
  "bundle":"/run/bundles/job-17","annotations":{"io.kubernetes.pod.name":"web-1",
  "io.kubernetes.pod.namespace":"shop","io.kubernetes.container.name":"app"}}})";

}  // namespace

TEST_CASE("a runtime's state message: fields, policy from the metadata, identity") {
  auto state = parse_container_state(kRunc, 1);
  REQUIRE(state);
  CHECK(state->oci_version == "1.0.2-dev");
  CHECK(state->seccomp_fd_index == 0);
  CHECK(state->pid == 4422);
  CHECK(state->id == "job-17");
  CHECK(state->status == "creating");
  CHECK(state->bundle == "/run/bundles/job-17");
  auto policy = requested_policy(*state);
  REQUIRE(policy);
  CHECK(policy.value() == std::optional<PolicyRequest>(PolicyRequest{"ci-jobs", false}));
  auto identity = container_identity(*state);
  CHECK(identity.id == "job-17");
  CHECK(identity.pod == "web-1");
  CHECK(identity.pod_namespace == "shop");
  CHECK(identity.container == "app");
}

TEST_CASE("crun's 0.2.0 message, containerd's annotations, the annotation naming a policy") {
  const char* crun = R"({"ociVersion":"0.2.0","fds":["other","seccompFd"],"pid":9,
    "state":{"id":"c2","status":"created","pid":9,"bundle":"/b","annotations":{
    "io.memfd-warden.policy":"strict","io.kubernetes.cri.sandbox-name":"db-0",
    "io.kubernetes.cri.sandbox-namespace":"data","io.kubernetes.cri.container-name":"pg"}}})";
  auto state = parse_container_state(crun, 2);
  REQUIRE(state);
  CHECK(state->seccomp_fd_index == 1);
  CHECK(requested_policy(*state).value() ==
        std::optional<PolicyRequest>(PolicyRequest{"strict", true}));
  auto identity = container_identity(*state);
  CHECK(identity.pod == "db-0");
  CHECK(identity.pod_namespace == "data");
  CHECK(identity.container == "pg");
  // Neither metadata nor annotation: the agent's default.
  auto plain = parse_container_state(R"({"fds":["seccompFd"],"state":{"id":"x"}})", 1);
  REQUIRE(plain);
  CHECK(requested_policy(*plain).value() == std::nullopt);
}

TEST_CASE("a spec with both runtimes' Kubernetes keys names no pod") {
  // containerd sets io.kubernetes.cri.*, CRI-O io.kubernetes.pod.* and the rest; a pod's author
  // may add either through annotations a runtime passes on. First match let an author's CRI-O
  // keys name another pod on containerd (review). Either runtime's marker counts as its key.
  ContainerState state;
  state.id = "c9";
  state.annotations = {{"io.kubernetes.cri.container-type", "container"},
                       {"io.kubernetes.cri.sandbox-name", "job-9"},
                       {"io.kubernetes.cri.sandbox-namespace", "ci"},
                       {"io.kubernetes.cri.container-name", "build"}};
  auto containerd = container_identity(state);
  CHECK(containerd.pod == "job-9");
  CHECK(containerd.pod_namespace == "ci");
  CHECK(containerd.container == "build");
  state.annotations["io.kubernetes.pod.name"] = "payments-api";  // an author's, passed through
  state.annotations["io.kubernetes.pod.namespace"] = "prod";
  auto both = container_identity(state);
  CHECK(both.id == "c9");
  CHECK(both.pod.empty());
  CHECK(both.pod_namespace.empty());
  CHECK(both.container.empty());
  ContainerState crio;
  crio.annotations = {{"io.kubernetes.cri-o.ContainerType", "container"},
                      {"io.kubernetes.pod.name", "web-1"},
                      {"io.kubernetes.cri.sandbox-name", "forged"}};
  CHECK(container_identity(crio).pod.empty());
  crio.annotations.erase("io.kubernetes.cri.sandbox-name");
  CHECK(container_identity(crio).pod == "web-1");
}

TEST_CASE("the profile's listenerMetadata wins over the annotation") {
  ContainerState state;
  state.annotations["io.memfd-warden.policy"] = "loose";
  state.metadata = "team=a\npolicy=strict";
  CHECK(requested_policy(state).value() ==
        std::optional<PolicyRequest>(PolicyRequest{"strict", false}));
  state.metadata = "team=a";  // metadata without a policy line: the annotation asks
  CHECK(requested_policy(state).value() ==
        std::optional<PolicyRequest>(PolicyRequest{"loose", true}));
}

TEST_CASE("malformed state messages are refused with a reason") {
  struct Case {
    const char* json;
    size_t fds;
    const char* reason;
  };
  for (Case c : {Case{"", 1, "not JSON"}, Case{"[1]", 1, "not a JSON object"},
                 Case{R"({"fds":["seccompFd"],"state":{"id":"x"}} trailing)", 1, "not JSON"},
                 Case{R"({"state":{"id":"x"}})", 1, "no \"fds\" array"},
                 Case{R"({"fds":["seccompFd"],"state":{"id":"x"}})", 2, "names 1 fds, 2 arrived"},
                 Case{R"({"fds":["other"],"state":{"id":"x"}})", 1, "no fd named seccompFd"},
                 Case{R"({"fds":["seccompFd","seccompFd"],"state":{"id":"x"}})", 2, "two fds"},
                 Case{R"({"fds":[7],"state":{"id":"x"}})", 1, "non-string"},
                 Case{R"({"fds":["seccompFd"],"pid":-4,"state":{"id":"x"}})", 1, "not a pid"},
                 Case{R"({"fds":["seccompFd"]})", 1, "no \"state\" object"},
                 Case{R"({"fds":["seccompFd"],"state":{"id":""}})", 1, "no container \"id\""},
                 Case{R"({"fds":["seccompFd"],"state":{"id":"x","annotations":[]}})", 1,
                      "not an object"},
                 Case{"{\"fds\":[\"seccompFd\"],\"state\":{\"id\":\"\xff\"}}", 1, "not JSON"}}) {
    CAPTURE(c.json);
    auto state = parse_container_state(c.json, c.fds);
    REQUIRE_FALSE(state);
    CHECK(state.error().message().find(c.reason) != std::string::npos);
  }
  CHECK_FALSE(parse_container_state(std::string(kMaxContainerStateBytes + 1, ' '), 1));
}

TEST_CASE("a policy name that could leave the policy directory is refused") {
  for (const char* name : {"../etc/passwd", "a/b", "..", ".", "", "x y", "p\n"}) {
    CAPTURE(name);
    ContainerState state;
    state.annotations["io.memfd-warden.policy"] = name;
    CHECK_FALSE(requested_policy(state));
  }
  ContainerState state;
  state.metadata = "policy=ok-1.2_x";
  CHECK(requested_policy(state).value() ==
        std::optional<PolicyRequest>(PolicyRequest{"ok-1.2_x", false}));
  // The refusal shows a hostile name escaped: it goes to the agent's log as it stands.
  ContainerState hostile;
  hostile.annotations["io.memfd-warden.policy"] = "x\n\x1b[2Jforged";
  auto refused = requested_policy(hostile);
  REQUIRE_FALSE(refused);
  CHECK(refused.error().message().find("x\\x0a\\x1b[2Jforged") != std::string::npos);
  CHECK(refused.error().message().find('\n') == std::string::npos);
}

}  // namespace warden
