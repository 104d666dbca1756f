#include "supervisor/agent/oci_state.h"

#include <rapidjson/document.h>
#include <rapidjson/error/en.h>

#include <array>
#include <initializer_list>

#include "policy/printable.h"

namespace warden {
namespace {

Error bad(std::string what) { return Error{0, "container state: " + std::move(what)}; }

// The string member `name` of `object`, if it is one.
std::optional<std::string> string_member(const rapidjson::Value& object, const char* name) {
  auto it = object.FindMember(name);
  if (it == object.MemberEnd() || !it->value.IsString()) return std::nullopt;
  return std::string(it->value.GetString(), it->value.GetStringLength());
}

bool valid_policy_name(std::string_view name) {
  if (name.empty() || name.size() > 64 || name == "." || name == "..") return false;
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

}  // namespace

Result<ContainerState> parse_container_state(std::string_view json, size_t fd_count) {
  if (json.size() > kMaxContainerStateBytes) return bad("larger than 64 KiB");
  rapidjson::Document document;
  document.Parse<rapidjson::kParseValidateEncodingFlag | rapidjson::kParseIterativeFlag>(
      json.data(), json.size());
  if (document.HasParseError()) {
    return bad(std::string("not JSON: ") + rapidjson::GetParseError_En(document.GetParseError()) +
               " at byte " + std::to_string(document.GetErrorOffset()));
  }
  if (!document.IsObject()) return bad("not a JSON object");
  const rapidjson::Value& root = document;  // const iterators throughout (rapidjson's compare)
  ContainerState state;
  state.oci_version = string_member(root, "ociVersion").value_or("");
  auto fds = root.FindMember("fds");
  if (fds == root.MemberEnd() || !fds->value.IsArray()) return bad("no \"fds\" array");
  if (fds->value.Size() != fd_count) {
    return bad("\"fds\" names " + std::to_string(fds->value.Size()) + " fds, " +
               std::to_string(fd_count) + " arrived");
  }
  std::optional<size_t> seccomp;
  for (rapidjson::SizeType i = 0; i < fds->value.Size(); ++i) {
    const auto& name = fds->value[i];
    if (!name.IsString()) return bad("\"fds\" holds a non-string");
    if (std::string_view(name.GetString(), name.GetStringLength()) == "seccompFd") {
      if (seccomp) return bad("two fds named seccompFd");
      seccomp = i;
    }
  }
  if (!seccomp) return bad("no fd named seccompFd");
  state.seccomp_fd_index = *seccomp;
  auto pid = root.FindMember("pid");
  if (pid != root.MemberEnd()) {
    if (!pid->value.IsInt() || pid->value.GetInt() <= 0) return bad("\"pid\" is not a pid");
    state.pid = pid->value.GetInt();
  }
  state.metadata = string_member(root, "metadata").value_or("");
  auto inner = root.FindMember("state");
  if (inner == root.MemberEnd() || !inner->value.IsObject()) return bad("no \"state\" object");
  auto id = string_member(inner->value, "id");
  if (!id || id->empty()) return bad("no container \"id\"");
  state.id = *id;
  state.status = string_member(inner->value, "status").value_or("");
  state.bundle = string_member(inner->value, "bundle").value_or("");
  auto annotations = inner->value.FindMember("annotations");
  if (annotations != inner->value.MemberEnd()) {
    if (!annotations->value.IsObject()) return bad("\"annotations\" is not an object");
    for (const auto& entry : annotations->value.GetObject()) {
      if (!entry.value.IsString()) return bad("an annotation's value is not a string");
      state.annotations.emplace(
          std::string(entry.name.GetString(), entry.name.GetStringLength()),
          std::string(entry.value.GetString(), entry.value.GetStringLength()));
    }
  }
  return state;
}

Result<std::optional<PolicyRequest>> requested_policy(const ContainerState& state) {
  std::optional<PolicyRequest> request;
  std::string_view rest = state.metadata;
  while (!rest.empty()) {
    size_t end = rest.find('\n');
    std::string_view line = rest.substr(0, end);
    rest = end == std::string_view::npos ? std::string_view() : rest.substr(end + 1);
    if (line.starts_with("policy=")) request = PolicyRequest{std::string(line.substr(7)), false};
  }
  if (!request) {
    auto it = state.annotations.find("io.memfd-warden.policy");
    if (it != state.annotations.end()) request = PolicyRequest{it->second, true};
  }
  if (request && !valid_policy_name(request->name)) {
    // Shown escaped: it is the container's, and goes to the agent's log and the audit.
    return bad("policy name \"" + printable(request->name) +
               "\" is not [A-Za-z0-9._-]+ (at most 64)");
  }
  return request;
}

ContainerIdentity container_identity(const ContainerState& state) {
  ContainerIdentity identity{state.id, state.bundle, "", "", ""};
  // Each runtime's own keys: its marker, then pod, namespace and container. A pod's author may
  // add annotations that a runtime passes through, so a spec that holds keys of both is taken
  // for neither (review: an author's CRI-O keys beat containerd's true ones): the author can
  // leave its pod unnamed, never name another.
  struct Keys {
    const char* marker;
    std::array<const char*, 3> fields;
  };
  constexpr Keys kCrio{
      "io.kubernetes.cri-o.ContainerType",
      {"io.kubernetes.pod.name", "io.kubernetes.pod.namespace", "io.kubernetes.container.name"}};
  constexpr Keys kContainerd{
      "io.kubernetes.cri.container-type",
      {"io.kubernetes.cri.sandbox-name", "io.kubernetes.cri.sandbox-namespace",
       "io.kubernetes.cri.container-name"}};
  auto present = [&](const Keys& keys) {
    if (state.annotations.contains(keys.marker)) return true;
    for (const char* key : keys.fields) {
      if (state.annotations.contains(key)) return true;
    }
    return false;
  };
  bool crio = present(kCrio), containerd = present(kContainerd);
  if (crio == containerd) return identity;  // neither, or both: unnamed
  const Keys& keys = crio ? kCrio : kContainerd;
  auto value = [&](const char* key) {
    auto it = state.annotations.find(key);
    return it == state.annotations.end() ? std::string() : it->second;
  };
  identity.pod = value(keys.fields[0]);
  identity.pod_namespace = value(keys.fields[1]);
  identity.container = value(keys.fields[2]);
  return identity;
}

}  // namespace warden
