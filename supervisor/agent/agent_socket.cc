#include "supervisor/agent/agent_socket.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>

namespace warden {
namespace {

constexpr int kSystemdFirstFd = 3;  // SD_LISTEN_FDS_START

// Binds PATH for us alone (mode 0600). A socket someone still listens on is left alone; a stale
// one (nobody listening: an agent that died) is replaced; anything that is not a socket is an
// error.
Result<UniqueFd> own_socket(const std::string& path) {
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof(address.sun_path)) {
    return Error{0, "socket path '" + path + "' is empty or longer than " +
                        std::to_string(sizeof(address.sun_path) - 1) + " bytes"};
  }
  std::memcpy(address.sun_path, path.data(), path.size());
  auto* raw = reinterpret_cast<sockaddr*>(&address);
  struct stat st {};
  if (::lstat(path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) return Error{0, path + " exists and is not a socket; not replacing it"};
    UniqueFd probe(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (::connect(probe.get(), raw, sizeof(address)) == 0) {
      return Error{0, "another agent is serving " + path};
    }
    if (errno != ECONNREFUSED) return errno_error("checking the existing socket " + path);
    if (::unlink(path.c_str()) != 0) return errno_error("removing the stale socket " + path);
    spdlog::info("replaced the stale socket {}", path);
  }
  UniqueFd listener(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!listener.valid()) return errno_error("socket");
  mode_t old_mask = ::umask(0177);  // 0600 from the start: no window in which others connect
  int bound = ::bind(listener.get(), raw, sizeof(address));
  ::umask(old_mask);
  if (bound != 0) return errno_error("binding " + path);
  if (::listen(listener.get(), 64) != 0) return errno_error("listening on " + path);
  return listener;
}

// The socket systemd passed, checked to be what the unit should have made: a listening unix
// stream socket at `path`. nullopt-like empty fd when systemd passed nothing to us.
Result<UniqueFd> systemd_socket(const std::string& path) {
  const char* listen_pid = std::getenv("LISTEN_PID");
  const char* listen_fds = std::getenv("LISTEN_FDS");
  if (listen_pid == nullptr || listen_fds == nullptr) return UniqueFd();
  if (std::strtol(listen_pid, nullptr, 10) != ::getpid()) return UniqueFd();  // not for us
  ::unsetenv("LISTEN_PID");  // sessions must not inherit them
  ::unsetenv("LISTEN_FDS");
  ::unsetenv("LISTEN_FDNAMES");
  if (std::strcmp(listen_fds, "1") != 0) {
    return Error{0, std::string("systemd passed LISTEN_FDS=") + listen_fds +
                        "; the agent takes exactly one socket (ListenStream= once in its unit)"};
  }
  UniqueFd fd(kSystemdFirstFd);
  int domain = 0, type = 0, listening = 0;
  socklen_t size = sizeof(int);
  bool usable = ::getsockopt(fd.get(), SOL_SOCKET, SO_DOMAIN, &domain, &size) == 0;
  size = sizeof(int);
  usable = usable && ::getsockopt(fd.get(), SOL_SOCKET, SO_TYPE, &type, &size) == 0;
  size = sizeof(int);
  usable = usable && ::getsockopt(fd.get(), SOL_SOCKET, SO_ACCEPTCONN, &listening, &size) == 0;
  if (!usable || domain != AF_UNIX || type != SOCK_STREAM || !listening) {
    (void)fd.release();  // not ours to close: it is whatever fd 3 was
    return Error{0, "fd 3, which systemd passed (LISTEN_FDS=1), is not a listening unix stream "
                    "socket; the unit needs ListenStream=PATH"};
  }
  sockaddr_un address{};
  socklen_t length = sizeof(address);
  if (::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    return errno_error("naming the socket systemd passed");
  }
  size_t path_length = length > offsetof(sockaddr_un, sun_path)
                           ? ::strnlen(address.sun_path, length - offsetof(sockaddr_un, sun_path))
                           : 0;
  std::string bound(address.sun_path, path_length);
  struct stat at_bound {}, at_path {};
  bool same_file = ::stat(bound.c_str(), &at_bound) == 0 && ::stat(path.c_str(), &at_path) == 0 &&
                   at_bound.st_dev == at_path.st_dev && at_bound.st_ino == at_path.st_ino;
  if (bound != path && !same_file) {  // /var/run/x and /run/x are one socket
    return Error{0, "systemd passed the socket " + bound + ", but --socket says " + path +
                        "; make the unit's ListenStream= and --socket agree"};
  }
  int flags = ::fcntl(fd.get(), F_GETFL);
  if (flags < 0 || ::fcntl(fd.get(), F_SETFL, flags | O_NONBLOCK) != 0 ||
      ::fcntl(fd.get(), F_SETFD, FD_CLOEXEC) != 0) {
    return errno_error("setting up the socket systemd passed");
  }
  return fd;
}

}  // namespace

Result<AgentSocket> agent_socket(const std::string& path) {
  auto inherited = systemd_socket(path);
  if (!inherited) return inherited.error();
  if (inherited->valid()) return AgentSocket{std::move(*inherited), true};
  auto owned = own_socket(path);
  if (!owned) return owned.error();
  return AgentSocket{std::move(*owned), false};
}

}  // namespace warden
