#include "supervisor/unotify_backend.h"

#include <spdlog/spdlog.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>

#include <cstring>

#include "supervisor/growth_call.h"
#include "supervisor/memfd_call.h"
#include "supervisor/memfd_ledger.h"
#include "supervisor/notify_channel.h"
#include "supervisor/notify_fd.h"
#include "supervisor/process_tree.h"

namespace warden {
namespace {

enum Source : uint64_t { kNotify, kSignals, kLedger };

bool add_to_epoll(int epoll_fd, int fd, Source source) {
  epoll_event event{};
  event.events = EPOLLIN;
  event.data.u64 = source;
  return ::epoll_ctl(epoll_fd, EPOLL_CTL_ADD, fd, &event) == 0;
}

// Reads every pending signal; returns true when a SIGCHLD was among them.
bool handle_signals(int signal_fd, ProcessTree& tree) {
  bool child_changed = false;
  signalfd_siginfo info{};
  while (::read(signal_fd, &info, sizeof(info)) == sizeof(info)) {
    if (info.ssi_signo == SIGCHLD) {
      child_changed = true;
    } else {
      spdlog::info("forwarding signal {} to the target", info.ssi_signo);
      tree.forward(static_cast<int>(info.ssi_signo));
    }
  }
  return child_changed;
}

}  // namespace

SuperviseResult supervise_unotify(const Policy& policy, const SuperviseOptions& options,
                                  Target target, int signal_fd, AuditLog& audit) {
  SuperviseResult result;
  result.started = true;
  ProcessTree tree(target.pid, std::move(target.pidfd));
  auto fail = [&](const std::string& what) {
    tree.forward(SIGKILL);
    while (!tree.reap()) ::usleep(1000);
    result.exit_code = 125;  // our own failure
    result.error = what + "; the target was killed";
    return result;
  };

  auto notify = NotifyFd::adopt(std::move(target.listener));
  if (!notify) return fail(notify.error().message());
  if (int err = notify->enable_sync_wakeup(); err != 0) {
    spdlog::debug("SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP unavailable ({}): Linux 6.6+ has it",
                  std::strerror(err));
  }
  auto ledger = MemfdLedger::open(policy.rules.size());
  if (!ledger) return fail(ledger.error().message());

  UniqueFd epoll(::epoll_create1(EPOLL_CLOEXEC));
  if (!epoll.valid() || !add_to_epoll(epoll.get(), notify->fd(), kNotify) ||
      !add_to_epoll(epoll.get(), signal_fd, kSignals) ||
      !add_to_epoll(epoll.get(), ledger->event_fd(), kLedger)) {
    return fail(std::string("setting up epoll: ") + std::strerror(errno));
  }

  MemfdCallHandler create_handler(policy, options.dry_run, *ledger, audit);
  GrowthCallHandler growth_handler(policy, options.dry_run, *ledger, audit);
  bool tree_gone = tree.reap();
  while (!tree_gone) {
    epoll_event events[4];
    int ready = ::epoll_wait(epoll.get(), events, 4, -1);
    if (ready < 0) {
      if (errno == EINTR) continue;
      return fail(std::string("epoll_wait: ") + std::strerror(errno));
    }
    bool child_changed = false;
    for (int i = 0; i < ready; ++i) {
      switch (events[i].data.u64) {
        case kNotify: {
          if (!(events[i].events & EPOLLIN)) {
            // EPOLLHUP: no task uses the filter any more. Stop watching; reaping ends the loop.
            ::epoll_ctl(epoll.get(), EPOLL_CTL_DEL, notify->fd(), nullptr);
            break;
          }
          const seccomp_notif* request = nullptr;
          int err = notify->receive(request);
          if (err == ENOENT || err == EINTR) break;  // the caller died before we received it
          if (err != 0) return fail(std::string("SECCOMP_IOCTL_NOTIF_RECV: ") + strerror(err));
          auto call = classify_syscall(request->data.arch, request->data.nr);
          if (!call) {
            // The filter traps nothing else; a mismatch is our bug, and failing is safe.
            spdlog::error("unexpected trapped syscall {} (arch {:#x}); answering ENOSYS",
                          request->data.nr, request->data.arch);
            notify->respond_error(request->id, ENOSYS);
            break;
          }
          NotifyChannel channel(*notify, request->id);
          TrappedRequest trapped = request_from_notification(*request, *call);
          if (call_group(call->call) == CallGroup::kCreate) {
            create_handler.handle(trapped, channel);
          } else {
            growth_handler.handle(trapped, channel);
          }
          break;
        }
        case kSignals:
          child_changed = handle_signals(signal_fd, tree) || child_changed;
          break;
        case kLedger:
          ledger->drain();
          break;
      }
    }
    if (child_changed) tree_gone = tree.reap();
  }
  ledger->drain();
  result.exit_code = tree.exit_code();
  fill_totals(result, *ledger, policy);
  return result;
}

}  // namespace warden
