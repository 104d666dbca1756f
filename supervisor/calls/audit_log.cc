#include "supervisor/calls/audit_log.h"

#include <fcntl.h>
#include <linux/fs.h>
#include <rapidjson/encodings.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <spdlog/spdlog.h>
#include <sys/inotify.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>

#include "policy/errno_names.h"
#include "policy/memfd_flags.h"
#include "supervisor/kernel/inotify_limits.h"
#include "supervisor/kernel/self_fd.h"

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
  // Each returns the finished line, chained with `chain` (nullptr: unchained, for tests that
  // want one record's bytes).
  std::string_view decision(const DecisionRecord& record, const Quota& limits, AuditChain* chain);
  std::string_view summary(const SuperviseResult& result,
                           const std::array<uint64_t, kDecisionCount>& counts,
                           uint64_t write_errors, std::string_view tampering, AuditChain& chain);
  std::string_view start(std::string_view version, std::string_view program, AuditChain& chain);
  std::string_view tamper(std::string_view what, uint64_t size, uint64_t expected,
                          AuditChain& chain);
  void set_container(ContainerIdentity identity) { container_ = std::move(identity); }

 private:
  void begin(const char* event);
  std::string_view end(AuditChain* chain);
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
  void bytes_or_null(std::string_view name, std::optional<std::string_view> value);
  void quota(const QuotaState& state, const Quota& limits);

  rapidjson::StringBuffer buffer_;
  rapidjson::Writer<rapidjson::StringBuffer> writer_{buffer_};
  std::string scratch_;
  std::optional<ContainerIdentity> container_;
};

void AuditEncoder::begin(const char* event) {
  buffer_.Clear();
  writer_.Reset(buffer_);
  writer_.StartObject();
  key("time");
  text(rfc3339_now().view());
  key("event");
  text(event);
  if (container_) {
    key("container");
    writer_.StartObject();
    bytes("id", container_->id);
    bytes("bundle", container_->bundle);
    for (auto [name, value] :
         {std::pair{"pod", &container_->pod}, std::pair{"namespace", &container_->pod_namespace},
          std::pair{"name", &container_->container}}) {
      if (value->empty()) {
        key(name);
        writer_.Null();
      } else {
        bytes(name, *value);
      }
    }
    writer_.EndObject();
  }
}

std::string_view AuditEncoder::end(AuditChain* chain) {
  if (chain != nullptr) {
    key("run");
    text(chain->run_id());
    field("seq", chain->next_seq());
    // The chain covers the record as written so far: from '{' to the seq number.
    ChainValue value = chain->link({buffer_.GetString(), buffer_.GetSize()});
    char hex[2 * kChainBytes];
    to_hex(value.data(), value.size(), hex);
    key("chain");
    text({hex, sizeof(hex)});
  }
  writer_.EndObject();
  buffer_.Put('\n');
  return {buffer_.GetString(), buffer_.GetSize()};
}

std::string_view AuditEncoder::start(std::string_view version, std::string_view program,
                                     AuditChain& chain) {
  begin("start");
  key("version");
  text(version);
  field("pid", static_cast<int>(::getpid()));
  bytes("program", program);
  return end(&chain);
}

std::string_view AuditEncoder::tamper(std::string_view what, uint64_t size, uint64_t expected,
                                      AuditChain& chain) {
  begin("tamper");
  key("what");
  text(what);
  field("size", size);
  field("expected_at_least", expected);
  return end(&chain);
}

void AuditEncoder::bytes_or_null(std::string_view name, std::optional<std::string_view> value) {
  if (value) {
    bytes(name, *value);
  } else {
    key(name);
    writer_.Null();
  }
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
  field("live", state.live_counted ? std::optional<uint64_t>(state.live) : std::nullopt);
  field("max_calls", limits.max_calls);
  field("max_live", limits.max_live);
  field("bytes", state.bytes);
  field("max_bytes", limits.max_bytes);
  field("max_memfd_bytes", limits.max_memfd_bytes);
  writer_.EndObject();
}

