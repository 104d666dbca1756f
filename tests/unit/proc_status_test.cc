// Unit: the lines of /proc/TID files the supervisor reads (proc_status.h), against real processes
// in known states: running, stopped, a zombie leader whose thread group lives on, and gone.
#include "supervisor/kernel/proc_status.h"

#include <doctest/doctest.h>
#include <grp.h>
#include <sched.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <iterator>
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

// A child that waits for the test to kill it, after `setup` (run in the child; non-zero: exit).
template <typename Setup>
pid_t waiting_child(Setup setup) {
  int ready[2];
  REQUIRE(::pipe(ready) == 0);
  pid_t child = ::fork();
  if (child == 0) {
    char result = static_cast<char>(setup());
    (void)::write(ready[1], &result, 1);
    for (;;) ::pause();
  }
  ::close(ready[1]);
  char result = 1;
  REQUIRE(::read(ready[0], &result, 1) == 1);
  ::close(ready[0]);
  REQUIRE_MESSAGE(result == 0, "the child's setup failed");
  return child;
}

void end_child(pid_t child) {
  ::kill(child, SIGKILL);
  int status = 0;
  ::waitpid(child, &status, 0);
}

void on_signal(int) {}

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
  // Read a piece at a time: a small buffer still finds a line that fits in it, anywhere in the
  // file, and never returns part of one that does not.
  char small[32];
  auto late = proc_line(::getpid(), "status", "NStgid:", small);
  REQUIRE(late.has_value());
  CHECK(*late == std::to_string(::getpid()));
  char tiny[6];
  CHECK_FALSE(proc_line(::getpid(), "status", "Tgid:", tiny).has_value());
}

TEST_CASE("status_number reads the last number of a line, all 64 bits of a mask") {
  CHECK(status_number(::getpid(), "Tgid:", 10) == static_cast<uint64_t>(::getpid()));
  CHECK(status_number(::getpid(), "NStgid:", 10) == static_cast<uint64_t>(::getpid()));
  std::optional<uint64_t> bounding = status_number(::getpid(), "CapBnd:", 16);
  REQUIRE(bounding.has_value());
  CHECK(*bounding > 0);
  CHECK_FALSE(status_number(::getpid(), "Name:", 10).has_value());  // not a number
  CHECK_FALSE(status_number(::getpid(), "NoSuchField:", 10).has_value());
  // A handler for signal 64 sets the mask's top bit (the old signed parse lost such a mask).
  pid_t catcher = waiting_child([] { return ::signal(64, on_signal) == SIG_ERR ? 1 : 0; });
  std::optional<uint64_t> caught = status_number(catcher, "SigCgt:", 16);
  end_child(catcher);
  REQUIRE(caught.has_value());
  CHECK((*caught >> 63) == 1u);
}

TEST_CASE("a field after a Groups line of 65536 groups is still found") {
  if (::geteuid() != 0) {
    MESSAGE("skipped: setgroups needs root");
    return;
  }
  pid_t crowded = waiting_child([] {
    static gid_t groups[65536];
    for (size_t i = 0; i < std::size(groups); ++i) groups[i] = static_cast<gid_t>(1000000 + i);
    return ::setgroups(std::size(groups), groups) == 0 ? 0 : 1;
  });
  char buffer[4096];
  auto groups = proc_line(crowded, "status", "Groups:", buffer);  // 512 KiB: does not fit
  std::optional<uint64_t> nstgid = status_number(crowded, "NStgid:", 10);
  std::optional<uint64_t> bounding = status_number(crowded, "CapBnd:", 16);
  end_child(crowded);
  CHECK_FALSE(groups.has_value());
  CHECK(nstgid == static_cast<uint64_t>(crowded));
  CHECK(bounding.has_value());
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
