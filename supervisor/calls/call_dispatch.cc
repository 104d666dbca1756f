#include "supervisor/calls/call_dispatch.h"

#include "supervisor/calls/refused_call.h"

namespace warden {

void CallDispatcher::handle(const TrappedRequest& request, CallChannel& channel) {
  switch (call_group(request.syscall.call)) {
    case CallGroup::kCreate:
      create_.handle(request, channel);
      return;
    case CallGroup::kGrowth:
    case CallGroup::kWrite:
      growth_.handle(request, channel);
      return;
    case CallGroup::kXattr:
      xattr_.handle(request, channel);
      return;
    case CallGroup::kLandlock:
      landlock_.handle(request, channel);
      return;
    case CallGroup::kSeal:
      seal_.handle(request, channel);
      return;
    case CallGroup::kExec:
      exec_.handle(request, channel);
      return;
    case CallGroup::kExecMap:
      exec_map_.handle(request, channel);
      return;
    case CallGroup::kIoUring:
    case CallGroup::kAio:
    case CallGroup::kClone:
      handle_refused_call(request, channel, context_);
      return;
  }
}

}  // namespace warden
