// Handles landlock_restrict_self, trapped when a byte limit is set. A Landlock domain confines a
// task's access rights (truncate among them) and its reach into processes outside the domain
// (their /proc/PID/fd, cwd and root). With a byte limit memfd-warden carries some calls out
// itself, on the file the caller's path reaches (truncate, setxattr, lsetxattr), and it is in
// none of the tree's domains: so it notes, before the call goes on, that the tree asked for one
// (TreeConfinement), and from then on carries out no call by path
// (CallHandler::refused_in_landlock). The call itself goes on unchanged, with an audit record.
#pragma once

#include "supervisor/calls/call_channel.h"
#include "supervisor/calls/handler_context.h"
#include "supervisor/kernel/caller_info.h"

namespace warden {

class LandlockCallHandler : CallHandler {
 public:
  explicit LandlockCallHandler(const HandlerContext& context) : CallHandler(context) {}

  void handle(const TrappedRequest& request, CallChannel& channel);

 private:
  CallerInfo caller_;
};

}  // namespace warden
