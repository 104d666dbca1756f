// Unit: acting as a caller (CallerCredsScope) leaves memfd-warden's thread as it found it: ids,
// groups and capabilities, whatever the caller holds. Needs root (skipped otherwise).
#include "supervisor/kernel/caller_creds.h"

#include <doctest/doctest.h>
#include <grp.h>
#include <linux/capability.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <vector>

namespace warden {
namespace {

std::vector<gid_t> own_groups() {
  std::vector<gid_t> groups(static_cast<size_t>(::getgroups(0, nullptr)));
  groups.resize(static_cast<size_t>(::getgroups(static_cast<int>(groups.size()), groups.data())));
  return groups;
}

uint64_t own_effective_caps() {
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2] = {};
  ::syscall(SYS_capget, &header, data);
  return data[0].effective | (uint64_t{data[1].effective} << 32);
}

// A child that sets itself up with `setup`, then waits to be acted for; killed and reaped when
// this goes.
class Caller {
 public:
  template <typename Setup>
  explicit Caller(Setup setup) {
    int ready[2];
    REQUIRE(::pipe(ready) == 0);
    pid_ = ::fork();
    if (pid_ == 0) {
      (void)!::write(ready[1], setup() ? "y" : "n", 1);
      ::pause();
      _exit(0);
    }
    char said = 0;
    ok_ = ::read(ready[0], &said, 1) == 1 && said == 'y';
    ::close(ready[0]);
    ::close(ready[1]);
  }
  ~Caller() {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
  Caller(const Caller&) = delete;
  Caller& operator=(const Caller&) = delete;
  pid_t pid() const { return pid_; }
  bool ok() const { return ok_; }

 private:
  pid_t pid_ = -1;
  bool ok_ = false;
};

}  // namespace

TEST_CASE(
    "acting as a root caller without CAP_SETGID in effect gives memfd-warden its groups back") {
  if (::geteuid() != 0) {
    MESSAGE("skipped: needs root");
    return;
  }
  // Groups of its own, then CAP_SETGID out of its effective set (review: the scope's way back
  // set memfd-warden's groups with the caller's capabilities, and kept the caller's).
  Caller caller([] {
    gid_t mine = 4242;
    __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
    __user_cap_data_struct data[2] = {};
    bool ok = ::setgroups(1, &mine) == 0 && ::syscall(SYS_capget, &header, data) == 0;
    data[0].effective &= ~(1u << CAP_SETGID);
    return ok && ::syscall(SYS_capset, &header, data) == 0;
  });
  REQUIRE(caller.ok());
  std::vector<gid_t> groups = own_groups();
  uint64_t caps = own_effective_caps();
  {
    CallerCredsScope as_caller(caller.pid());
    CHECK(as_caller.ok());
    CHECK(own_groups() == std::vector<gid_t>{4242});
    CHECK((own_effective_caps() & (uint64_t{1} << CAP_SETGID)) == 0);
  }
  CHECK(own_groups() == groups);
  CHECK(own_effective_caps() == caps);
  CHECK(::geteuid() == 0);
  CHECK(::getegid() == 0);
}

TEST_CASE("acting as nobody takes its effective ids and gives them back") {
  if (::geteuid() != 0) {
    MESSAGE("skipped: needs root");
    return;
  }
  Caller caller([] {
    return ::setgroups(0, nullptr) == 0 && ::setresgid(65534, 65534, 65534) == 0 &&
           ::setresuid(65534, 65534, 65534) == 0;
  });
  REQUIRE(caller.ok());
  uint64_t caps = own_effective_caps();
  {
    CallerCredsScope as_caller(caller.pid());
    CHECK(as_caller.ok());
    CHECK(::geteuid() == 65534);
    CHECK(::getegid() == 65534);
    CHECK(own_effective_caps() == 0);
    CHECK_FALSE(as_caller.root_in_effect_only());
    uid_t real = 1, effective = 1, saved = 1;
    ::getresuid(&real, &effective, &saved);
    CHECK(real == 0);  // the target cannot signal this thread meanwhile
    CHECK(saved == 0);
  }
  CHECK(::geteuid() == 0);
  CHECK(::getegid() == 0);
  CHECK(own_effective_caps() == caps);
}

}  // namespace warden
