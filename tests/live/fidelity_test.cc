// Live: the fidelity suite. A program must not be able to tell that memfd-warden made its memfd,
// except where the policy says so on purpose. Each case runs the same probe natively and under
// memfd-warden, with a policy that allows exec (where nothing may differ) and with the embedded
// default (where only the differences listed in docs/fidelity.md may show), and compares every
// fact the probe reports.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <string>

#include "tests/live/harness.h"

namespace warden::test {
namespace {

constexpr unsigned kCloexec = 0x1, kAllowSealing = 0x2, kHugetlb = 0x4, kNoexecSeal = 0x8,
                   kExec = 0x10;
constexpr long kSealSeal = 0x1, kSealExec = 0x20;

const char* const kFacts[] = {"fd",   "link",        "seals",          "cloexec",    "mode",
                              "uid",  "gid",         "size",           "accmode",    "rw",
                              "mmap", "fork_shared", "add_write_seal", "seals_after"};

std::string exec_allowed(const TempDir& dir) {
  return dir.write("exec-allowed.toml", "version = 1\nexec = \"allow\"\n");
}

std::string hex(unsigned flags) {
  char text[16];
  std::snprintf(text, sizeof(text), "0x%x", flags);
  return text;
}

// What the embedded default changes on purpose (docs/fidelity.md): the memfd carries the exec
// seal, so its mode has no execute bits and its seals gain F_SEAL_EXEC; nothing else.
std::map<std::string, std::string> expected_under_default(const RunResult& native) {
  std::map<std::string, std::string> out = native.facts;
  long mode = std::strtol(native.fact("mode").c_str(), nullptr, 8);
  char text[16];
  std::snprintf(text, sizeof(text), "%lo", mode & ~0111L);
  out["mode"] = text;
  for (const char* seals : {"seals", "seals_after", "first_seals"}) {
    if (!out.count(seals)) continue;
    long value = std::atol(native.fact(seals).c_str());
    if (value >= 0) out[seals] = std::to_string(value | kSealExec);
  }
  if (out.count("first_mode")) {
    std::snprintf(text, sizeof(text), "%lo",
                  std::strtol(native.fact("first_mode").c_str(), nullptr, 8) & ~0111L);
    out["first_mode"] = text;
  }
  return out;
}

}  // namespace

TEST_CASE("every flag combination the kernel takes or refuses: same answer, same memfd") {
  TempDir dir;
  auto policy = exec_allowed(dir);
  std::vector<unsigned> flags;
  for (unsigned f = 0; f < 0x20; ++f) flags.push_back(f);  // every combination of the five bits
  for (unsigned odd : {0x20u, 0x40u, 0x100u, 0x80000000u, 21u << 26, kHugetlb | (21u << 26),
                       kHugetlb | (30u << 26), kHugetlb | (63u << 26)}) {
    flags.push_back(odd);  // unknown bits; a page size without MFD_HUGETLB; page sizes
  }
  for (unsigned f : flags) {
    CAPTURE(hex(f));
    auto native = run_native({probe_bin(), "create", "fidelity", hex(f)});
    auto allowed = run_warden({"--policy", policy}, {probe_bin(), "create", "fidelity", hex(f)});
    CHECK(allowed.exit_code == native.exit_code);
    for (const char* fact : kFacts) {
      CAPTURE(fact);
      CHECK(allowed.fact(fact) == native.fact(fact));
    }
    // The embedded default: MFD_EXEC is refused (EACCES) where the kernel takes it; everything
    // else as natively, but for the exec seal.
    auto by_default = run_warden({}, {probe_bin(), "create", "fidelity", hex(f)});
    bool exec_asked = (f & kExec) && native.exit_code == 0;
    if (exec_asked) {
      CHECK(by_default.exit_code == EACCES);
      continue;
    }
    CHECK(by_default.exit_code == native.exit_code);
    if (native.exit_code != 0) continue;
    auto expected = expected_under_default(native);
    for (const char* fact : kFacts) {
      CAPTURE(fact);
      CHECK(by_default.fact(fact) == expected[fact]);
    }
  }
}

TEST_CASE("seals before and after F_ADD_SEALS: sealable exactly when the kernel makes it so") {
  // MFD_NOEXEC_SEAL without MFD_ALLOW_SEALING stays sealable natively (it implies it); so must
  // our memfd, under the default policy too (which adds the exec seal to every memfd).
  for (unsigned f :
       {0u, kAllowSealing, kNoexecSeal, kNoexecSeal | kCloexec, kHugetlb, kHugetlb | kNoexecSeal}) {
    CAPTURE(hex(f));
    auto native = run_native({probe_bin(), "create", "seals", hex(f)});
    auto by_default = run_warden({}, {probe_bin(), "create", "seals", hex(f)});
    REQUIRE(by_default.exit_code == native.exit_code);
    if (native.exit_code != 0) continue;  // hugetlb without huge pages here
    CHECK(by_default.fact("add_write_seal") == native.fact("add_write_seal"));
    bool sealable = native.fact("add_write_seal") == "0";
    CHECK(sealable == ((f & (kAllowSealing | kNoexecSeal)) != 0));
    CHECK((by_default.fact_number("seals") & kSealSeal) ==
          (native.fact_number("seals") & kSealSeal));
  }
}

TEST_CASE("names at the limit and past it, and bad pointers, answer as the kernel does") {
  TempDir dir;
  auto policy = exec_allowed(dir);
  for (const std::string& name : {std::string(249, 'n'), std::string(1, 'x'), std::string("")}) {
    CAPTURE(name.size());
    auto native = run_native({probe_bin(), "create", name, "0"});
    auto warded = run_warden({"--policy", policy}, {probe_bin(), "create", name, "0"});
    CHECK(warded.exit_code == native.exit_code);
    CHECK(warded.fact("link") == native.fact("link"));
  }
  for (const char* kind : {"null", "wild", "edge", "edge-ok", "long", "max"}) {
    CAPTURE(kind);
    auto native = run_native({probe_bin(), "bad-pointer", kind, "0"});
    auto warded = run_warden({"--policy", policy}, {probe_bin(), "bad-pointer", kind, "0"});
    CHECK(warded.exit_code == native.exit_code);
  }
}

TEST_CASE("fd numbering, CLOEXEC across exec, and memfd_secret, as natively") {
  auto native = run_native({probe_bin(), "lowest-free", "hole"});
  auto warded = run_warden({}, {probe_bin(), "lowest-free", "hole"});
  REQUIRE(native.exit_code == 0);
  CHECK(native.fact("fd") == native.fact("hole"));
  CHECK(warded.fact("fd") == native.fact("fd"));

  for (const char* flags : {"0", "1"}) {
    CAPTURE(flags);
    auto across = run_native({probe_bin(), "across-exec", "kept", flags});
    auto warded_across = run_warden({}, {probe_bin(), "across-exec", "kept", flags});
    CHECK(across.fact("open") == (std::string(flags) == "1" ? "0" : "1"));
    CHECK(warded_across.fact("open") == across.fact("open"));
  }

  for (const char* flags : {"0", "0x80000" /* O_CLOEXEC */, "0x1"}) {
    CAPTURE(flags);
    auto secret = run_native({probe_bin(), "secret", flags});
    auto warded_secret = run_warden({}, {probe_bin(), "secret", flags});
    CHECK(warded_secret.exit_code == secret.exit_code);
    for (const char* fact : {"link", "seals", "cloexec", "mode", "uid", "accmode", "mmap"}) {
      CAPTURE(fact);
      CHECK(warded_secret.fact(fact) == secret.fact(fact));
    }
  }
}

namespace {

// A few 2 MiB huge pages for one test, given back after. Tests of both backends may run at once:
// an exclusive lock keeps their reads and writes of nr_hugepages from interleaving.
class HugePageReservation {
 public:
  explicit HugePageReservation(long pages) {
    lock_ = ::open("/tmp/memfd-warden-test-hugepages.lock", O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (lock_ < 0 || ::flock(lock_, LOCK_EX) != 0) {
      problem_ = "cannot take the huge page lock";
      return;
    }
    std::ifstream in(kPath);
    if (!(in >> original_)) {
      problem_ = std::string("cannot read ") + kPath + " (no hugetlb support)";
      return;
    }
    std::ofstream(kPath) << original_ + pages << std::endl;
    changed_ = true;
    if (free_pages() < pages)
      problem_ = "the kernel could not reserve " + std::to_string(pages) + " huge pages";
  }
  ~HugePageReservation() {
    if (changed_) std::ofstream(kPath) << original_ << std::endl;
    if (lock_ >= 0) ::close(lock_);
  }
  const std::string& problem() const { return problem_; }

 private:
  static constexpr const char* kPath = "/proc/sys/vm/nr_hugepages";
  static long free_pages() {
    std::ifstream meminfo("/proc/meminfo");
    std::string key;
    long value = 0;
    while (meminfo >> key >> value) {
      if (key == "HugePages_Free:") return value;
      meminfo.ignore(64, '\n');
    }
    return 0;
  }
  int lock_ = -1;
  long original_ = 0;
  bool changed_ = false;
  std::string problem_;
};

}  // namespace

TEST_CASE(
    "vm.memfd_noexec of the caller's PID namespace: 0, 1 and 2, nested, changed while it runs") {
  // Namespaces made as an unprivileged container runtime makes them (a user namespace with each),
  // so the target can set the sysctl with the capabilities memfd-warden leaves it.
  std::vector<Args> scenarios;
  for (const char* value : {"0", "1", "2"}) {
    scenarios.push_back({"in-pidns", value});
    scenarios.push_back({"in-pidns", value, "in-pidns", "-"});  // inherited by a child namespace
    // The caller in a user namespace below the one that owns its PID namespace.
    scenarios.push_back({"in-pidns", value, "in-userns"});
  }
  scenarios.push_back({"in-pidns", "1", "in-pidns", "0"});  // not below the parent: EINVAL, stays 1
  scenarios.push_back({"in-pidns", "0", "in-pidns", "2"});
  scenarios.push_back({"in-pidns", "2", "in-pidns", "1"});
  TempDir dir;
  std::string allow_exec = exec_allowed(dir);
  size_t compared = 0;
  for (unsigned f : {0u, kExec, kNoexecSeal, kAllowSealing, kCloexec | kAllowSealing}) {
    std::vector<Args> commands;
    for (const auto& scenario : scenarios) {
      Args command = scenario;
      for (const auto& word : Args{"create", "ns", hex(f)}) command.push_back(word);
      commands.push_back(command);
    }
    for (const char* value : {"1", "2"}) {  // a value raised between two calls
      commands.push_back({"in-pidns", "0", "flip", value, "ns", hex(f)});
    }
    for (auto command : commands) {
      command.insert(command.begin(), probe_bin());
      std::string shown;
      for (const auto& word : command) shown += word + " ";
      CAPTURE(shown);
      auto native = run_native(command);
      REQUIRE(native.fact("write_level1") == "0");  // the namespace is there, and was set
      auto allowed = run_warden({"--policy", allow_exec}, command);
      CHECK(allowed.exit_code == native.exit_code);
      CHECK(allowed.facts == native.facts);  // every fact, the sysctl writes' results included
      auto by_default = run_warden({}, command);
      if (f & kExec) {
        CHECK(by_default.exit_code == EACCES);  // the policy's, whatever the namespace says
        continue;
      }
      CHECK(by_default.exit_code == native.exit_code);
      CHECK(by_default.facts == expected_under_default(native));
      ++compared;
    }
  }
  CHECK(compared == 4 * 14);
}

TEST_CASE("a target that stops or kills the namespace's reader still gets its namespace's answer") {
  TempDir dir;
  std::string allow_exec = exec_allowed(dir);
  for (const char* sig : {"STOP", "KILL"}) {
    for (const char* value : {"0", "1", "2"}) {
      CAPTURE(sig);
      CAPTURE(value);
      Args command{probe_bin(), "in-pidns", value, "hit-reader", sig, "hit", "0"};
      auto native = run_native(command);
      REQUIRE(native.fact("write_level1") == "0");
      auto allowed = run_warden({"--policy", allow_exec}, command);
      CHECK(allowed.exit_code == native.exit_code);
      CHECK(allowed.facts == native.facts);
      if (backend() == "unotify") {
        // There was one to hit (the ptrace backend needs none: the caller's own call decides).
        CHECK(allowed.err.find("readers_hit=1") != std::string::npos);
      }
    }
  }
}

TEST_CASE(
    "a target that stops every reader, replacements too, gets the strictest vm.memfd_noexec") {
  // Its namespace says 0. Each reader is stopped as it appears; memfd-warden waits 500 ms for
  // it, replaces it once, and takes 2 when the replacement does not answer either. Stopping a
  // reader before it answers is a race the target can lose on a busy machine (then the reader's
  // answer, 0, counts): each outcome is checked against what memfd-warden said it did, and the
  // run is tried again until the target has won once.
  TempDir dir;
  std::string allow_exec = exec_allowed(dir);
  for (unsigned f : {0u, kExec}) {
    CAPTURE(f);
    auto lenient = run_native({probe_bin(), "in-pidns", "0", "create", "stopped", hex(f)});
    auto strictest = run_native({probe_bin(), "in-pidns", "2", "create", "stopped", hex(f)});
    REQUIRE(lenient.fact("write_level1") == "0");
    REQUIRE(strictest.fact("write_level1") == "0");
    REQUIRE(lenient.facts != strictest.facts);  // the two values make different memfds
    Args command{probe_bin(), "in-pidns", "0", "stop-readers", "stopped", hex(f)};
    if (backend() != "unotify") {
      // The ptrace backend asks no reader: the caller's own call decides, as natively.
      auto run = run_warden({"--policy", allow_exec}, command);
      CHECK(run.err.find("readers_stopped=0") != std::string::npos);
      CHECK(run.exit_code == lenient.exit_code);
      CHECK(run.facts == lenient.facts);
      continue;
    }
    bool won = false;
    for (int attempt = 0; attempt < 5 && !won; ++attempt) {
      CAPTURE(attempt);
      auto run = run_warden({"--policy", allow_exec}, command);
      CAPTURE(run.out);
      CAPTURE(run.err);
      won = run.err.find("taking the strictest value, 2") != std::string::npos;
      const RunResult& expected = won ? strictest : lenient;
      CHECK(run.exit_code == expected.exit_code);
      CHECK(run.facts == expected.facts);
      if (won) CHECK(run.err.find("readers_stopped=2") != std::string::npos);
    }
    if (!won) MESSAGE("every reader answered before it was stopped, in 5 runs: nothing to check");
  }
}

TEST_CASE(
    "vm.memfd_noexec of the tree's own namespace, written by a root target that kept its "
    "capabilities") {
  // Natively: a PID namespace of its own (unshare), so the host's value is left alone.
  TempDir dir;
  std::string allow_exec = exec_allowed(dir);
  for (const char* value : {"1", "2"}) {
    for (unsigned f : {0u, kExec, kAllowSealing}) {
      CAPTURE(value);
      CAPTURE(f);
      Args command{probe_bin(), "flip", value, "tree", hex(f)};
      Args unshared{"unshare", "--pid", "--fork"};
      unshared.insert(unshared.end(), command.begin(), command.end());
      auto native = run_native(unshared);
      REQUIRE(native.fact("flip_write") == "0");
      auto allowed = run_warden({"--policy", allow_exec, "--keep-caps"}, command);
      CHECK(allowed.exit_code == native.exit_code);
      CHECK(allowed.facts == native.facts);
    }
  }
}

TEST_CASE("a memfd made for another uid is owned as natively") {
  Args command{probe_bin(), "create", "owned", "0"};
  Args as_nobody{"setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"};
  as_nobody.insert(as_nobody.end(), command.begin(), command.end());
  auto native = run_native(as_nobody);
  REQUIRE(native.exit_code == 0);
  REQUIRE(native.fact("uid") == "65534");
  TempDir dir;
  auto allowed = run_warden({"--policy", exec_allowed(dir), "--user", "65534:65534"}, command);
  CHECK(allowed.exit_code == 0);
  for (const char* fact : kFacts) {
    CAPTURE(fact);
    CHECK(allowed.fact(fact) == native.fact(fact));
  }
}

TEST_CASE("a hugetlb memfd cannot be executed or mapped for code under the default policy") {
  // F_SEAL_EXEC does not stop fchmod 0755 on hugetlbfs: here the exec checks stand alone.
  HugePageReservation pages(4);
  if (!pages.problem().empty()) {
    MESSAGE("skipped: " << pages.problem());
    return;
  }
  TempDir dir;
  std::string allow_exec = exec_allowed(dir);
  for (const char* how : {"fexecve", "execveat", "proc", "mmap"}) {
    CAPTURE(how);
    // Natively the kernel takes the exec (the loader then cannot map hugetlbfs at 4 KiB offsets
    // and the new image dies of SIGSEGV), and the code mapping.
    int native_result = std::string(how) == "mmap" ? 0 : 128 + SIGSEGV;
    auto native = run_native({probe_bin(), "exec-huge", how});
    REQUIRE(native.exit_code == native_result);
    CHECK(native.fact("fchmod") == "0");
    auto allowed = run_warden({"--policy", allow_exec}, {probe_bin(), "exec-huge", how});
    CHECK(allowed.exit_code == native_result);
    auto guarded = run_warden({}, {probe_bin(), "exec-huge", how});
    CHECK(guarded.fact("fchmod") == "0");  // the mode changes, as natively...
    CHECK(guarded.exit_code == EACCES);    // ...and the exec or mapping is refused all the same
    REQUIRE(guarded.decisions.size() == 2);
    CHECK(guarded.decisions[0]["flags"]["raw"] == 4);  // MFD_HUGETLB, made by memfd-warden
    CHECK(guarded.decisions[1]["decision"] == "deny");
    CHECK(guarded.decisions[1]["reason"] == "fileless-exec");
  }
}

}  // namespace warden::test
