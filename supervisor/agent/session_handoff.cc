#include "supervisor/agent/session_handoff.h"

#include <sys/socket.h>

#include <cerrno>
#include <cstring>

namespace warden {
namespace {

// One message of the channel: a pid, and room for one fd.
struct Handoff {
  Handoff() {
    header.msg_iov = &io;
    header.msg_iovlen = 1;
    header.msg_control = space;
    header.msg_controllen = sizeof(space);
  }
  Handoff(const Handoff&) = delete;
  Handoff& operator=(const Handoff&) = delete;

  pid_t pid = 0;
  iovec io{&pid, sizeof(pid)};
  alignas(cmsghdr) char space[CMSG_SPACE(sizeof(int))] = {};
  msghdr header{};
};

}  // namespace

int send_listener(int control, int listener, pid_t pid) {
  Handoff message;
  message.pid = pid;
  cmsghdr* c = CMSG_FIRSTHDR(&message.header);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int));
  std::memcpy(CMSG_DATA(c), &listener, sizeof(int));
  if (::sendmsg(control, &message.header, MSG_DONTWAIT | MSG_NOSIGNAL) != sizeof(pid)) {
    return errno;
  }
  return 0;
}

int receive_listener(int control, UniqueFd& listener, pid_t& pid) {
  Handoff message;
  ssize_t got = ::recvmsg(control, &message.header, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
  if (got < 0) return errno;
  if (got == 0) return ENODATA;
  cmsghdr* c = CMSG_FIRSTHDR(&message.header);
  if (got != sizeof(pid) || c == nullptr || c->cmsg_level != SOL_SOCKET ||
      c->cmsg_type != SCM_RIGHTS || c->cmsg_len != CMSG_LEN(sizeof(int))) {
    return EBADMSG;  // the agent sends nothing else
  }
  int fd;
  std::memcpy(&fd, CMSG_DATA(c), sizeof(int));
  listener = UniqueFd(fd);
  pid = message.pid;
  return 0;
}

}  // namespace warden
