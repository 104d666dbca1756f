#include "supervisor/calls/audit_observations.h"

#include <rapidjson/document.h>

#include <algorithm>
#include <cstdio>
#include <ctime>
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
// False when the field is null or absent (exe and comm: not collected for that record).
bool recorded(const Value& object, const char* name) {
  auto it = object.FindMember(name);
  return it != object.MemberEnd() && !it->value.IsNull();
}

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

// "namespace/pod/name" for a Kubernetes container, else its id; empty without an identity.
std::string container_label(const Value& record) {
  auto it = record.FindMember("container");
  if (it == record.MemberEnd() || !it->value.IsObject()) return {};
  std::string pod = bytes_of(it->value, "pod");
  if (pod.empty()) return bytes_of(it->value, "id");
  return bytes_of(it->value, "namespace") + "/" + pod + "/" + bytes_of(it->value, "name");
}

std::optional<uint64_t> number_of(const Value& object, const char* name) {
  auto it = object.FindMember(name);
  if (it == object.MemberEnd() || !it->value.IsUint64()) return std::nullopt;
  return it->value.GetUint64();
}

// "2026-12-01T03:57:45.760010Z", as the audit log writes it: seconds since the epoch; 0 for
// anything else.
double seconds_of(const std::string& time) {
  int year, month, day, hour, minute, second, used = 0;
  if (std::sscanf(time.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%n", &year, &month, &day, &hour, &minute,
                  &second, &used) != 6) {
    return 0;
  }
  std::tm fields{};
  fields.tm_year = year - 1900;
  fields.tm_mon = month - 1;
  fields.tm_mday = day;
  fields.tm_hour = hour;
  fields.tm_min = minute;
  fields.tm_sec = second;
  double seconds = static_cast<double>(timegm(&fields));
  if (static_cast<size_t>(used) < time.size() && time[used] == '.') {
    double scale = 0.1;
    for (size_t i = used + 1; i < time.size() && time[i] >= '0' && time[i] <= '9'; ++i) {
      seconds += (time[i] - '0') * scale;
      scale /= 10;
    }
  }
  return seconds;
}

// Calls `each(record)` for every record in `lines` (only those of `container`, when given). A
// line that is not an audit record (one cut short by a full disk) is put in `skipped`; the error,
// when no line is a record, names the first.
template <typename Each>
std::optional<Error> for_each_record(const std::vector<AuditLine>& lines,
                                     const std::optional<std::string>& container,
                                     std::vector<std::string>* skipped, Each each) {
  bool any = false;
  std::optional<std::string> first_skipped;
  for (const auto& line : lines) {
    if (line.text.empty()) continue;
    rapidjson::Document record;
    // Iterative: a line of nested brackets must not exhaust our stack.
    record.Parse<rapidjson::kParseIterativeFlag>(line.text.data(), line.text.size());
    // FindMember and MemberEnd are for objects only (rapidjson asserts it; without the
    // assertion they read whatever the value holds as an object's members).
    bool record_like = !record.HasParseError() && record.IsObject();
    if (record_like) {
      auto run = record.FindMember("run");
      auto event = record.FindMember("event");
      record_like = run != record.MemberEnd() && run->value.IsString() &&
                    event != record.MemberEnd() && event->value.IsString();
    }
    if (!record_like) {
      if (!first_skipped) first_skipped = line.where;
      if (skipped) skipped->push_back(line.where);
      continue;
    }
    any = true;
    if (container && !matches_container(record, *container)) continue;
    each(static_cast<const Value&>(record));
  }
  if (!any && first_skipped) {
    return Error{0, *first_skipped +
                        ": not an audit record (a JSON object with \"run\" and "
                        "\"event\")"};
  }
  return std::nullopt;
}

const std::set<std::string> kExecCalls = {"execve",   "execveat",      "mmap", "mmap2",
                                          "mprotect", "pkey_mprotect", "shmat"};

}  // namespace

