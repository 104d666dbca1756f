// bench_floor [--sync] [--addfd | --audited-deny] [--epoll] PROGRAM ARGS...: the cheapest a
// user-notification supervisor can be: memfd_create is trapped and every notification is
// answered without reading anything. By default the answer is CONTINUE, never a way to enforce a
// policy (seccomp_unotify(2)), only the floor the benchmarks compare to.
//   --sync   SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP (Linux 6.6+), as memfd-warden sets it;
//   --addfd  answer with a memfd of our own through ADDFD+SEND, which is how memfd-warden
//            allows: the cheapest safe allow;
//   --audited-deny  refuse with EPERM, doing first only what a denial that is audited before
//            its answer, and safe against a caller that dies, must do: read the name from the
//            caller's memory (process_vm_readv), check the notification still stands (ID_VALID:
//            the memory was the caller's), and write a record (one write of a short line to
//            /dev/null, no JSON, no chain): the floor of memfd-warden's deny;
//   --epoll  wait in epoll_wait instead of poll (to measure what SYNC_WAKE_UP loses through it).
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdio>
#include <cstring>
#include <string>

#include "supervisor/kernel/fd_message.h"
#include "supervisor/kernel/kernel_abi.h"

int main(int argc, char** argv) {
  int first = 1;
  bool sync = false, addfd = false, audited_deny = false, use_epoll = false;
  for (; first < argc && argv[first][0] == '-'; ++first) {
    if (std::strcmp(argv[first], "--sync") == 0) sync = true;
    if (std::strcmp(argv[first], "--addfd") == 0) addfd = true;
    if (std::strcmp(argv[first], "--audited-deny") == 0) audited_deny = true;
    if (std::strcmp(argv[first], "--epoll") == 0) use_epoll = true;
  }
  if (first >= argc) return 64;
  int sockets[2];
  ::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sockets);
  pid_t child = ::fork();
  if (child == 0) {
    sock_filter filter[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_memfd_create, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_USER_NOTIF),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    sock_fprog prog{4, filter};
    ::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
    int listener = static_cast<int>(
        warden::sys::seccomp(SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER, &prog));
    warden::FdMessage message;
    message.set_fd(listener);
    ::sendmsg(sockets[1], &message.msg, 0);
    ::close(listener);
    ::execvp(argv[first], argv + first);
    _exit(127);
  }
  ::close(sockets[1]);
  warden::FdMessage message;
  ::recvmsg(sockets[0], &message.msg, MSG_CMSG_CLOEXEC);
  int listener = message.fd();
  if (sync) {
    ::ioctl(listener, SECCOMP_IOCTL_NOTIF_SET_FLAGS, SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP);
  }
  int epoll = -1;
  if (use_epoll) {
    epoll = ::epoll_create1(EPOLL_CLOEXEC);
    epoll_event event{};
    event.events = EPOLLIN;
    ::epoll_ctl(epoll, EPOLL_CTL_ADD, listener, &event);
  }
  int audit = ::open("/dev/null", O_WRONLY | O_APPEND | O_CLOEXEC);
  seccomp_notif request;
  seccomp_notif_resp response;
  for (;;) {
    // Readable, or HUP once the child is done.
    if (use_epoll) {
      epoll_event event{};
      if (::epoll_wait(epoll, &event, 1, -1) < 0 || !(event.events & EPOLLIN)) break;
    } else {
      pollfd ready{listener, POLLIN, 0};
      if (::poll(&ready, 1, -1) < 0 || !(ready.revents & POLLIN)) break;
    }
    std::memset(&request, 0, sizeof(request));
    if (::ioctl(listener, SECCOMP_IOCTL_NOTIF_RECV, &request) != 0) continue;
    if (addfd) {
      int memfd = ::memfd_create("floor", MFD_CLOEXEC);
      seccomp_notif_addfd add{};
      add.id = request.id;
      add.flags = SECCOMP_ADDFD_FLAG_SEND;
      add.srcfd = static_cast<uint32_t>(memfd);
      add.newfd_flags = O_CLOEXEC;
      ::ioctl(listener, SECCOMP_IOCTL_NOTIF_ADDFD, &add);
      ::close(memfd);
      continue;
    }
    std::memset(&response, 0, sizeof(response));
    response.id = request.id;
    response.flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
    if (audited_deny) {
      char name[250] = {};
      iovec local{name, sizeof(name) - 1};
      iovec remote{reinterpret_cast<void*>(request.data.args[0]), sizeof(name) - 1};
      ::process_vm_readv(static_cast<pid_t>(request.pid), &local, 1, &remote, 1, 0);
      if (::ioctl(listener, SECCOMP_IOCTL_NOTIF_ID_VALID, &request.id) != 0) continue;
      char line[512];
      int length = std::snprintf(line, sizeof(line),
                                 "{\"event\":\"decision\",\"pid\":%u,\"name\":\"%s\","
                                 "\"decision\":\"deny\"}\n",
                                 request.pid, name);
      ::write(audit, line, static_cast<size_t>(length));
      response.flags = 0;
      response.error = -EPERM;
    }
    ::ioctl(listener, SECCOMP_IOCTL_NOTIF_SEND, &response);
  }
  int status = 0;
  ::waitpid(child, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}
