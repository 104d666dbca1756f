#include "supervisor/calls/memfd_ledger.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/kcmp.h>
#include <linux/nsfs.h>
#include <spdlog/spdlog.h>
#include <sys/inotify.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <unordered_set>

#include "supervisor/kernel/fd_in_flight.h"
#include "supervisor/kernel/inotify_limits.h"
#include "supervisor/kernel/memory_file.h"
#include "supervisor/kernel/process_maps.h"
#include "supervisor/kernel/self_fd.h"
#include "supervisor/kernel/unique_fd.h"

namespace warden {
namespace {

struct KeySetHash {
  size_t operator()(const MemfdKey& key) const noexcept {
    return std::hash<uint64_t>()(static_cast<uint64_t>(key.ino) * 1000003u ^ key.dev);
  }
};
using KeySet = std::unordered_set<MemfdKey, KeySetHash>;

// Marks in `alive` every key of `wanted` found in the fd table `fd_dir`. Returns whether the
// table could hold one unseen: a socket (a file sent through it stays alive in flight), or a
// table closed to us (a caller that made itself non-dumpable, seen without CAP_SYS_PTRACE).
bool scan_fd_table(const char* fd_dir, const KeySet& wanted, KeySet& alive) {
  bool sockets = false;
  DIR* fds = ::opendir(fd_dir);
  if (fds == nullptr) return errno == EACCES || errno == EPERM;
  while (dirent* entry = ::readdir(fds)) {
    // Any process's files, on any filesystem: a FUSE server anywhere on the machine could hold
    // an fstatat back for good. Only the kernel's cached attributes are read.
    struct stat st {};
    if (entry->d_name[0] == '.' || !cached_stat(::dirfd(fds), entry->d_name, 0, st)) continue;
    sockets = sockets || S_ISSOCK(st.st_mode);
    MemfdKey key{st.st_dev, st.st_ino};
    if (wanted.count(key)) alive.insert(key);
  }
  ::closedir(fds);
  return sockets;
}

// Marks in `alive` every key of `wanted` mapped by thread `tid`. Returns whether its memory map
// had any line (a task that has ended has none).
bool scan_mappings(pid_t tid, const KeySet& wanted, KeySet& alive) {
  ProcessMaps maps(tid);
  bool any = false;
  while (std::optional<Mapping> mapping = maps.next()) {
    any = true;
    MemfdKey key{mapping->dev, mapping->ino};
    if (mapping->ino != 0 && wanted.count(key)) alive.insert(key);
  }
  return any;
}

// Marks in `alive` every key of `wanted` that process `pid` holds as an fd or a mapping. Returns
// whether it could hold one unseen (scan_fd_table). Looked at through each
// of its threads: one made without CLONE_FILES has an fd table of its own, and a main thread that
// ended first (pthread_exit) leaves /proc/PID/fd and /proc/PID/maps empty while the others run
// on. Threads that share a table (kcmp says) are read once.
bool scan_process(const char* pid, const KeySet& wanted, KeySet& alive) {
  char path[300];
  std::snprintf(path, sizeof(path), "/proc/%s/task", pid);
  DIR* tasks = ::opendir(path);
  if (tasks == nullptr) return errno == EACCES || errno == EPERM;
  bool sockets = false, mapped = false;
  pid_t tables[8];  // threads whose fd tables were read
  size_t table_count = 0;
  while (dirent* entry = ::readdir(tasks)) {
    if (entry->d_name[0] < '1' || entry->d_name[0] > '9') continue;
    auto tid = static_cast<pid_t>(std::strtol(entry->d_name, nullptr, 10));
    bool seen = false;
    for (size_t i = 0; i < table_count && !seen; ++i) {
      seen = ::syscall(SYS_kcmp, tables[i], tid, KCMP_FILES, 0, 0) == 0;
    }
    if (!seen) {
      std::snprintf(path, sizeof(path), "/proc/%s/task/%s/fd", pid, entry->d_name);
      sockets = scan_fd_table(path, wanted, alive) || sockets;
      // Past 8 distinct tables every further thread is read: slower, never blind.
      if (table_count < std::size(tables)) tables[table_count++] = tid;
    }
    if (!mapped) mapped = scan_mappings(tid, wanted, alive);  // one memory map for all threads
  }
  ::closedir(tasks);
  return sockets;
}

// The PID namespace a process is in, or 0.
ino_t pid_namespace(const char* pid) {
  char path[300];
  std::snprintf(path, sizeof(path), "/proc/%s/ns/pid", pid);
  struct stat st {};
  return ::stat(path, &st) == 0 ? st.st_ino : 0;
}

// Whether process `pid` is in the PID namespace `tree` or in one nested in it, at any depth: a
// target may make namespaces of its own (user, PID, network, without privileges), and their
// processes are the tree's all the same. One we may not look at counts as the tree's.
bool in_pid_namespace(const char* pid, ino_t tree) {
  char path[300];
  std::snprintf(path, sizeof(path), "/proc/%s/ns/pid", pid);
  UniqueFd ns(::open(path, O_RDONLY | O_CLOEXEC));
  if (!ns.valid()) return errno == EACCES || errno == EPERM;
  for (int depth = 0; ns.valid() && depth <= 32; ++depth) {  // the kernel nests 32 at most
    struct stat st {};
    if (::fstat(ns.get(), &st) != 0) return false;
    if (st.st_ino == tree) return true;
    ns = UniqueFd(::ioctl(ns.get(), NS_GET_PARENT));  // EPERM past our own namespace
  }
  return false;
}

}  // namespace

Result<MemfdLedger> MemfdLedger::open(size_t rule_count, bool count_live) {
  // An instance only when there is something to watch: instances are few and shared by all of
  // the user's processes, and the agent runs a ledger per container (inotify_limits.h).
  if (!count_live) return MemfdLedger(UniqueFd(), rule_count, false);
  auto fd = open_inotify("watching memfds to count the live ones");
  if (!fd) return fd.error();
  return MemfdLedger(std::move(fd.value()), rule_count, true);
}

MemfdEntry* MemfdLedger::track(int fd, std::string_view name, CreateCall call,
                               std::optional<size_t> rule, uint64_t charge) {
  struct stat st {};
  if (!cached_fstat(fd, st)) return nullptr;  // a file named like a memfd may be anyone's
  MemfdKey key{st.st_dev, st.st_ino};
  // A live inode is unique, so an entry under the same key belongs to a dead file whose release
  // we have not read yet.
  if (entries_.count(key)) release(key);

  MemfdEntry entry;
  entry.set_name(name);
  entry.call = call;
  entry.rule = rule;
  if (call == CreateCall::kMemfdCreate) {
    // /proc/PID/fd/N rather than /proc/self/fd/N: one symlink fewer to walk.
    char path[64];
    std::snprintf(path, sizeof(path), "/proc/%d/fd/%d", own_pid_, fd);
    // IN_IGNORED comes with every watch when the inode dies, whatever the mask. The mask must
    // name some event: IN_MOVE_SELF, which a memfd (in no directory) never raises, so the queue
    // carries one event per memfd and nothing else.
    entry.watch = ::inotify_add_watch(inotify_.get(), path, IN_MOVE_SELF);
    if (entry.watch < 0) return nullptr;
    by_watch_[entry.watch] = key;
  } else {
    ++unwatched_;
  }
  auto [it, inserted] = entries_.emplace(key, std::move(entry));
  if (rule && *rule < rule_usage_.size()) ++rule_usage_[*rule].live;
  if (entries_.size() > peak_live_) peak_live_ = entries_.size();
  recharge(it->second, charge);
  return &it->second;
}

MemfdEntry* MemfdLedger::find(MemfdKey key) {
  auto it = entries_.find(key);
  return it == entries_.end() ? nullptr : &it->second;
}

void MemfdLedger::recharge(MemfdEntry& entry, uint64_t charge) {
  bytes_ = bytes_ - entry.charge + charge;
  if (entry.rule && *entry.rule < rule_usage_.size()) {
    RuleUsage& usage = rule_usage_[*entry.rule];
    usage.bytes = usage.bytes - entry.charge + charge;
  }
  entry.charge = charge;
  if (bytes_ > peak_bytes_) peak_bytes_ = bytes_;
}

void MemfdLedger::release(MemfdKey key) {
  auto it = entries_.find(key);
  if (it == entries_.end()) return;
  MemfdEntry& entry = it->second;
  recharge(entry, 0);
  if (entry.rule && *entry.rule < rule_usage_.size()) --rule_usage_[*entry.rule].live;
  if (entry.watch >= 0) {
    by_watch_.erase(entry.watch);
  } else {
    --unwatched_;
  }
  entries_.erase(it);
}

void MemfdLedger::drain() {
  if (!count_live_) return;  // nothing is watched
  alignas(inotify_event) char buffer[16 * 1024];
  for (;;) {
    ssize_t got = ::read(inotify_.get(), buffer, sizeof(buffer));
    if (got <= 0) break;  // EAGAIN: nothing queued
    for (char* p = buffer; p < buffer + got;) {
      const auto* event = reinterpret_cast<const inotify_event*>(p);
      if (event->mask & IN_Q_OVERFLOW) {
        // Releases were lost: counts stay high (never low) for the memfds concerned.
        spdlog::error(
            "inotify queue overflowed: some memfd releases were missed, so quotas may "
            "overstate what the tree holds (raise fs.inotify.max_queued_events)");
      } else if (event->mask & IN_IGNORED) {
        auto it = by_watch_.find(event->wd);
        if (it != by_watch_.end()) release(it->second);
      }
      p += sizeof(inotify_event) + event->len;
    }
    // A read returns every queued event that fits: room to spare means the queue is empty
    // (anything queued after the read happened after this drain was asked for).
    if (static_cast<size_t>(got) + sizeof(inotify_event) + NAME_MAX + 1 <= sizeof(buffer)) break;
  }
  if (unwatched_ > 0) reconcile_unwatched();
}

void MemfdLedger::set_tree(pid_t main_pid) {
  std::string pid = std::to_string(main_pid);
  ino_t tree = pid_namespace(pid.c_str());
  // The tree's own namespace (tree_init.h), or none of its own: then every process counts.
  tree_pid_namespace_ = tree != pid_namespace("self") ? tree : 0;
}

void MemfdLedger::reconcile_unwatched() {
  KeySet wanted, alive;
  for (const auto& [key, entry] : entries_) {
    if (entry.watch < 0) wanted.insert(key);
  }
  bool tree_hides = false;  // a process of the tree could hold one unseen
  if (DIR* proc = ::opendir("/proc")) {
    while (dirent* entry = ::readdir(proc)) {
      if (entry->d_name[0] < '1' || entry->d_name[0] > '9') continue;
      bool hides = scan_process(entry->d_name, wanted, alive);
      if (hides && !tree_hides) {
        tree_hides =
            tree_pid_namespace_ == 0 || in_pid_namespace(entry->d_name, tree_pid_namespace_);
      }
      if (alive.size() == wanted.size()) break;
    }
    ::closedir(proc);
  }
  if (alive.size() == wanted.size()) return;
  // Held by no process: gone, or in flight in a unix socket (SCM_RIGHTS), where it keeps its
  // memory. Conservatively, while the tree holds any socket it could have sent one through, or
  // any unix socket has something queued, or a process of the tree will not show us its fds,
  // nothing is released (docs/memory-quotas.md).
  if (tree_hides || unix_queues_hold_data()) return;
  for (const auto& key : wanted) {
    if (!alive.count(key)) release(key);
  }
}

std::optional<MemfdIdentity> memfd_identity(int fd, char (&link)[512]) {
  std::string_view text = self_fd_link(fd, link);
  if (text.empty()) return std::nullopt;
  constexpr std::string_view kPrefix = "/memfd:", kSuffix = " (deleted)";
  if (text.starts_with(kPrefix) && text.ends_with(kSuffix)) {
    text.remove_prefix(kPrefix.size());
    text.remove_suffix(kSuffix.size());
    return MemfdIdentity{text, CreateCall::kMemfdCreate};
  }
  if (text == "/secretmem (deleted)") return MemfdIdentity{{}, CreateCall::kMemfdSecret};
  return std::nullopt;
}

void fill_totals(SuperviseResult& result, const MemfdLedger& ledger, const Policy& policy) {
  QuotaState state = ledger.state();
  result.calls = state.calls;
  if (ledger.counts_live()) {
    result.live_at_exit = state.live;
    result.peak_live = ledger.peak_live();
  }
  result.bytes_at_exit = state.bytes;
  if (policy.tracks_bytes()) result.peak_bytes = ledger.peak_bytes();
}

}  // namespace warden
