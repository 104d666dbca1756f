#include "supervisor/backends/notify_session.h"

#include <spdlog/spdlog.h>

#include <cerrno>

#include "supervisor/backends/notify_channel.h"
#include "supervisor/kernel/trapped_syscalls.h"

namespace warden {

int NotifySession::serve_one(NotifyFd& notify) {
  const seccomp_notif* request = nullptr;
  int err = notify.receive(request);
  if (err == ENOENT || err == EINTR) return 0;
  if (err != 0) return err;
  auto call = classify_syscall(request->data.arch, request->data.nr);
  if (!call) {
    // The filter traps nothing else; a mismatch is our bug, and failing is safe.
    spdlog::error("unexpected trapped syscall {} (arch {:#x}); answering ENOSYS", request->data.nr,
                  request->data.arch);
    notify.respond_error(request->id, ENOSYS);
    return 0;
  }
  NotifyChannel channel(notify, request->id, static_cast<pid_t>(request->pid), scopes_);
  dispatcher_.handle(request_from_notification(*request, *call), channel);
  return 0;
}

}  // namespace warden
