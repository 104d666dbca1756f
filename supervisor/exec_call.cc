#include "supervisor/exec_call.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <charconv>
#include <cstdio>
#include <cstring>

#include "supervisor/kernel_abi.h"
#include "supervisor/unique_fd.h"

namespace warden {
namespace {

constexpr int kAtEmptyPath = 0x1000;

std::optional<int> parse_number(std::string_view text) {
  int value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || end != text.data() + text.size() || value < 0) return std::nullopt;
  return value;
}

}  // namespace

std::optional<FdPath> parse_fd_path(std::string_view path) {
  auto take = [&](std::string_view prefix) {
    if (!path.starts_with(prefix)) return false;
    path.remove_prefix(prefix.size());
    return true;
  };
  FdPath out;
  if (take("/dev/fd/") || take("/proc/self/fd/") || take("/proc/thread-self/fd/")) {
    // the caller's own fd table
  } else if (take("/proc/")) {
    size_t slash = path.find('/');
    auto pid = parse_number(path.substr(0, slash));
    if (!pid || slash == std::string_view::npos) return std::nullopt;
    out.pid = *pid;
    path.remove_prefix(slash);
    if (take("/task/")) {  // /proc/PID/task/TID/fd/N
      size_t next = path.find('/');
      auto tid = parse_number(path.substr(0, next));
      if (!tid || next == std::string_view::npos) return std::nullopt;
      out.pid = *tid;
      path.remove_prefix(next);
    }
    if (!take("/fd/")) return std::nullopt;
  } else {
    return std::nullopt;
  }
  auto fd = parse_number(path);
  if (!fd) return std::nullopt;
  out.fd = *fd;
  return out;
}

void ExecCallHandler::handle(const TrappedRequest& request, CallChannel& channel) {
  bool at = request.syscall.call == TrappedCall::kExecveat;
  uint64_t path_address = request.args[at ? 1 : 0];
  int dirfd = static_cast<int>(static_cast<uint32_t>(request.args[0]));
  int flags = at ? static_cast<int>(static_cast<uint32_t>(request.args[4])) : 0;

  NameRead path = read_target_name(request.tid, path_address, path_);
  std::optional<FdPath> named;
  if (path.status == NameStatus::kOk) {
    std::string_view text(path_, path.length);
    if (at && text.empty() && (flags & kAtEmptyPath)) {
      named = FdPath{0, dirfd};
    } else {
      named = parse_fd_path(text);
    }
  }
  if (!named) {
    channel.pass_through();  // an ordinary program (or a path the kernel will refuse itself)
    return;
  }
  callers_.read(request.tid, caller_);
  UniqueFd file;
  if (named->pid > 0) {
    // /proc/PID/fd/N: PID is as the caller sees it (its PID namespace, its /proc), so resolve
    // the path in the caller's own view of /proc.
    char resolved[128];
    std::snprintf(resolved, sizeof(resolved), "/proc/%d/root/proc/%d/fd/%d", request.tid,
                  named->pid, named->fd);
    file = UniqueFd(::open(resolved, O_PATH | O_CLOEXEC));
  } else {
    UniqueFd own_pidfd;
    int pidfd = callers_.pidfd_for(request.tid, caller_, own_pidfd);
    file = UniqueFd(pidfd >= 0 ? sys::pidfd_getfd(pidfd, named->fd) : -1);
  }
  // Reads above were the caller's own only if it is still waiting.
  if (!channel.caller_waiting()) return;
  struct stat st {};
  if (!file.valid() || ::fstat(file.get(), &st) != 0) {
    channel.pass_through();  // no such fd: the kernel answers as it would
    return;
  }
  ledger_.drain();  // a dead memfd's entry must not answer for a new file with its inode number
  MemfdEntry* entry = ledger_.find({st.st_dev, st.st_ino});
  std::string_view name;  // in the ledger's entry, or in `link`
  char link[512];
  bool allowed = policy_.exec_allowed;
  if (entry != nullptr) {
    name = entry->name();
    allowed = entry->exec_allowed;
  } else {
    char link_path[64];
    std::snprintf(link_path, sizeof(link_path), "/proc/self/fd/%d", file.get());
    ssize_t n = ::readlink(link_path, link, sizeof(link));
    std::string_view seen(link, n > 0 ? static_cast<size_t>(n) : 0);
    if (!seen.starts_with("/memfd:")) {
      channel.pass_through();  // not a memfd
      return;
    }
    seen.remove_prefix(7);
    if (seen.ends_with(" (deleted)")) seen.remove_suffix(10);
    name = seen;  // a memfd from outside the tree: the policy's exec setting decides
  }

  DecisionRecord record;
  record.syscall = trapped_call_name(request.syscall.call);
  record.abi = abi_name(request.syscall.abi);
  record.tid = request.tid;
  describe_caller(record, caller_);
  record.name = name;
  record.fd = named->fd;
  record.technique = kFilelessTechnique;
  record.reason = "fileless-exec";
  if (entry != nullptr && entry->rule) {
    record.rule_index = entry->rule;
    record.rule_id = policy_.rules[*entry->rule].id;
  }
  record.quota = ledger_.state();
  if (allowed) {
    audit_.write(record);
    channel.pass_through();
    return;
  }
  record.errno_value = EACCES;
  record.decision = dry_run_ ? Decision::kWouldDeny : Decision::kDeny;
  audit_.write(record);  // before the answer
  if (dry_run_) {
    channel.pass_through();
  } else if (int err = channel.fail(EACCES); err != 0 && err != ENOENT) {
    spdlog::error("refusing an exec from a memfd: {}", std::strerror(err));
  }
}

}  // namespace warden
