// Unit: the lines of /proc/TID files the supervisor reads (proc_status.h), against real processes
// in known states: running, stopped, a zombie leader whose thread group lives on, and gone.
#include "supervisor/kernel/proc_status.h"

#include <doctest/doctest.h>
#include <sched.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>

namespace warden {
namespace {

// A child whose main thread has ended (SYS_exit) while a second thread sleeps on: its leader
// stays a zombie until the test kills the child. The thread is a bare clone (no library calls), so
// that no sanitizer runtime is asked to start threads in a forked child.
int sleep_for_ever(void*) {
  for (;;) ::syscall(SYS_pause);
}

pid_t child_with_zombie_leader() {
  pid_t child = ::fork();
  if (child == 0) {
    static char stack[64 * 1024];
    ::clone(sleep_for_ever, stack + sizeof(stack),
            CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD | CLONE_SYSVSEM,
            nullptr);
    for (;;) ::syscall(SYS_exit, 0);
  }
  return child;
}

TEST_CASE("proc_line finds a line by its prefix and skips the blanks after it") {
  char buffer[4096];
  auto tgid = proc_line(::getpid(), "status", "Tgid:", buffer);
  REQUIRE(tgid.has_value());
  CHECK(*tgid == std::to_string(::getpid()));
  rlimit limit{};
  REQUIRE(::getrlimit(RLIMIT_FSIZE, &limit) == 0);
  auto fsize = proc_line(::getpid(), "limits", "Max file size", buffer);
  REQUIRE(fsize.has_value());
  CHECK(fsize->starts_with(limit.rlim_cur == RLIM_INFINITY ? std::string("unlimited")
                                                           : std::to_string(limit.rlim_cur)));
  CHECK_FALSE(proc_line(::getpid(), "status", "NoSuchField:", buffer).has_value());
  CHECK_FALSE(proc_line(::getpid(), "no-such-file", "Tgid:", buffer).has_value());
  // Only what fits is searched: a line past the buffer is not there.
  char small[16];
  CHECK_FALSE(proc_line(::getpid(), "status", "Tgid:", small).has_value());
}

TEST_CASE("status_field reads the last number of a line, in the base asked for") {
  CHECK(status_field(::getpid(), "Tgid:", 10) == ::getpid());
  CHECK(status_field(::getpid(), "NStgid:", 10) == ::getpid());  // our own namespace
  long long bounding = status_field(::getpid(), "CapBnd:", 16);
  CHECK(bounding > 0);
  CHECK(status_field(::getpid(), "Name:", 10) == -1);  // not a number
  CHECK(status_field(::getpid(), "NoSuchField:", 10) == -1);
}

TEST_CASE("thread_state tells running, stopped, zombie leaders and gone threads apart") {
  CHECK(thread_state(::getpid()) == 'R');  // reading its own status, it runs
  pid_t stopped = ::fork();
  if (stopped == 0) {
    ::raise(SIGSTOP);
    ::_exit(0);
  }
  int status = 0;
  REQUIRE(::waitpid(stopped, &status, WUNTRACED) == stopped);
  CHECK(thread_state(stopped) == 'T');
  ::kill(stopped, SIGKILL);
  ::waitpid(stopped, &status, 0);
  CHECK(thread_state(stopped) == '\0');  // gone (reaped)

  pid_t zombie_leader = child_with_zombie_leader();
  char state = '\0';
  for (int i = 0; i < 5000 && state != 'Z'; ++i) {
    state = thread_state(zombie_leader);
    if (state != 'Z') ::usleep(1000);
  }
  CHECK(state == 'Z');
  // Its thread group lives on: nothing is reported to its parent yet.
  CHECK(::waitpid(zombie_leader, &status, WNOHANG) == 0);
  ::kill(zombie_leader, SIGKILL);
  REQUIRE(::waitpid(zombie_leader, &status, 0) == zombie_leader);
}

}  // namespace
}  // namespace warden
