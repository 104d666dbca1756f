// Live: fileless execution (MITRE ATT&CK T1620) under the embedded default policy: admitted
// memfds are sealed against execution, MFD_EXEC is refused, and running a program from a memfd
// is refused with EACCES and audited, by every route; rules can make exceptions by name and
// caller. Each case has a control run without memfd-warden, where the same program does run.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/live/harness.h"

namespace warden::test {
namespace {

constexpr int kSealSeal = 0x1;
constexpr int kSealExec = 0x20;

}  // namespace

TEST_CASE("by default an admitted memfd is sealed against execution and closed to new seals") {
  auto run = run_warden({}, {probe_bin(), "create", "plain", "0"});
  REQUIRE(run.exit_code == 0);
  CHECK(run.fact_number("seals") == (kSealSeal | kSealExec));
  CHECK(run.fact("mode") == "100666");  // the exec seal clears the execute bits
  CHECK(run.decisions.at(0)["noexec_seal"] == true);
  auto sealable = run_warden({}, {probe_bin(), "create", "sealable", "2"});
  CHECK(sealable.fact_number("seals") == kSealExec);  // asked for sealing: may add more
  CHECK(run_native({probe_bin(), "create", "plain", "0"}).fact_number("seals") == kSealSeal);
}

TEST_CASE("running a program from a memfd is refused with EACCES by every route, and audited") {
  for (const char* how : {"fexecve", "execveat", "proc", "devfd"}) {
    CAPTURE(how);
    auto control = run_native({probe_bin(), "exec-memfd", "payload", how});
    REQUIRE(control.exit_code == 0);  // /bin/true ran from memory
    auto run = run_warden({}, {probe_bin(), "exec-memfd", "payload", how});
    CHECK(run.exit_code == EACCES);
    const Json* exec = find_record(
        run,
        std::string(how) == "execveat" || std::string(how) == "fexecve" ? "execveat" : "execve");
    REQUIRE(exec != nullptr);
    CHECK((*exec)["decision"] == "deny");
    CHECK((*exec)["errno"] == "EACCES");
    CHECK((*exec)["technique"] == "T1620");
    CHECK((*exec)["reason"] == "fileless-exec");
    CHECK((*exec)["name"] == "payload");
    // Run by fd, the record names the fd: the one its create record gave the caller.
    const Json* create = find_record(run, "memfd_create");
    REQUIRE(create != nullptr);
    REQUIRE((*create)["fd"].is_number());
    bool by_fd = std::string(how) == "execveat" || std::string(how) == "fexecve";
    CHECK((*exec)["fd"] == (by_fd ? (*create)["fd"] : Json(nullptr)));
  }
  // A path memfd-warden does not recognise (a symlink into /proc): the exec seal still holds.
  CHECK(run_native({probe_bin(), "exec-memfd", "payload", "symlink"}).exit_code == 0);
  CHECK(run_warden({}, {probe_bin(), "exec-memfd", "payload", "symlink"}).exit_code == EACCES);
}

// Memory that is not a memfd: an O_TMPFILE file in /dev/shm (or the directory given), and a file
// there unlinked while open. Each is run through /proc/self/fd/N. A named /dev/shm file is a file
// like any other.
constexpr const char* kShmExec = R"(import os, sys
how = sys.argv[1]
where = sys.argv[2] if len(sys.argv) > 2 else "/dev/shm"
path = where + "/memfd-warden-test-" + os.urandom(8).hex()
if how == "tmpfile":
    fd = os.open(where, os.O_TMPFILE | os.O_RDWR, 0o700)
else:
    fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_RDWR, 0o700)
os.write(fd, open("/bin/true", "rb").read())
readable = os.open(f"/proc/self/fd/{fd}", os.O_RDONLY)
os.close(fd)  # a file open for writing cannot be run (ETXTBSY)
if how == "unlinked":
    os.unlink(path)
if how == "named":  # run in a child, so that the file can be removed after
    child = os.fork()
    if child == 0:
        try:
            os.execv(path, ["from-disk"])
        except OSError as e:
            os._exit(e.errno)
    _, status = os.waitpid(child, 0)
    os.unlink(path)
    sys.exit(os.waitstatus_to_exitcode(status))
try:
    os.execv(f"/proc/self/fd/{readable}", ["from-memory"])
except OSError as e:
    sys.exit(e.errno)
)";

TEST_CASE("a program in an unlinked tmpfs file or an O_TMPFILE does not run, a named one does") {
  TempDir dir;
  std::string script = dir.write("shm_exec.py", kShmExec);
  for (const char* how : {"tmpfile", "unlinked"}) {
    CAPTURE(how);
    CHECK(run_native({"python3", script, how}).exit_code == 0);  // control
    auto run = run_warden({}, {"python3", script, how});
    CHECK(run.exit_code == EACCES);
    bool audited = false;
    for (const auto& decision : run.decisions) {
      if (decision["technique"] == "T1620" && decision["file"] == "unlinked-shmem") audited = true;
    }
    CHECK(audited);
  }
  auto named = run_warden({}, {"python3", script, "named"});
  CHECK(named.exit_code == 0);
}

