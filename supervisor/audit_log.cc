#include "supervisor/audit_log.h"

#include <fcntl.h>
#include <rapidjson/encodings.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>

#include "policy/errno_names.h"
#include "policy/memfd_flags.h"

namespace warden {
namespace {

// A RapidJSON input stream over a byte range. RapidJSON's own streams end at NUL, which a rule id
// may contain.
struct ByteStream {
  using Ch = char;
  const char* at;
  const char* end;
  Ch Peek() const { return at < end ? *at : '\0'; }
  Ch Take() { return at < end ? *at++ : '\0'; }
};

struct Discard {
  void Put(char) {}
};

bool is_utf8(std::string_view bytes) {
  ByteStream in{bytes.data(), bytes.data() + bytes.size()};
  Discard out;
  while (in.at < in.end) {
    if (!rapidjson::UTF8<>::Validate(in, out)) return false;
  }
  return true;
}

// `bytes` with every byte that does not begin a valid UTF-8 sequence replaced by U+FFFD.
void replace_invalid(std::string_view bytes, std::string& out) {
  out.clear();
  ByteStream in{bytes.data(), bytes.data() + bytes.size()};
  Discard discard;
  while (in.at < in.end) {
    const char* start = in.at;
    if (rapidjson::UTF8<>::Validate(in, discard)) {
      out.append(start, static_cast<size_t>(in.at - start));
    } else {
      out += "\xEF\xBF\xBD";
      in.at = start + 1;
    }
  }
}

}  // namespace

// One JSON line at a time into a buffer kept between records.
class AuditEncoder {
 public:
  std::string_view decision(const DecisionRecord& record, const Quota& limits);
  std::string_view summary(const SuperviseResult& result, const std::array<uint64_t, kDecisionCount>& counts,
                           uint64_t write_errors);

 private:
  void begin(const char* event);
  std::string_view end();
  void key(std::string_view name) { writer_.Key(name.data(), static_cast<unsigned>(name.size())); }
  void text(std::string_view value) {
    writer_.String(value.data(), static_cast<unsigned>(value.size()));
  }
  // "name": value, for the numeric fields.
  void field(std::string_view name, uint64_t value) {
    key(name);
    writer_.Uint64(value);
  }
  void field(std::string_view name, int value) {
    key(name);
    writer_.Int(value);
  }
  void field(std::string_view name, const std::optional<uint64_t>& value) {
    key(name);
    if (value) {
      writer_.Uint64(*value);
    } else {
      writer_.Null();
    }
  }
  // Attacker-chosen bytes under `name`. JSON strings hold Unicode text, so bytes that are not
  // UTF-8 are shown as U+FFFD there and kept exactly, as hex, in `name`_hex.
  void bytes(std::string_view name, std::string_view value);
  void quota(const QuotaState& state, const Quota& limits);

