// Unit: NoexecScopes against real PID namespaces. A reader started in a namespace answers with
// that namespace's vm.memfd_noexec, and however many namespaces ask, no more than kMaxReaders
// readers (processes that memfd-warden starts on a target's behalf) stay alive. Needs root
// (CLONE_NEWPID) and Linux 6.3+; says so and checks nothing otherwise.
#include <doctest/doctest.h>
#include <dirent.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <set>
#include <vector>

#include "supervisor/kernel/caller_info.h"
#include "supervisor/kernel/noexec_scope.h"

namespace warden {
namespace {

// The pid (in our namespace) of a new process that is PID 1 of a namespace of its own, with
// vm.memfd_noexec = 1 there; -1 if it could not be made.
pid_t namespace_with_seal_scope() {
  int report[2];
  REQUIRE(::pipe(report) == 0);
  pid_t middle = ::fork();
  REQUIRE(middle >= 0);
  if (middle == 0) {
    if (::unshare(CLONE_NEWPID) != 0) ::_exit(1);
    int ready[2];
    if (::pipe(ready) != 0) ::_exit(2);
    pid_t init = ::fork();
    if (init == 0) {
      int sysctl = ::open("/proc/sys/vm/memfd_noexec", O_WRONLY);
      char ok = sysctl >= 0 && ::write(sysctl, "1", 1) == 1 ? 'y' : 'n';
      (void)::write(ready[1], &ok, 1);
      for (;;) ::pause();
    }
    char ok = 'n';
    if (init < 0 || ::read(ready[0], &ok, 1) != 1 || ok != 'y') ::_exit(3);
    ::_exit(::write(report[1], &init, sizeof(init)) == sizeof(init) ? 0 : 4);
  }
  ::close(report[1]);
  int status = 0;
  ::waitpid(middle, &status, 0);
  pid_t init = -1;
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 ||
      ::read(report[0], &init, sizeof(init)) != sizeof(init)) {
    init = -1;
  }
  ::close(report[0]);
  return init;
}

// The live tasks in any of `namespaces` (a zombie has no namespace links left to read).
std::vector<pid_t> tasks_in(const std::set<ino_t>& namespaces) {
  std::vector<pid_t> found;
  DIR* proc = ::opendir("/proc");
  REQUIRE(proc != nullptr);
  while (dirent* entry = ::readdir(proc)) {
    pid_t pid = static_cast<pid_t>(std::atoi(entry->d_name));
    if (pid > 0 && namespaces.count(pid_namespace_of(pid))) found.push_back(pid);
  }
  ::closedir(proc);
  return found;
}

// Waits (bounded) until `namespaces` hold `expected` live tasks; returns how many they hold.
size_t settle(const std::set<ino_t>& namespaces, size_t expected) {
  size_t alive = 0;
  for (int wait = 0; wait < 300; ++wait) {
    alive = tasks_in(namespaces).size();
    if (alive == expected) break;
    ::usleep(10 * 1000);
  }
  return alive;
}

// Root, to make PID namespaces, and our own vm.memfd_noexec at 0, so a namespace at 1 differs
// from it; says why nothing is checked otherwise.
bool can_check(const NoexecScopes& scopes) {
  if (::geteuid() != 0) {
    MESSAGE("not root: no PID namespaces to make; nothing checked");
    return false;
  }
  auto own = scopes.own_scope();
  if (!own || *own != 0) {
    MESSAGE("vm.memfd_noexec missing (before 6.3) or not 0 here; nothing checked");
    return false;
  }
  return true;
}

}  // namespace

TEST_CASE("vm.memfd_noexec readers: the namespace's own value, and never more than kMaxReaders") {
  NoexecScopes scopes;
  if (!can_check(scopes)) return;
  // Namespaces whose value (1) differs from ours (0): only a reader inside can see it.
  std::vector<pid_t> inits;
  std::vector<ino_t> namespaces;
  for (size_t i = 0; i < NoexecScopes::kMaxReaders + 8; ++i) {
    pid_t init = namespace_with_seal_scope();
    if (init <= 0 && i == 0) {
      MESSAGE("cannot make a PID namespace with vm.memfd_noexec = 1 here; nothing checked");
      return;
    }
    REQUIRE(init > 0);
    inits.push_back(init);
    namespaces.push_back(pid_namespace_of(init));
  }
  auto all = std::set<ino_t>(namespaces.begin(), namespaces.end());
  REQUIRE(all.size() == inits.size());
  auto just = [&](size_t i) { return std::set<ino_t>{namespaces[i]}; };

  for (pid_t init : inits) {
    CAPTURE(init);
    CHECK(scopes.scope_of(init) == 1);
    CHECK(scopes.readers() <= NoexecScopes::kMaxReaders);
  }
  CHECK(scopes.readers() == NoexecScopes::kMaxReaders);
  // The readers asked least recently were ended: the first 8 namespaces hold their init alone,
  // the rest their init and a reader.
  CHECK(settle(all, inits.size() + NoexecScopes::kMaxReaders) ==
        inits.size() + NoexecScopes::kMaxReaders);
  for (size_t i = 0; i < inits.size(); ++i) {
    CAPTURE(i);
    CHECK(tasks_in(just(i)).size() == (i < 8 ? 1u : 2u));
  }
  // The reader asked least recently now (namespace 8's) is stopped by its target: asking the
  // first namespace again starts a new reader there and ends that one, stopped or not.
  pid_t stopped = -1;
  for (pid_t pid : tasks_in(just(8))) {
    if (pid != inits[8]) stopped = pid;
  }
  REQUIRE(stopped > 0);
  REQUIRE(::kill(stopped, SIGSTOP) == 0);
  CHECK(scopes.scope_of(inits.front()) == 1);
  CHECK(settle(just(8), 1) == 1);
  CHECK(settle(just(0), 2) == 2);
  for (pid_t init : inits) ::kill(init, SIGKILL);  // each takes its namespace, reader and all
}

TEST_CASE("vm.memfd_noexec readers: none is started for a thread no longer in the namespace asked about") {
  // As when the caller's number was taken over by a thread of another namespace between reading
  // the caller's namespace and starting its reader: a reader there would answer for the wrong one.
  NoexecScopes scopes;
  if (!can_check(scopes)) return;
  pid_t asked = namespace_with_seal_scope();
  pid_t other = namespace_with_seal_scope();
  if (asked <= 0 || other <= 0) {
    MESSAGE("cannot make a PID namespace with vm.memfd_noexec = 1 here; nothing checked");
    if (asked > 0) ::kill(asked, SIGKILL);
    return;
  }
  ino_t asked_ns = pid_namespace_of(asked);
  ino_t other_ns = pid_namespace_of(other);
  REQUIRE(asked_ns != other_ns);
  // `other` stands for the thread now holding the caller's number: the strictest answer, and no
  // reader in either namespace.
  CHECK(scopes.scope_of(other, asked_ns) == 2);
  CHECK(scopes.readers() == 0);
  CHECK(settle({asked_ns, other_ns}, 2) == 2);
  // The control: asked about its own namespace, the same thread gets a reader and its answer.
  CHECK(scopes.scope_of(other, other_ns) == 1);
  CHECK(scopes.readers() == 1);
  CHECK(settle({other_ns}, 2) == 2);
  ::kill(asked, SIGKILL);
  ::kill(other, SIGKILL);
}

}  // namespace warden
