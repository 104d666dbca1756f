// MemfdLedger: the memfds the tree holds, what each is charged, and what each rule's memfds
// hold, without the supervisor keeping any of them alive.
//
// Liveness: each memfd gets an inotify watch (through /proc/PID/fd/N) before we hand it over
// and close our copy; the kernel queues IN_IGNORED once the last fd and the last mapping are gone
// in every process. A watch holds no reference. secretmem files raise no inotify events at all,
// so memfd_secret entries are found dead by scanning /proc/*/fd and /proc/*/maps instead, and
// released only when they cannot be in flight in a socket either (fd_in_flight.h).
//
// Charge: the largest extent a memfd can hold pages in, max(file size, highest fallocated end).
// Owned by the supervisor loop's thread.
#pragma once

#include <sys/types.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <memory>
#include <memory_resource>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "policy/decide.h"
#include "policy/result.h"
#include "supervisor/calls/supervision.h"
#include "supervisor/kernel/target_memory.h"
#include "supervisor/kernel/unique_fd.h"

namespace warden {

struct MemfdKey {
  dev_t dev = 0;
  ino_t ino = 0;
  bool operator==(const MemfdKey&) const = default;
};

struct MemfdEntry {
  std::string_view name() const { return {name_bytes.data(), name_length}; }
  void set_name(std::string_view name) {
    name_length = static_cast<uint8_t>(std::min(name.size(), name_bytes.size()));
    std::memcpy(name_bytes.data(), name.data(), name_length);
  }

  // Held inline (a memfd name has at most kMaxMemfdName bytes), so an entry allocates nothing.
  std::array<char, kMaxMemfdName> name_bytes{};
  uint8_t name_length = 0;
  CreateCall call = CreateCall::kMemfdCreate;
  std::optional<size_t> rule;  // the rule that admitted it
  uint64_t charge = 0;         // as booked in the totals
  uint64_t alloc_end = 0;      // highest fallocated end, cut back by shrinking
  int watch = -1;              // inotify watch, -1 when the file cannot be watched (secretmem)
  bool exec_allowed = false;   // admitted where exec = "allow"
};

class MemfdLedger {
 public:
  // `count_live` false: nothing needs the live count, nothing is tracked (counts_live()), and
  // the ledger takes no inotify instance.
  static Result<MemfdLedger> open(size_t rule_count, bool count_live = true);

  // Whether admitted memfds are tracked at all; track() is for such ledgers only.
  bool counts_live() const { return count_live_; }

  // For the event loop: readable when releases are queued; -1 when nothing is tracked.
  int event_fd() const { return inotify_.get(); }

  // Starts tracking the file behind `fd` (ours, or a dup of the target's) as alive, charged
  // `charge` bytes. Returns the entry, or nullptr with errno set (ENOSPC: inotify watch limit).
  MemfdEntry* track(int fd, std::string_view name, CreateCall call, std::optional<size_t> rule,
                    uint64_t charge);

  // The live memfd with this identity, or nullptr.
  MemfdEntry* find(MemfdKey key);

  // Books a new charge for `entry` (growth or shrink).
  void recharge(MemfdEntry& entry, uint64_t charge);

  // The tree's main process, once launched: its PID namespace tells which processes belong to
  // the tree when deciding whether a secretmem file could be in flight.
  void set_tree(pid_t main_pid);

  // A tracked memfd reached the target: one more successful call.
  void count_call() { ++calls_; }

  // Applies every release that has happened. Call before deciding, so that a close() that
  // returned in the target before its next call is always seen.
  void drain();

  QuotaState state() const { return {calls_, entries_.size(), bytes_, rule_usage_, count_live_}; }
  uint64_t peak_live() const { return peak_live_; }
  uint64_t peak_bytes() const { return peak_bytes_; }

 private:
  struct KeyHash {
    size_t operator()(const MemfdKey& key) const noexcept {
      return std::hash<uint64_t>()(static_cast<uint64_t>(key.ino) * 1000003u ^ key.dev);
    }
  };

  MemfdLedger(UniqueFd inotify, size_t rule_count, bool count_live)
      : count_live_(count_live),
        inotify_(std::move(inotify)),
        pool_(std::make_unique<std::pmr::unsynchronized_pool_resource>()),
        entries_(pool_.get()),
        by_watch_(pool_.get()),
        rule_usage_(rule_count),
        own_pid_(::getpid()) {}
  void release(MemfdKey key);
  void reconcile_unwatched();

  bool count_live_;
  UniqueFd inotify_;
  // Entries come and go with every memfd: their nodes are recycled through a pool, so tracking a
  // memfd allocates only while the ledger grows past its largest size so far.
  std::unique_ptr<std::pmr::unsynchronized_pool_resource> pool_;
  std::pmr::unordered_map<MemfdKey, MemfdEntry, KeyHash> entries_;
  std::pmr::unordered_map<int, MemfdKey> by_watch_;
  std::vector<RuleUsage> rule_usage_;
  size_t unwatched_ = 0;
  ino_t tree_pid_namespace_ = 0;  // 0: unknown, every process counts as the tree's
  uint64_t calls_ = 0;
  uint64_t bytes_ = 0;
  uint64_t peak_live_ = 0;
  uint64_t peak_bytes_ = 0;
  pid_t own_pid_;
};

// What the file behind our reference `fd` is, from its /proc/self/fd link: a memfd
// ("/memfd:NAME (deleted)", with NAME a view into `link`) or a secretmem file (no name); nullopt
// for any other file.
struct MemfdIdentity {
  std::string_view name;
  CreateCall call;
};
std::optional<MemfdIdentity> memfd_identity(int fd, char (&link)[512]);

// Copies the ledger's final totals into a backend's result.
void fill_totals(SuperviseResult& result, const MemfdLedger& ledger, const Policy& policy);

}  // namespace warden
