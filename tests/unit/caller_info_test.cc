// Unit: CallerReader against real threads. Its cached handles must never serve stale values: a
// thread that changes its filesystem uid or its name between two reads is seen changed, both
// sources (PIDFD_GET_INFO and /proc/TID/status) agree, a thread that has exited reads as gone,
// the cache stays bounded, and the PID namespace, read once per thread, is the caller's own.
#include <doctest/doctest.h>
#include <sched.h>
#include <signal.h>
#include <sys/fsuid.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "supervisor/kernel/caller_info.h"

namespace warden {
namespace {

// A thread that runs steps on request, so the test decides when it changes.
class Puppet {
 public:
  Puppet() : thread_([this] { loop(); }) {
    std::unique_lock lock(mutex_);
    changed_.wait(lock, [this] { return tid_ != 0; });
  }
  ~Puppet() {
    run([] {});
    {
      std::lock_guard lock(mutex_);
      stop_ = true;
    }
    changed_.notify_all();
    thread_.join();
  }
  pid_t tid() const { return tid_; }
  void run(std::function<void()> step) {
    std::unique_lock lock(mutex_);
    step_ = std::move(step);
    changed_.notify_all();
    changed_.wait(lock, [this] { return !step_; });
  }

 private:
  void loop() {
    std::unique_lock lock(mutex_);
    tid_ = ::gettid();
    changed_.notify_all();
    for (;;) {
      changed_.wait(lock, [this] { return step_ || stop_; });
      if (step_) {
        step_();
        step_ = nullptr;
        changed_.notify_all();
      } else {
        return;
      }
    }
  }
  std::mutex mutex_;
  std::condition_variable changed_;
  std::function<void()> step_;
  bool stop_ = false;
  pid_t tid_ = 0;
  std::thread thread_;
};

std::string comm_of(const CallerInfo& info) { return std::string(info.comm_view()); }

TEST_CASE("caller reads follow a thread's changes: fsuid, fsgid and comm, both sources agree") {
  Puppet puppet;
  CallerReader cached;  // PIDFD_GET_INFO where the kernel has it
  CallerReader status(CallerReader::Source::kProcStatus);
  CallerInfo a, b;
  puppet.run([] { ::prctl(PR_SET_NAME, "before", 0, 0, 0); });
  REQUIRE(cached.read(puppet.tid(), a));
  REQUIRE(status.read(puppet.tid(), b));
  CHECK(a.tgid == ::getpid());
  CHECK(comm_of(a) == "before");
  CHECK(a.have_creds);
  CHECK(a.fsuid == ::geteuid());
  CHECK(a.exe_view() == b.exe_view());
  CHECK(a.exe_length > 0);

  bool root = ::geteuid() == 0;
  puppet.run([&] {
    ::prctl(PR_SET_NAME, "after", 0, 0, 0);
    if (root) {
      ::setfsgid(4321);
      ::setfsuid(1234);
    }
  });
  REQUIRE(cached.read(puppet.tid(), a));  // the same cached handles, read again
  REQUIRE(status.read(puppet.tid(), b));
  CHECK(comm_of(a) == "after");
  if (root) {
    CHECK(a.fsuid == 1234);
    CHECK(a.fsgid == 4321);
  }
  CHECK(a.tgid == b.tgid);
  CHECK(a.fsuid == b.fsuid);
  CHECK(a.fsgid == b.fsgid);
  CHECK(comm_of(a) == comm_of(b));
  CHECK(cached.cached_threads() == 1);
  puppet.run([] {
    ::setfsuid(::geteuid());
    ::setfsgid(::getegid());
  });
}

TEST_CASE("comm and exe are read only when asked, later through the kept handles or by path") {
  Puppet puppet;
  puppet.run([] { ::prctl(PR_SET_NAME, "named", 0, 0, 0); });
  for (auto source : {CallerReader::Source::kPidfdInfo, CallerReader::Source::kProcStatus}) {
    CallerReader reader(source);
    CallerInfo info;
    REQUIRE(reader.read(puppet.tid(), info, CallerReader::Names::kSkip));
    CHECK(info.tgid == ::getpid());
    CHECK_FALSE(info.names_read);
    CHECK(info.comm_length == 0);
    CHECK(info.exe_length == 0);
    reader.read_names(puppet.tid(), info);  // through the kept /proc/TID, or by path
    CHECK(info.names_read);
    CHECK(comm_of(info) == "named");
    char self[4096] = {};
    REQUIRE(::readlink("/proc/self/exe", self, sizeof(self) - 1) > 0);
    CHECK(info.exe_view() == self);
  }
}

TEST_CASE("a thread that has exited reads as gone, from the cache too") {
  CallerReader reader;
  pid_t tid = 0;
  {
    Puppet puppet;
    tid = puppet.tid();
    CallerInfo info;
    REQUIRE(reader.read(tid, info));
    CHECK(reader.pidfd(tid) >= 0);
  }
  // pthread_join returns when the thread clears its tid, a little before the kernel has released
  // it: wait until it has left /proc (bounded), as a caller that the supervisor sees gone has.
  std::string task = "/proc/self/task/" + std::to_string(tid);
  for (int i = 0; i < 5000 && ::access(task.c_str(), F_OK) == 0; ++i) ::usleep(1000);
  CallerInfo info;
  CHECK_FALSE(reader.read(tid, info));
  CHECK(reader.pidfd(tid) < 0);
}

TEST_CASE("the cache of threads stays bounded") {
  CallerReader reader;
  std::vector<std::unique_ptr<Puppet>> puppets;
  for (size_t i = 0; i < CallerReader::kMaxThreads + 8; ++i) {
    puppets.push_back(std::make_unique<Puppet>());
    CallerInfo info;
    CHECK(reader.read(puppets.back()->tid(), info));
  }
  CHECK(reader.cached_threads() <= CallerReader::kMaxThreads);
}

TEST_CASE("the PID namespace is the caller's own: in ours, and in a child namespace") {
  CallerReader cached;
  CallerReader status(CallerReader::Source::kProcStatus);
  Puppet puppet;
  ino_t own = pid_namespace_of(::getpid());
  REQUIRE(own != 0);
  CallerInfo a, b;
  REQUIRE(cached.read(puppet.tid(), a));
  REQUIRE(status.read(puppet.tid(), b));
  CHECK(a.pid_ns == own);
  CHECK(b.pid_ns == own);
  REQUIRE(cached.read(puppet.tid(), a));  // from the cached entry
  CHECK(a.pid_ns == own);

  // A process that is the init of a PID namespace of its own: its entry must not say ours.
  pid_t child = static_cast<pid_t>(::syscall(SYS_clone, CLONE_NEWPID | SIGCHLD, nullptr, nullptr,
                                             nullptr, nullptr));
  if (child < 0 && errno == EPERM) {
    MESSAGE("skipped the child namespace: creating a PID namespace needs CAP_SYS_ADMIN");
    return;
  }
  REQUIRE(child >= 0);
  if (child == 0) {
    for (;;) ::syscall(SYS_pause);  // until the test kills it
  }
  struct Reaper {  // also when a REQUIRE below ends the test early
    pid_t pid;
    ~Reaper() {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
    }
  } reaper{child};
  ino_t theirs = pid_namespace_of(child);
  CHECK(theirs != 0);
  CHECK(theirs != own);
  REQUIRE(cached.read(child, a));
  REQUIRE(status.read(child, b));
  CHECK(a.pid_ns == theirs);
  CHECK(b.pid_ns == theirs);
  REQUIRE(cached.read(child, a));
  CHECK(a.pid_ns == theirs);
}

}  // namespace
}  // namespace warden
