#include "supervisor/calls/audit_observations.h"

#include <rapidjson/document.h>

#include <algorithm>
#include <map>
#include <set>

#include "policy/memfd_flags.h"
#include "supervisor/calls/audit_chain.h"

namespace warden {
namespace {

using rapidjson::Value;

std::string text_of(const Value& object, const char* name) {
  auto it = object.FindMember(name);
  if (it == object.MemberEnd() || !it->value.IsString()) return {};
  return {it->value.GetString(), it->value.GetStringLength()};
}

// A field the encoder may have written as `name_hex` (bytes that are not UTF-8): the exact bytes.
std::string bytes_of(const Value& object, const char* name) {
  std::string hex = text_of(object, (std::string(name) + "_hex").c_str());
  if (hex.empty()) return text_of(object, name);
  std::string bytes(hex.size() / 2, '\0');
  if (!from_hex(hex, reinterpret_cast<unsigned char*>(bytes.data()), bytes.size())) {
    return text_of(object, name);  // not what the encoder writes: keep the display form
  }
  return bytes;
}

bool matches_container(const Value& record, const std::string& wanted) {
  auto it = record.FindMember("container");
  if (it == record.MemberEnd() || !it->value.IsObject()) return false;
  for (const char* key : {"id", "name", "pod"}) {
    if (bytes_of(it->value, key) == wanted) return true;
  }
  return false;
}

const std::set<std::string> kExecCalls = {"execve", "execveat", "mmap", "mmap2", "mprotect",
                                          "pkey_mprotect", "shmat"};

}  // namespace

Result<Observations> observations_from_audit(const std::vector<AuditLine>& lines,
                                             const std::optional<std::string>& container) {
  Observations seen;
  std::set<std::string> runs, containers;
  for (const auto& line : lines) {
    if (line.text.empty()) continue;
    rapidjson::Document record;
    record.Parse(line.text.data(), line.text.size());
    if (record.HasParseError() || !record.IsObject()) {
      return Error{0, line.where + ": not an audit record"};
    }
    if (container && !matches_container(record, *container)) continue;
    runs.insert(text_of(record, "run"));
    if (auto it = record.FindMember("container"); it != record.MemberEnd() && it->value.IsObject()) {
      std::string pod = bytes_of(it->value, "pod");
      containers.insert(pod.empty() ? bytes_of(it->value, "id")
                                    : bytes_of(it->value, "namespace") + "/" + pod + "/" +
                                          bytes_of(it->value, "name"));
    }
    std::string event = text_of(record, "event");
    if (event == "summary") {
      auto peak = record.FindMember("peak_live");
      if (peak != record.MemberEnd() && peak->value.IsUint64()) {
        seen.peak_live = std::max(seen.peak_live, peak->value.GetUint64());
      }
      auto bytes = record.FindMember("peak_bytes");
      if (bytes != record.MemberEnd() && bytes->value.IsUint64()) {
        seen.peak_bytes = std::max(seen.peak_bytes.value_or(0), bytes->value.GetUint64());
      }
      continue;
    }
    if (event != "decision") continue;
    std::string syscall = text_of(record, "syscall");
    std::string decision = text_of(record, "decision");
    std::string exe = bytes_of(record, "exe");
    if (syscall == "memfd_create" || syscall == "memfd_secret") {
      ObservedCreate create;
      create.exe = exe;
      create.name = bytes_of(record, "name");
      create.call = syscall == "memfd_secret" ? CreateCall::kMemfdSecret : CreateCall::kMemfdCreate;
      auto flags = record.FindMember("flags");
      if (flags != record.MemberEnd() && flags->value.IsObject()) {
        auto raw = flags->value.FindMember("raw");
        if (raw != flags->value.MemberEnd() && raw->value.IsUint()) {
          create.flags = raw->value.GetUint();
        }
      }
      create.refused = decision == "deny" || decision == "kill" || decision == "abort";
      seen.creates.push_back(std::move(create));
    } else if (kExecCalls.count(syscall) && text_of(record, "technique") == "T1620") {
      seen.exec_attempts.insert({exe, bytes_of(record, "name")});
    } else if (syscall == "io_uring_setup") {
      seen.io_uring = true;
    }
    auto charge = record.FindMember("charge");
    bool grew = decision == "allow" || decision == "would-deny" || decision == "would-kill";
    if (grew && charge != record.MemberEnd() && charge->value.IsObject()) {
      auto grown = charge->value.FindMember("new");
      if (grown != charge->value.MemberEnd() && grown->value.IsUint64()) {
        seen.peak_memfd_bytes =
            std::max(seen.peak_memfd_bytes.value_or(0), grown->value.GetUint64());
      }
    }
  }
  if (container && runs.empty()) {
    return Error{0, "no record names the container \"" + *container + "\""};
  }
  seen.sources.push_back(std::to_string(runs.size()) + " run" + (runs.size() == 1 ? "" : "s") +
                         ", " + std::to_string(seen.creates.size()) + " memfd creations");
  for (const auto& name : containers) seen.sources.push_back("container " + name);
  return seen;
}

}  // namespace warden