TEST_CASE("a program in an unlinked ramfs file does not run either") {
  // ramfs is memory too, and any user namespace may mount one. Mounted here in a mount namespace
  // of the run's own.
  TempDir dir;
  std::string script = dir.write("shm_exec.py", kShmExec);
  std::string mount_point = dir.file("ramfs");
  std::filesystem::create_directory(mount_point);
  Args in_ramfs{"unshare",  "-m", "sh", "-c", "mount -t ramfs none \"$0\" && exec \"$@\"",
                mount_point};
  Args native = in_ramfs;
  native.insert(native.end(), {"python3", script, "unlinked", mount_point});
  CHECK(run_native(native).exit_code == 0);  // control: it runs
  Args supervised = in_ramfs;
  supervised.push_back(warden_bin());
  supervised.push_back("run");
  if (!backend().empty()) supervised.insert(supervised.end(), {"--backend", backend()});
  supervised.insert(supervised.end(), {"--", "python3", script, "unlinked", mount_point});
  auto run = run_native(supervised);
  CHECK(run.exit_code == EACCES);
  CHECK(run.err.find("\"file\":\"unlinked-shmem\"") != std::string::npos);  // the audit, on stderr
}

TEST_CASE("the fileless_exec sample: MFD_EXEC refused, the fallback memfd cannot run") {
  CHECK(run_native({sample_bin("fileless_exec")}).exit_code == 0);
  auto run = run_warden({}, {sample_bin("fileless_exec")});
  CHECK(run.exit_code == EACCES);
  CHECK(run.err.find("fexecve refused: Permission denied") != std::string::npos);
  CHECK(run.count("deny") == 2);  // MFD_EXEC, then the exec
}

TEST_CASE("rules make exceptions for legitimate users, by name and by caller") {
  TempDir dir;
  auto by_name = dir.write("name.toml",
                           "version = 1\n[[rule]]\nid = \"jit\"\nname = \"jit-*\"\n"
                           "action = \"allow\"\nexec = \"allow\"\n");
  auto jit = run_warden({"--policy", by_name}, {probe_bin(), "exec-memfd", "jit-code", "fexecve"});
  CHECK(jit.exit_code == 0);
  const Json* exec = find_record(jit, "execveat");
  REQUIRE(exec != nullptr);
  CHECK((*exec)["decision"] == "allow");
  CHECK((*exec)["technique"] == "T1620");  // allowed, and still on record
  CHECK((*exec)["rule"]["id"] == "jit");
  CHECK(run_warden({"--policy", by_name}, {probe_bin(), "exec-memfd", "other", "fexecve"})
            .exit_code == EACCES);

  auto by_exe = dir.write("exe.toml",
                          "version = 1\n[[rule]]\nexe = \"*/warden_probe\"\naction = \"allow\"\n"
                          "exec = \"allow\"\n");
  CHECK(run_warden({"--policy", by_exe}, {probe_bin(), "exec-memfd", "x", "proc"}).exit_code == 0);
  // The MFD_EXEC flag is allowed where exec is.
  CHECK(run_warden({"--policy", by_exe}, {probe_bin(), "create", "x", "0x10"}).exit_code == 0);
}

TEST_CASE("a memfd passed in from outside the tree cannot run either") {
  int outside = ::memfd_create("from-outside", 0);  // inherited: no CLOEXEC, no exec seal
  REQUIRE(outside >= 0);
  int source = ::open("/bin/true", O_RDONLY | O_CLOEXEC);
  struct stat st {};
  REQUIRE(::fstat(source, &st) == 0);
  REQUIRE(::sendfile(outside, source, nullptr, static_cast<size_t>(st.st_size)) == st.st_size);
  ::close(source);
  std::string fd = std::to_string(outside);
  CHECK(run_native({probe_bin(), "exec-fd", fd, "proc"}).exit_code == 0);
  auto run = run_warden({}, {probe_bin(), "exec-fd", fd, "proc"});
  ::close(outside);
  CHECK(run.exit_code == EACCES);
  CHECK(find_record(run, "execve") != nullptr);
}

TEST_CASE("dry-run records would-deny for a fileless exec and lets it run") {
  auto run = run_warden({"--dry-run"}, {probe_bin(), "exec-memfd", "payload", "fexecve"});
  CHECK(run.exit_code == 0);
  const Json* exec = find_record(run, "execveat");
  REQUIRE(exec != nullptr);
  CHECK((*exec)["decision"] == "would-deny");
}

TEST_CASE("io_uring is refused with ENOSYS by default, and allowed on request") {
  auto native = run_native({probe_bin(), "io_uring"});
  auto run = run_warden({}, {probe_bin(), "io_uring"});
  CHECK(run.exit_code == ENOSYS);
  const Json* setup = find_record(run, "io_uring_setup");
  REQUIRE(setup != nullptr);
  CHECK((*setup)["decision"] == "deny");
  CHECK((*setup)["reason"] == "io_uring");
  TempDir dir;
  auto allow = dir.write("p.toml", "version = 1\nio_uring = \"allow\"\n");
  CHECK(run_warden({"--policy", allow}, {probe_bin(), "io_uring"}).exit_code == native.exit_code);
}

TEST_CASE("other anonymous-memory routes are out of scope today: /dev/shm and O_TMPFILE") {
  // Documented in docs/hardening.md: these are files in a tmpfs, not memfds; memfd-warden
  // neither decides nor counts them. This test pins today's behaviour.
  auto run = run_warden({"--max-bytes", "64K"}, {probe_bin(), "shm-route"});
  CHECK(run.exit_code == 0);
  CHECK(run.fact("shm") == "1");  // 1 MiB in /dev/shm despite a 64 KiB memfd quota
  CHECK(run.decisions.empty());
}

}  // namespace warden::test