std::string_view AuditEncoder::decision(const DecisionRecord& record, const Quota& limits,
                                        AuditChain* chain) {
  begin("decision");
  key("syscall");
  text(record.syscall);
  key("abi");
  text(record.abi);
  field("pid", record.pid);
  field("tid", record.tid);
  bytes_or_null("exe", record.exe);
  bytes_or_null("comm", record.comm);
  bytes_or_null("name", record.name);
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
    for (const auto& [name, bit] : memfd_flag_table()) {
      if (record.flags & bit) text(name);
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
  return end(chain);
}

std::string_view AuditEncoder::summary(const SuperviseResult& result,
                                       const std::array<uint64_t, kDecisionCount>& counts,
                                       uint64_t write_errors, std::string_view tampering,
                                       AuditChain& chain) {
  begin("summary");
  key("decisions");
  writer_.StartObject();
  for (size_t i = 0; i < kDecisionCount; ++i)
    field(decision_name(static_cast<Decision>(i)), counts[i]);
  writer_.EndObject();
  field("calls", result.calls);
  field("live_at_exit", result.live_at_exit);
  field("peak_live", result.peak_live);
  // Bytes are tracked only when a byte limit makes memfd-warden trap growth calls.
  field("bytes_at_exit",
        result.peak_bytes ? std::optional<uint64_t>(result.bytes_at_exit) : std::nullopt);
  field("peak_bytes", result.peak_bytes);
  field("exit_status", result.exit_code);
  // What the main target left running when it exited, and memfd-warden ended (--orphans).
  field("orphans_ended", result.orphans_ended);
  field("audit_write_errors", write_errors);
  // memfd-warden's own failure, as said on stderr: a run that could not start its target (or
  // a session its container) still ends sealed, with the reason.
  bytes_or_null("error", result.failed_itself() ? std::optional<std::string_view>(result.error)
                                                : std::nullopt);
  key("audit_tampering");
  if (tampering.empty()) {
    writer_.Null();
  } else {
    text(tampering);
  }
  // The seal: the run's key, disclosed now that nothing of the run can write any more, and how
  // many records the run wrote (this one included).
  key("seal");
  writer_.StartObject();
  char hex[2 * kRunKeyBytes];
  to_hex(chain.key().data(), chain.key().size(), hex);
  key("key");
  text({hex, sizeof(hex)});
  field("records", chain.next_seq() + 1);
  writer_.EndObject();
  return end(&chain);
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
  // ".uuuuuuZ", by hand: snprintf was a tenth of building a record.
  long micros = now.tv_nsec / 1000;
  out.text[out.size++] = '.';
  for (int digit = 5; digit >= 0; --digit) {
    out.text[out.size + static_cast<size_t>(digit)] = static_cast<char>('0' + micros % 10);
    micros /= 10;
  }
  out.size += 6;
  out.text[out.size++] = 'Z';
  return out;
}

AuditDestination AuditDestination::from_option(const std::string& text) {
  AuditDestination out;
  if (text != "-") {
    out.kind = Kind::kFile;
    out.path = text;
  }
  return out;
}

AuditLog::AuditLog(UniqueFd owned, int fd, const Quota& limits, AuditChain chain)
    : owned_(std::move(owned)),
      fd_(fd),
      limits_(limits),
      encoder_(std::make_unique<AuditEncoder>()),
      chain_(std::move(chain)) {}
AuditLog::AuditLog(AuditLog&&) noexcept = default;
AuditLog::~AuditLog() { unprotect(); }

namespace {

Result<UniqueFd> connect_socket(const std::string& path) {
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  if (path.size() >= sizeof(address.sun_path)) return Error{0, "--audit-socket: path too long"};
  std::memcpy(address.sun_path, path.c_str(), path.size() + 1);
  // A stream socket (one JSON line after another), or a datagram one (a record a datagram).
  for (int type : {SOCK_STREAM, SOCK_SEQPACKET, SOCK_DGRAM}) {
    UniqueFd fd(::socket(AF_UNIX, type | SOCK_CLOEXEC, 0));
    if (!fd.valid()) return errno_error("socket(AF_UNIX)");
    if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0) {
      return fd;
    }
    if (errno != EPROTOTYPE) return errno_error("connecting to the audit socket " + path);
  }
  return errno_error("connecting to the audit socket " + path);
}

}  // namespace