  rapidjson::StringBuffer buffer_;
  rapidjson::Writer<rapidjson::StringBuffer> writer_{buffer_};
  std::string scratch_;
};

void AuditEncoder::begin(const char* event) {
  buffer_.Clear();
  writer_.Reset(buffer_);
  writer_.StartObject();
  key("time");
  text(rfc3339_now().view());
  key("event");
  text(event);
}

std::string_view AuditEncoder::end() {
  writer_.EndObject();
  buffer_.Put('\n');
  return {buffer_.GetString(), buffer_.GetSize()};
}

void AuditEncoder::bytes(std::string_view name, std::string_view value) {
  key(name);
  if (is_utf8(value)) {
    text(value);
    return;
  }
  replace_invalid(value, scratch_);
  text(scratch_);
  static constexpr char kHex[] = "0123456789abcdef";
  scratch_.clear();
  scratch_.append(name).append("_hex");
  key(scratch_);
  scratch_.clear();
  for (unsigned char c : value) {
    scratch_ += kHex[c >> 4];
    scratch_ += kHex[c & 0xf];
  }
  text(scratch_);
}

void AuditEncoder::quota(const QuotaState& state, const Quota& limits) {
  key("quota");
  writer_.StartObject();
  field("calls", state.calls);
  field("live", state.live);
  field("max_calls", limits.max_calls);
  field("max_live", limits.max_live);
  field("bytes", state.bytes);
  field("max_bytes", limits.max_bytes);
  field("max_memfd_bytes", limits.max_memfd_bytes);
  writer_.EndObject();
}

std::string_view AuditEncoder::decision(const DecisionRecord& record, const Quota& limits) {
  begin("decision");
  key("syscall");
  text(record.syscall);
  key("abi");
  text(record.abi);
  field("pid", record.pid);
  field("tid", record.tid);
  bytes("exe", record.exe);
  bytes("comm", record.comm);
  if (record.name) {
    bytes("name", *record.name);
  } else {
    key("name");
    writer_.Null();
  }
  if (record.path) bytes("path", *record.path);
  if (record.file) {
    key("file");
    text(record.file);
  }
  if (record.prot) {
    field("prot", *record.prot);
  } else if (!record.charge) {  // growth records are about a memfd, not a create's flags
    key("flags");
    writer_.StartObject();
    key("raw");
    writer_.Uint(record.flags);
    key("names");
    writer_.StartArray();
    for (std::string_view flag : all_memfd_flag_names()) {
      if (record.flags & *memfd_flag_from_name(flag)) text(flag);
    }
    writer_.EndArray();
    writer_.EndObject();
  }
  key("decision");
  text(decision_name(record.decision));
  key("errno");
  if (record.errno_value) {
    text(errno_name(record.errno_value));
  } else {
    writer_.Null();
  }
  key("reason");
  text(record.reason);
  key("rule");
  if (record.rule_index) {
    writer_.StartObject();
    key("index");
    writer_.Uint64(*record.rule_index);
    bytes("id", record.rule_id);
    writer_.EndObject();
  } else {
    writer_.Null();
  }
  key("fd");
  if (record.fd >= 0) {
    writer_.Int(record.fd);
  } else {
    writer_.Null();
  }
  if (record.technique) {
    key("technique");
    text(record.technique);
  }
  if (record.noexec_seal) {
    key("noexec_seal");
    writer_.Bool(true);
  }
  if (record.charge) {
    key("charge");
    writer_.StartObject();
    field("old", record.charge->old_charge);
    field("new", record.charge->new_charge);
    writer_.EndObject();
  }
  quota(record.quota, limits);
  return end();
}

std::string_view AuditEncoder::summary(const SuperviseResult& result,
                                       const std::array<uint64_t, kDecisionCount>& counts,
                                       uint64_t write_errors) {
  begin("summary");
  key("decisions");
  writer_.StartObject();
  for (size_t i = 0; i < kDecisionCount; ++i) field(decision_name(static_cast<Decision>(i)), counts[i]);
  writer_.EndObject();
  field("calls", result.calls);
  field("live_at_exit", result.live_at_exit);
  field("peak_live", result.peak_live);
  // Bytes are tracked only when a byte limit makes memfd-warden trap growth calls.
  field("bytes_at_exit",
        result.peak_bytes ? std::optional<uint64_t>(result.bytes_at_exit) : std::nullopt);
  field("peak_bytes", result.peak_bytes);
  field("exit_status", result.exit_code);
  field("audit_write_errors", write_errors);
  return end();
}

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

Rfc3339 rfc3339_now() {
  // The date and time of day change once a second; the records of that second share them.
  thread_local time_t cached_second = -1;
  thread_local char cached[24];
  thread_local size_t cached_size = 0;
  timespec now{};
  ::clock_gettime(CLOCK_REALTIME, &now);
  if (now.tv_sec != cached_second) {
    tm utc{};
    ::gmtime_r(&now.tv_sec, &utc);
    cached_size = std::strftime(cached, sizeof(cached), "%Y-%m-%dT%H:%M:%S", &utc);
    cached_second = now.tv_sec;
  }
  Rfc3339 out;
  std::memcpy(out.text, cached, cached_size);
  out.size = cached_size;
  out.size += static_cast<size_t>(std::snprintf(out.text + out.size, sizeof(out.text) - out.size,
                                                ".%06ldZ", now.tv_nsec / 1000));
  return out;
}

AuditLog::AuditLog(UniqueFd owned, int fd, const Quota& limits)
    : owned_(std::move(owned)), fd_(fd), limits_(limits), encoder_(std::make_unique<AuditEncoder>()) {}
AuditLog::AuditLog(AuditLog&&) noexcept = default;
AuditLog& AuditLog::operator=(AuditLog&&) noexcept = default;
AuditLog::~AuditLog() = default;

Result<AuditLog> AuditLog::open(const std::string& destination, const Quota& limits) {
  if (destination == "-") return AuditLog(UniqueFd(), STDERR_FILENO, limits);
  UniqueFd fd(::open(destination.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600));
  if (!fd.valid()) return errno_error("opening the audit log " + destination);
  int raw = fd.get();
  return AuditLog(std::move(fd), raw, limits);
}

std::string encode_decision(const DecisionRecord& record, const Quota& limits) {
  AuditEncoder encoder;
  return std::string(encoder.decision(record, limits));
}

void AuditLog::write(const DecisionRecord& record) {
  ++counts_[static_cast<size_t>(record.decision)];
  emit(encoder_->decision(record, limits_));
}

void AuditLog::write_summary(const SuperviseResult& result) {
  emit(encoder_->summary(result, counts_, write_errors_));
}

void AuditLog::emit(std::string_view line) {
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
