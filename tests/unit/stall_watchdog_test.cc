// Unit: the stall watchdog (backends/stall_watchdog.h) against marked waits (kernel/target_wait.h)
// of known lengths, and kill_descendants() (launch/process_tree.h) against a real process tree.
#include "supervisor/backends/stall_watchdog.h"

#include <doctest/doctest.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "supervisor/kernel/target_wait.h"
#include "supervisor/launch/process_tree.h"

namespace warden {
namespace {

using std::chrono::milliseconds;

TEST_CASE("the stall watchdog ends the tree once, when one wait outlasts its limit") {
  std::atomic<int> ended{0};
  StallWatchdog watchdog;
  REQUIRE(watchdog.start([&] { ++ended; }, milliseconds(200)));
  {
    TargetWait wait(4242);
    {
      TargetWait nested(99);  // counts as the outer wait, and names no one else
    }
    for (int i = 0; i < 1000 && ended == 0; ++i) std::this_thread::sleep_for(milliseconds(10));
  }
  watchdog.stop();
  CHECK(ended == 1);
  CHECK(watchdog.fired());
  CHECK(watchdog.failure().find("thread 4242's memory or files") != std::string::npos);
}

TEST_CASE("the stall watchdog lets many short waits be, however long they go on in all") {
  std::atomic<int> ended{0};
  StallWatchdog watchdog;
  // A limit fifty times each wait: a 20 ms sleep can overrun 200 ms on a loaded machine, or
  // under a sanitizer. The waits go on for longer than the limit in all, and so does the quiet.
  REQUIRE(watchdog.start([&] { ++ended; }, milliseconds(1000)));
  // A wait under way at nearly every look, but never the same one for long.
  auto until = std::chrono::steady_clock::now() + milliseconds(2500);
  while (std::chrono::steady_clock::now() < until) {
    TargetWait wait(1);
    std::this_thread::sleep_for(milliseconds(20));
  }
  std::this_thread::sleep_for(milliseconds(1500));  // and nothing waits for a while
  watchdog.stop();
  CHECK(ended == 0);
  CHECK_FALSE(watchdog.fired());
  CHECK(watchdog.failure().empty());
}

TEST_CASE("kill_descendants ends children and their children, and nothing else") {
  int pipe_fds[2];
  REQUIRE(::pipe(pipe_fds) == 0);
  pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    pid_t grandchild = ::fork();
    if (grandchild < 0) ::_exit(1);
    if (grandchild == 0) {
      ::setsid();                          // the grandchild leaves our session and process group
      (void)::write(pipe_fds[1], "g", 1);  // and says so
    }
    ::close(pipe_fds[0]);
    for (;;) ::pause();  // both hold the pipe's write end
  }
  ::close(pipe_fds[1]);
  // The grandchild exists, out of our session, before kill_descendants() looks (within 10 s;
  // the test fails after, once what there is has been ended).
  pollfd said{pipe_fds[0], POLLIN, 0};
  char byte;
  bool grandchild_ready = ::poll(&said, 1, 10000) == 1 && ::read(pipe_fds[0], &byte, 1) == 1;
  kill_descendants();
  REQUIRE(grandchild_ready);
  int status = 0;
  REQUIRE(::waitpid(child, &status, 0) == child);
  CHECK(WIFSIGNALED(status));
  CHECK(WTERMSIG(status) == SIGKILL);
  // End of file: no holder of the write end is left (within 10 s, or the test fails).
  pollfd hung_up{pipe_fds[0], POLLIN, 0};
  REQUIRE(::poll(&hung_up, 1, 10000) == 1);
  CHECK(::read(pipe_fds[0], &byte, 1) == 0);
  ::close(pipe_fds[0]);
  CHECK(::kill(::getppid(), 0) == 0);  // our parent lives on
}

}  // namespace
}  // namespace warden