Result<AuditLog> AuditLog::open(const AuditDestination& destination, const Quota& limits,
                                const AuditOptions& options) {
  auto chain = AuditChain::create();
  if (!chain) return chain.error();
  UniqueFd owned;
  int fd = STDERR_FILENO;
  switch (destination.kind) {
    case AuditDestination::Kind::kStderr:
      break;
    case AuditDestination::Kind::kFile:
      owned = UniqueFd(
          ::open(destination.path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600));
      if (!owned.valid()) return errno_error("opening the audit log " + destination.path);
      fd = owned.get();
      break;
    case AuditDestination::Kind::kFd: {
      int flags = ::fcntl(destination.fd, F_GETFL);
      if (flags < 0 || (flags & O_ACCMODE) == O_RDONLY) {
        return Error{flags < 0 ? errno : EBADF,
                     "--audit-fd " + std::to_string(destination.fd) + ": not open for writing"};
      }
      // Ours alone: the target must not inherit it.
      if (::fcntl(destination.fd, F_SETFD, FD_CLOEXEC) != 0) {
        return errno_error("--audit-fd: setting close-on-exec");
      }
      fd = destination.fd;
      break;
    }
    case AuditDestination::Kind::kSocket: {
      auto connected = connect_socket(destination.path);
      if (!connected) return connected.error();
      owned = std::move(connected.value());
      fd = owned.get();
      break;
    }
  }
  AuditLog log(std::move(owned), fd, limits, std::move(chain.value()));
  struct stat st {};
  // Only a regular file can be truncated or protected (not /dev/null, a FIFO, a terminal).
  if (destination.kind != AuditDestination::Kind::kFile || ::fstat(fd, &st) != 0 ||
      !S_ISREG(st.st_mode)) {
    return log;
  }
  log.is_file_ = true;
  log.strict_ = options.strict;
  log.written_size_ = static_cast<uint64_t>(st.st_size);
  if (!options.watch) return log;
  // Renaming or unlinking the file raises IN_MOVE_SELF / IN_ATTRIB on the inode we write to.
  auto watch = open_inotify("watching the audit log " + destination.path);
  if (!watch) return watch.error();
  log.watch_ = std::move(watch.value());
  if (::inotify_add_watch(log.watch_.get(), SelfFdPath(fd).c_str(),
                          IN_MOVE_SELF | IN_ATTRIB | IN_DELETE_SELF) < 0) {
    if (errno == EACCES) {  // watching needs read permission, which appending does not
      return errno_error("watching the audit log " + destination.path +
                         " for renames and unlinks (memfd-warden must be able to read it)");
    }
    return inotify_watch_error("watching the audit log " + destination.path);
  }
  // Where the operator (and verify) will look for it: the path as given, followed as open
  // followed it. Linked elsewhere and unlinked here, it moves as surely as by a rename.
  log.path_ = destination.path;
  log.dev_ = st.st_dev;
  log.ino_ = st.st_ino;
  if (options.protect_file) {
    // Append-only for the run: nobody without CAP_LINUX_IMMUTABLE (which a root target loses)
    // may truncate, rewrite, rename, unlink or link it; appends still work, and a forged one
    // fails `memfd-warden verify`. Filesystems without the flag keep only the hiding.
    int attributes = 0;
    if (::ioctl(fd, FS_IOC_GETFLAGS, &attributes) == 0 && !(attributes & FS_APPEND_FL)) {
      attributes |= FS_APPEND_FL;
      log.append_only_set_ = ::ioctl(fd, FS_IOC_SETFLAGS, &attributes) == 0;
    }
    if (!log.append_only_set_) {
      spdlog::warn("cannot make the audit log append-only for the run ({}): {}", destination.path,
                   std::strerror(errno));
    }
    char resolved[PATH_MAX];
    if (::realpath(destination.path.c_str(), resolved) != nullptr) log.protected_path_ = resolved;
  }
  return log;
}

void record_unopened_run(const AuditDestination& destination, const Quota& limits,
                         std::string_view version, std::string_view program, const Error& failure,
                         const std::optional<ContainerIdentity>& container) {
  AuditOptions unwatched;
  unwatched.watch = false;
  auto log = AuditLog::open(destination, limits, unwatched);
  if (!log) return;
  if (container) log->set_container(*container);
  log->write_start(version, program);
  log->write_failure_summary(failure.message());
}

bool audit_open_failure_is_usage(int code) {
  switch (code) {
    case 0:
    case ENOENT:
    case ENOTDIR:
    case EACCES:
    case EPERM:
    case EROFS:
    case EISDIR:
    case ELOOP:
    case ENAMETOOLONG:
    case ENXIO:
    case ENODEV:
    case EBADF:
    case ETXTBSY:
    case ECONNREFUSED:
    case EPROTOTYPE:
      return true;
    default:
      return false;
  }
}

void AuditLog::unprotect() {
  if (!append_only_set_ || !owned_.valid()) return;
  int attributes = 0;
  if (::ioctl(owned_.get(), FS_IOC_GETFLAGS, &attributes) == 0) {
    attributes &= ~FS_APPEND_FL;
    ::ioctl(owned_.get(), FS_IOC_SETFLAGS, &attributes);
  }
  append_only_set_ = false;
}

std::string encode_decision(const DecisionRecord& record, const Quota& limits) {
  AuditEncoder encoder;
  return std::string(encoder.decision(record, limits, nullptr));
}

void AuditLog::set_container(ContainerIdentity identity) {
  encoder_->set_container(std::move(identity));
}

void AuditLog::write_start(std::string_view version, std::string_view program) {
  emit(encoder_->start(version, program, chain_));
}

void AuditLog::write(const DecisionRecord& record) {
  ++counts_[static_cast<size_t>(record.decision)];
  emit(encoder_->decision(record, limits_, &chain_));
}

