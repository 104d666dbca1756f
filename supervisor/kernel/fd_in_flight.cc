#include "supervisor/kernel/fd_in_flight.h"

#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <linux/unix_diag.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>

#include "supervisor/kernel/unique_fd.h"

namespace warden {
bool unix_queues_hold_data() {
  UniqueFd diag(::socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG));
  if (!diag.valid()) return true;
  struct {
    nlmsghdr header;
    unix_diag_req request;
  } message{};
  message.header.nlmsg_len = sizeof(message);
  message.header.nlmsg_type = SOCK_DIAG_BY_FAMILY;
  message.header.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
  message.request.sdiag_family = AF_UNIX;
  message.request.udiag_states = ~0u;
  message.request.udiag_show = UDIAG_SHOW_RQLEN;
  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  if (::sendto(diag.get(), &message, sizeof(message), 0, reinterpret_cast<sockaddr*>(&kernel),
               sizeof(kernel)) != sizeof(message)) {
    return true;
  }
  alignas(nlmsghdr) char buffer[32 * 1024];
  bool queued = false;
  for (;;) {
    ssize_t got = ::recv(diag.get(), buffer, sizeof(buffer), 0);
    if (got <= 0) return true;
    auto* header = reinterpret_cast<nlmsghdr*>(buffer);
    for (auto size = static_cast<unsigned>(got); NLMSG_OK(header, size);
         header = NLMSG_NEXT(header, size)) {
      if (header->nlmsg_type == NLMSG_DONE) return queued;
      if (header->nlmsg_type == NLMSG_ERROR) return true;
      auto* socket_info = static_cast<unix_diag_msg*>(NLMSG_DATA(header));
      auto attributes_size =
          static_cast<int>(header->nlmsg_len - NLMSG_LENGTH(sizeof(*socket_info)));
      for (auto* attribute = reinterpret_cast<rtattr*>(socket_info + 1);
           RTA_OK(attribute, attributes_size); attribute = RTA_NEXT(attribute, attributes_size)) {
        if (attribute->rta_type != UNIX_DIAG_RQLEN) continue;
        unix_diag_rqlen lengths{};
        std::memcpy(&lengths, RTA_DATA(attribute), sizeof(lengths));
        // A listening socket counts the connections not yet accepted (each may carry queued
        // data); any other counts the bytes waiting to be read.
        if (lengths.udiag_rqueue > 0) queued = true;
      }
    }
  }
}

}  // namespace warden
