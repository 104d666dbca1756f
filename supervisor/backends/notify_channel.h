// CallChannel for seccomp user notification: answers through the notify fd, and delivers an
// allowed memfd by creating it in the supervisor and installing it with ADDFD+SEND.
#pragma once

#include <linux/seccomp.h>

#include "supervisor/calls/call_channel.h"
#include "supervisor/kernel/noexec_scope.h"
#include "supervisor/kernel/notify_fd.h"

namespace warden {

class NotifyChannel final : public CallChannel {
 public:
  // `scopes` tells the caller's vm.memfd_noexec, which the memfds we make for it must follow.
  NotifyChannel(const NotifyFd& notify, uint64_t id, pid_t caller, NoexecScopes& scopes)
      : notify_(notify), id_(id), caller_(caller), scopes_(scopes) {}

  bool caller_waiting() override { return notify_.id_valid(id_); }
  int fail(int error) override { return notify_.respond_error(id_, error); }
  int complete(int64_t value) override { return notify_.respond_value(id_, value); }
  int pass_through() override { return notify_.respond_continue(id_); }
  int deliver_memfd(const MemfdSpec& spec, const std::function<bool(int)>& on_created) override;

 private:
  const NotifyFd& notify_;
  uint64_t id_;
  pid_t caller_;
  NoexecScopes& scopes_;
};

// The request as both backends describe it, from a notification.
TrappedRequest request_from_notification(const seccomp_notif& notif, const TrappedSyscall& call);

}  // namespace warden
