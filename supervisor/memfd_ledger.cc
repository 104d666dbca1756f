#include "supervisor/memfd_ledger.h"

#include <spdlog/spdlog.h>
#include <sys/inotify.h>

#include <cstdio>
#include <cstring>

namespace warden {

Result<MemfdLedger> MemfdLedger::open() {
  UniqueFd fd(::inotify_init1(IN_NONBLOCK | IN_CLOEXEC));
  if (!fd.valid()) return errno_error("inotify_init1");
  return MemfdLedger(std::move(fd));
}

int MemfdLedger::track(int memfd) {
  char path[64];
  std::snprintf(path, sizeof(path), "/proc/self/fd/%d", memfd);
  // IN_IGNORED comes with every watch; IN_DELETE_SELF is the least we must ask for to get it
  // when the inode dies.
  int wd = ::inotify_add_watch(inotify_.get(), path, IN_DELETE_SELF);
  if (wd < 0) return -errno;
  live_.insert(wd);
  if (live_.size() > peak_live_) peak_live_ = live_.size();
  return wd;
}

void MemfdLedger::drain() {
  alignas(inotify_event) char buffer[16 * 1024];
  for (;;) {
    ssize_t got = ::read(inotify_.get(), buffer, sizeof(buffer));
    if (got <= 0) return;  // EAGAIN: nothing queued
    for (char* p = buffer; p < buffer + got;) {
      const auto* event = reinterpret_cast<const inotify_event*>(p);
      if (event->mask & IN_Q_OVERFLOW) {
        // Releases were lost: live counts stay high (never low) until the tree exits.
        ++lost_events_;
        spdlog::error(
            "inotify queue overflowed: some memfd releases were missed, so the live "
            "count may overstate (raise fs.inotify.max_queued_events)");
      } else if (event->mask & IN_IGNORED) {
        live_.erase(event->wd);
      }
      p += sizeof(inotify_event) + event->len;
    }
  }
}

}  // namespace warden
