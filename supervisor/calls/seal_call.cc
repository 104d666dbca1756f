#include "supervisor/calls/seal_call.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>

#include <cerrno>
#include <cstring>

#include "supervisor/kernel/kernel_abi.h"
#include "supervisor/kernel/unique_fd.h"

namespace warden {

void SealCallHandler::handle(const TrappedRequest& request, CallChannel& channel) {
  UniqueFd own;
  bool unreachable = false;
  int pidfd = caller_pidfd(request.tid, request.syscall, channel, caller_, own, unreachable);
  if (pidfd < 0) {
    if (unreachable) channel.fail(EPERM);  // fail closed
    return;
  }
  // fcntl(unsigned int fd, unsigned int cmd, unsigned long arg); memfd_add_seals takes the
  // argument as an unsigned int.
  int fd = static_cast<int>(static_cast<unsigned int>(request.args[0]));
  UniqueFd file(sys::pidfd_getfd(pidfd, fd));
  int error = 0;
  if (!file.valid()) {
    error = errno == EBADF ? EBADF : EPERM;  // EBADF: no such fd, the kernel's own answer
  } else if (::fcntl(file.get(), F_ADD_SEALS, static_cast<unsigned int>(request.args[2])) != 0) {
    error = errno;
  }
  int err = error != 0 ? channel.fail(error) : channel.complete(0);
  if (err != 0 && err != ENOENT)
    spdlog::error("answering fcntl(F_ADD_SEALS): {}", std::strerror(err));
}

}  // namespace warden
