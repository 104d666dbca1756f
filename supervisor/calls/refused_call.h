// Handles the calls memfd-warden refuses outright, each for a reason of its own, with an audit
// record:
//   io_uring_setup (io_uring = "deny"): io_uring operations run in the kernel without passing
//     through seccomp, so they would bypass every check. ENOSYS, what a kernel without io_uring
//     answers, so programs fall back to ordinary syscalls.
//   io_setup (strict_writes): Linux AIO writes (IOCB_CMD_PWRITE) grow files without a write
//     call. ENOSYS, as on a kernel without AIO; libaio users fall back.
//   clone with CLONE_UNTRACED (ptrace backend): the child would run untraced, out of reach of
//     every check. EPERM.
#pragma once

#include "supervisor/calls/audit_log.h"
#include "supervisor/calls/call_channel.h"
#include "supervisor/calls/handler_context.h"
#include "supervisor/kernel/caller_info.h"

namespace warden {

void handle_refused_call(const TrappedRequest& request, CallChannel& channel,
                         const HandlerContext& context);

}  // namespace warden