Result<Observations> observations_from_audit(const std::vector<AuditLine>& lines,
                                             const std::optional<std::string>& container,
                                             std::vector<std::string>* skipped) {
  Observations seen;
  std::set<std::string> runs, containers;
  auto failed = for_each_record(lines, container, skipped, [&](const Value& record) {
    runs.insert(text_of(record, "run"));
    if (std::string label = container_label(record); !label.empty()) containers.insert(label);
    std::string event = text_of(record, "event");
    if (event == "summary") {
      auto peak = record.FindMember("peak_live");
      if (peak != record.MemberEnd() && peak->value.IsUint64()) {
        seen.peak_live = std::max(seen.peak_live.value_or(0), peak->value.GetUint64());
      }
      auto bytes = record.FindMember("peak_bytes");
      if (bytes != record.MemberEnd() && bytes->value.IsUint64()) {
        seen.peak_bytes = std::max(seen.peak_bytes.value_or(0), bytes->value.GetUint64());
      }
      return;
    }
    if (event != "decision") return;
    std::string syscall = text_of(record, "syscall");
    std::string decision = text_of(record, "decision");
    std::string exe = bytes_of(record, "exe");
    if (syscall == "memfd_create" || syscall == "memfd_secret") {
      ObservedCreate create;
      create.exe = exe;
      create.exe_recorded = recorded(record, "exe");
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
  });
  if (failed) return *failed;
  if (container && runs.empty()) {
    return Error{0, "no record names the container \"" + *container + "\""};
  }
  seen.sources.push_back(std::to_string(runs.size()) + " run" + (runs.size() == 1 ? "" : "s") +
                         ", " + std::to_string(seen.creates.size()) + " memfd creations");
  if (skipped && !skipped->empty()) {
    seen.sources.push_back(std::to_string(skipped->size()) +
                           " line(s) that are not audit records, skipped (cut short?), the first " +
                           skipped->front() + ": a call they held has no rule");
  }
  for (const auto& name : containers) seen.sources.push_back("container " + name);
  return seen;
}

Result<std::vector<RecordedRun>> recorded_runs_from_audit(
    const std::vector<AuditLine>& lines, const std::optional<std::string>& container,
    std::vector<std::string>* skipped) {
  std::vector<RecordedRun> runs;
  std::map<std::string, size_t> index;  // run id -> runs[]
  auto failed = for_each_record(lines, container, skipped, [&](const Value& record) {
    std::string id = text_of(record, "run");
    auto [slot, added] = index.try_emplace(id, runs.size());
    if (added) {
      runs.emplace_back();
      runs.back().id = id;
      runs.back().started = text_of(record, "time");
    }
    RecordedRun& run = runs[slot->second];
    double time = seconds_of(text_of(record, "time"));
    if (run.start_time == 0) run.start_time = time;  // the first time that parses
    run.end_time = std::max(run.end_time, time);
    if (run.container.empty()) run.container = container_label(record);
    std::string event = text_of(record, "event");
    if (event == "start") {
      run.program = bytes_of(record, "program");
    } else if (event == "summary") {
      RecordedSummary summary;
      summary.calls = number_of(record, "calls").value_or(0);
      summary.peak_live = number_of(record, "peak_live");
      if (summary.peak_live) run.counts_live = true;
      summary.peak_bytes = number_of(record, "peak_bytes");
      if (auto it = record.FindMember("exit_status");
          it != record.MemberEnd() && it->value.IsInt64()) {
        summary.exit_status = it->value.GetInt64();
      }
      summary.tampering = text_of(record, "audit_tampering");
      if (recorded(record, "error")) summary.error = bytes_of(record, "error");
      summary.write_errors = number_of(record, "audit_write_errors").value_or(0);
      if (summary.peak_bytes) run.tracks_bytes = true;
      run.summary = summary;
    } else if (event == "decision") {
      RecordedDecision decision;
      decision.time = seconds_of(text_of(record, "time"));
      decision.syscall = text_of(record, "syscall");
      decision.exe = recorded(record, "exe") ? bytes_of(record, "exe") : kExeNotRecorded;
      if (record.HasMember("name") || record.HasMember("name_hex")) {
        decision.name = bytes_of(record, "name");
      }
      if (record.HasMember("path") || record.HasMember("path_hex")) {
        decision.path = bytes_of(record, "path");
      }
      decision.decision = text_of(record, "decision");
      decision.reason = text_of(record, "reason");
      decision.technique = text_of(record, "technique");
      if (auto rule = record.FindMember("rule");
          rule != record.MemberEnd() && rule->value.IsObject()) {
        decision.rule_id = bytes_of(rule->value, "id");
      }
      decision.error = text_of(record, "errno");
      if (auto quota = record.FindMember("quota");
          quota != record.MemberEnd() && quota->value.IsObject()) {
        auto live = number_of(quota->value, "live");
        if (live) run.counts_live = true;
        decision.live = live.value_or(0);
        decision.bytes = number_of(quota->value, "bytes").value_or(0);
        for (const char* limit : {"max_bytes", "max_memfd_bytes"}) {
          if (number_of(quota->value, limit)) run.tracks_bytes = true;
        }
      }
      // A growth record holds the totals from before it; an admitted growth changes them.
      if (auto charge = record.FindMember("charge");
          charge != record.MemberEnd() && charge->value.IsObject()) {
        run.tracks_bytes = true;
        auto before = number_of(charge->value, "old"), after = number_of(charge->value, "new");
        bool admitted = decision.decision == "allow" || decision.decision == "would-deny" ||
                        decision.decision == "would-kill";
        if (admitted && before && after) {
          decision.bytes = *after >= *before
                               ? decision.bytes + (*after - *before)
                               : decision.bytes - std::min(decision.bytes, *before - *after);
        }
      }
      run.decisions.push_back(std::move(decision));
    }
  });
  if (failed) return *failed;
  if (container && runs.empty()) {
    return Error{0, "no record names the container \"" + *container + "\""};
  }
  return runs;
}

}  // namespace warden
