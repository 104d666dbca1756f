#include "supervisor/call_dispatch.h"

#include "supervisor/io_uring_call.h"

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
    case CallGroup::kExec:
      exec_.handle(request, channel);
      return;
    case CallGroup::kIoUring:
      handle_io_uring_setup(request, channel, context_);
      return;
  }
}

}  // namespace warden