void AuditLog::write_failure_summary(std::string error) {
  SuperviseResult failed;  // exit_code 125: ours
  failed.error = std::move(error);
  write_summary(failed);
}

void AuditLog::settle() {
  if (!is_file_) return;
  check_watch();
  check_size(0);
}

void AuditLog::write_summary(const SuperviseResult& result) {
  settle();  // tampering after the last record still makes the summary
  emit(encoder_->summary(result, counts_, write_errors_, tampering_, chain_));
  unprotect();
  // The summary that counts them may itself be among the lost (a full disk, RLIMIT_FSIZE): said
  // here as well, last, where the operator reads.
  if (write_errors_ > 0) {
    spdlog::error("the audit log is incomplete: {} record{} could not be written in full ({})",
                  write_errors_, write_errors_ == 1 ? "" : "s", std::strerror(first_write_errno_));
  }
}

void AuditLog::note_tampering(const char* what, uint64_t size, uint64_t expected) {
  if (tampering_.find(what) != std::string::npos) return;  // each kind once
  if (!tampering_.empty()) tampering_ += ",";
  tampering_ += what;
  std::fprintf(stderr, "memfd-warden: error: the audit log was %s during the run%s\n", what,
               strict_ ? "; ending the run (--audit-strict)" : "");
  in_tamper_record_ = true;
  std::string_view line = encoder_->tamper(what, size, expected, chain_);
  emit(line);
  written_size_ += line.size();
  in_tamper_record_ = false;
}

void AuditLog::check_watch() {
  alignas(inotify_event) char events[1024];
  bool renamed = false, attributes = false;
  for (ssize_t got; (got = ::read(watch_.get(), events, sizeof(events))) > 0;) {
    for (char* p = events; p < events + got;) {
      const auto* event = reinterpret_cast<const inotify_event*>(p);
      renamed = renamed || (event->mask & IN_MOVE_SELF);
      attributes = attributes || (event->mask & (IN_ATTRIB | IN_DELETE_SELF));
      p += sizeof(inotify_event) + event->len;
    }
  }
  struct stat st {};
  bool unlinked = attributes && ::fstat(fd_, &st) == 0 && st.st_nlink == 0;
  if (attributes && !unlinked && !renamed) {
    // Links or attributes changed and links are left: does the path still lead to it? (A
    // symlink re-pointed on the way counts: the path no longer leads to the run's log.)
    struct stat there {};
    renamed = ::stat(path_.c_str(), &there) != 0 || there.st_dev != dev_ || there.st_ino != ino_;
  }
  if (unlinked) note_tampering("unlinked", static_cast<uint64_t>(st.st_size), written_size_);
  if (renamed) note_tampering("renamed", written_size_, written_size_);
}

int AuditLog::wait_ms(int wait_ms) const {
  if (!strict_ || !is_file_ || append_only_set_) return wait_ms;
  return wait_ms < 0 ? kStrictSizeCheckMs : std::min(wait_ms, kStrictSizeCheckMs);
}

void AuditLog::check_size(uint64_t just_written) {
  // O_APPEND: our bytes went to the end, so our file position is the file's end after them. The
  // file holds at least what it held plus them (others' appends only add); less means it was
  // truncated in between. An append-only file cannot be (no check, no syscall).
  if (append_only_set_) return;
  off_t end = just_written > 0 ? ::lseek(fd_, 0, SEEK_CUR) : ::lseek(fd_, 0, SEEK_END);
  if (end < 0) return;
  uint64_t expected = written_size_ + just_written;
  written_size_ = static_cast<uint64_t>(end);
  if (static_cast<uint64_t>(end) < expected) {
    note_tampering("truncated", static_cast<uint64_t>(end), expected);
  }
}

bool AuditLog::write_all(std::string_view bytes) {
  size_t done = 0;
  while (done < bytes.size()) {
    ssize_t wrote = ::write(fd_, bytes.data() + done, bytes.size() - done);
    if (wrote < 0 && errno == EINTR) continue;
    if (wrote <= 0) {
      if (write_errors_++ == 0) {
        first_write_errno_ = wrote < 0 ? errno : EIO;
        spdlog::error("writing the audit log: {} (further write errors are counted in the summary)",
                      std::strerror(first_write_errno_));
      }
      torn_ = torn_ || done > 0;
      return false;
    }
    done += static_cast<size_t>(wrote);
  }
  return true;
}

void AuditLog::emit(std::string_view line) {
  // After a record cut short, a newline first: the next record must not be lost with it.
  if (torn_ && !write_all("\n")) return;
  torn_ = false;
  if (!write_all(line)) return;
  // A record the file check itself writes is checked with the next one, not recursively.
  if (is_file_ && !in_tamper_record_) check_size(line.size());
}

}  // namespace warden
