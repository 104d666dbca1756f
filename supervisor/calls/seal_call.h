// Handles fcntl(F_ADD_SEALS), trapped with quota.strict_writes. memfd-warden carries a write to a
// memfd out in pieces, where the kernel's own write holds the file's lock throughout, and a seal
// asked for meanwhile waits for it: the write is whole, or refused when the seal came first. A
// seal let through here would land between two pieces and end the write short (review). So the
// seal is made by the thread that serves every trapped call, between two of them, on the
// caller's own description (pidfd_getfd: the same checks, FMODE_WRITE among them), and its
// result is the call's. No record: a seal decides nothing.
#pragma once

#include "supervisor/calls/call_channel.h"
#include "supervisor/calls/handler_context.h"
#include "supervisor/kernel/caller_info.h"

namespace warden {

class SealCallHandler : CallHandler {
 public:
  explicit SealCallHandler(const HandlerContext& context) : CallHandler(context) {}

  void handle(const TrappedRequest& request, CallChannel& channel);

 private:
  CallerInfo caller_;
};

}  // namespace warden
