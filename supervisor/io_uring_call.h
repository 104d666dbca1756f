// Handles io_uring_setup when io_uring = "deny": io_uring operations are carried out by the
// kernel without passing through seccomp, so they would bypass every check memfd-warden makes.
// The call fails with ENOSYS (what a kernel without io_uring answers, so programs fall back to
// ordinary syscalls) and is audited.
#pragma once

#include "supervisor/audit_log.h"
#include "supervisor/call_channel.h"
#include "supervisor/caller_info.h"
#include "supervisor/handler_context.h"

namespace warden {

void handle_io_uring_setup(const TrappedRequest& request, CallChannel& channel,
                           const HandlerContext& context);

}  // namespace warden
