#include "supervisor/audit_log.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cerrno>
#include <ctime>
#include <nlohmann/json.hpp>

#include "policy/errno_names.h"
#include "policy/memfd_flags.h"

namespace warden {
namespace {

using Json = nlohmann::ordered_json;

// Puts `bytes` under `key`. JSON strings hold Unicode text, so bytes that are not valid UTF-8
// are shown as U+FFFD in `key` and kept exactly, as hex, in `key`_hex.
void put_bytes(Json& object, const char* key, std::string_view bytes) {
  std::string text(bytes);
  try {
    (void)Json(text).dump();  // throws type_error 316 on invalid UTF-8
    object[key] = std::move(text);
  } catch (const Json::type_error&) {
    object[key] = std::move(text);  // dump() below replaces the bad bytes
    static constexpr char kHex[] = "0123456789abcdef";
    std::string hex;
    hex.reserve(bytes.size() * 2);
    for (unsigned char c : bytes) {
      hex += kHex[c >> 4];
      hex += kHex[c & 0xf];
    }
    object[std::string(key) + "_hex"] = std::move(hex);
  }
}

Json quota_json(const QuotaState& state, const Quota& limits) {
  Json quota;
  quota["calls"] = state.calls;
  quota["live"] = state.live;
  quota["max_calls"] = limits.max_calls ? Json(*limits.max_calls) : Json(nullptr);
  quota["max_live"] = limits.max_live ? Json(*limits.max_live) : Json(nullptr);
  quota["bytes"] = state.bytes;
  quota["max_bytes"] = limits.max_bytes ? Json(*limits.max_bytes) : Json(nullptr);
  quota["max_memfd_bytes"] = limits.max_memfd_bytes ? Json(*limits.max_memfd_bytes) : Json(nullptr);
  return quota;
}

}  // namespace

const char* decision_name(Decision decision) {
  switch (decision) {
    case Decision::kAllow:
      return "allow";
    case Decision::kDeny:
      return "deny";
    case Decision::kKill:
      return "kill";
    case Decision::kAbort:
      return "abort";
    case Decision::kWouldDeny:
      return "would-deny";
    case Decision::kWouldKill:
      return "would-kill";
  }
  return "?";
}

std::string rfc3339_now() {
  timespec now{};
  ::clock_gettime(CLOCK_REALTIME, &now);
  tm utc{};
  ::gmtime_r(&now.tv_sec, &utc);
  char text[40];
  size_t used = std::strftime(text, sizeof(text), "%Y-%m-%dT%H:%M:%S", &utc);
  std::snprintf(text + used, sizeof(text) - used, ".%06ldZ", now.tv_nsec / 1000);
  return text;
}

Result<AuditLog> AuditLog::open(const std::string& destination, const Quota& limits) {
  if (destination == "-") return AuditLog(UniqueFd(), STDERR_FILENO, limits);
  UniqueFd fd(::open(destination.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600));
  if (!fd.valid()) return errno_error("opening the audit log " + destination);
  int raw = fd.get();
  return AuditLog(std::move(fd), raw, limits);
}

std::string encode_decision(const DecisionRecord& record, const Quota& limits) {
  Json line;
  line["time"] = rfc3339_now();
  line["event"] = "decision";
  line["syscall"] = record.syscall;
  line["abi"] = record.abi;
  line["pid"] = record.pid;
  line["tid"] = record.tid;
  put_bytes(line, "exe", record.exe);
  put_bytes(line, "comm", record.comm);
  if (record.name) {
    put_bytes(line, "name", *record.name);
  } else {
    line["name"] = nullptr;
  }
  if (!record.charge) {  // growth records are about a memfd, not a create's flags
    line["flags"] = {{"raw", record.flags}, {"names", memfd_flag_names(record.flags)}};
  }
  line["decision"] = decision_name(record.decision);
  line["errno"] = record.errno_value ? Json(errno_name(record.errno_value)) : Json(nullptr);
  line["reason"] = record.reason;
  if (record.rule_index) {
    Json rule{{"index", *record.rule_index}};
    put_bytes(rule, "id", record.rule_id);
    line["rule"] = std::move(rule);
  } else {
    line["rule"] = nullptr;
  }
  line["fd"] = record.fd >= 0 ? Json(record.fd) : Json(nullptr);
  if (record.technique) line["technique"] = record.technique;
  if (record.noexec_seal) line["noexec_seal"] = true;
  if (record.charge) {
    line["charge"] = {{"old", record.charge->old_charge}, {"new", record.charge->new_charge}};
  }
  line["quota"] = quota_json(record.quota, limits);
  return line.dump(-1, ' ', false, Json::error_handler_t::replace) + "\n";
}

void AuditLog::write(const DecisionRecord& record) {
  ++counts_[static_cast<size_t>(record.decision)];
  emit(encode_decision(record, limits_));
}

void AuditLog::write_summary(const SuperviseResult& result) {
  Json line;
  line["time"] = rfc3339_now();
  line["event"] = "summary";
  Json decisions = Json::object();
  for (size_t i = 0; i < kDecisionCount; ++i) {
    decisions[decision_name(static_cast<Decision>(i))] = counts_[i];
  }
  line["decisions"] = std::move(decisions);
  line["calls"] = result.calls;
  line["live_at_exit"] = result.live_at_exit;
  line["peak_live"] = result.peak_live;
  // Bytes are tracked only when a byte limit makes memfd-warden trap growth calls.
  line["bytes_at_exit"] = result.peak_bytes ? Json(result.bytes_at_exit) : Json(nullptr);
  line["peak_bytes"] = result.peak_bytes ? Json(*result.peak_bytes) : Json(nullptr);
  line["exit_status"] = result.exit_code;
  line["audit_write_errors"] = write_errors_;
  emit(line.dump(-1, ' ', false, Json::error_handler_t::replace) + "\n");
}

void AuditLog::emit(const std::string& line) {
  size_t done = 0;
  while (done < line.size()) {
    ssize_t wrote = ::write(fd_, line.data() + done, line.size() - done);
    if (wrote < 0 && errno == EINTR) continue;
    if (wrote <= 0) {
      if (write_errors_++ == 0) {
        spdlog::error(
            "writing the audit log: {} (further write errors are counted in the "
            "summary)",
            std::strerror(errno));
      }
      return;
    }
    done += static_cast<size_t>(wrote);
  }
}

}  // namespace warden
