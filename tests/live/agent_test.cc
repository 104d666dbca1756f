// Live: `memfd-warden agent` serving real runc containers. Each test builds an OCI bundle from
// busybox-static and a statically linked probe, with a seccomp profile that routes memfd_create
// to the agent's socket, and runs it with runc. The agent does not depend on the backend, so
// these run in the unotify suite only; they skip with the reason where runc cannot run.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <fstream>
#include <thread>
#include <vector>

#include "tests/live/harness.h"

extern char** environ;

namespace warden::test {
namespace {

namespace fs = std::filesystem;

// Why containers cannot run here, or empty.
std::string container_problem() {
  static const std::string problem = [] {
    if (backend() == "ptrace") return std::string("the agent is the same under both suites");
    if (::geteuid() != 0) return std::string("runc needs root");
    if (!fs::exists("/usr/sbin/runc") && !fs::exists("/usr/bin/runc")) {
      return std::string("runc is not installed");
    }
    if (!fs::exists("/bin/busybox")) return std::string("busybox-static is not installed");
    return std::string();
  }();
  return problem;
}

#define SKIP_WITHOUT_CONTAINERS()                \
  if (!container_problem().empty()) {            \
    MESSAGE("skipped: " << container_problem()); \
    return;                                      \
  }

// SKIP_WITHOUT_CONTAINERS, and crun installed as well.
#define SKIP_WITHOUT_CRUN()                    \
  SKIP_WITHOUT_CONTAINERS();                   \
  if (!fs::exists("/usr/bin/crun")) {          \
    MESSAGE("skipped: crun is not installed"); \
    return;                                    \
  }

// A running agent on DIR/agent.sock, with DIR/policies/NAME.toml; stopped by the destructor.
// Something listens on the unix socket at `path` (the connection is closed at once).
bool connects(const std::string& path) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::strncpy(address.sun_path, path.c_str(), sizeof(address.sun_path) - 1);
  bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0;
  ::close(fd);
  return ok;
}

class Agent {
 public:
  // `launcher`: what starts memfd-warden, e.g. systemd-socket-activate; nothing by default.
  Agent(const TempDir& dir, const Args& extra = {}, const Args& launcher = {})
      : socket_(dir.file("agent.sock")) {
    audit_ = dir.file("agent-audit.jsonl");
    log_ = dir.file("agent.log");
    Args args = launcher;
    for (const auto& arg : Args{warden_bin(), "agent", "--socket", socket_, "--audit", audit_,
                                "--log-level", "info"}) {
      args.push_back(arg);
    }
    args.insert(args.end(), extra.begin(), extra.end());
    std::vector<char*> argv;
    for (auto& arg : args) argv.push_back(arg.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 2, log_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    REQUIRE(posix_spawnp(&pid_, argv[0], &actions, nullptr, argv.data(), environ) == 0);
    posix_spawn_file_actions_destroy(&actions);
    // Ready once it accepts a connection (a stale socket file may be there before it is).
    for (int i = 0; i < 500 && !accepts(); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }
  ~Agent() { stop(SIGTERM); }
  // Ends the agent; returns its exit status (shell style).
  int stop(int sig) {
    if (pid_ <= 0) return status_;
    ::kill(pid_, sig);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
    status_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    return status_;
  }
  // The agent reads its signals before new connections in each round of its loop, so a signal
  // sent before a container starts is acted on before that container is served.
  void signal(int sig) { ::kill(pid_, sig); }
  const std::string& socket() const { return socket_; }
  bool accepts() const { return connects(socket_); }
  const std::string& audit() const { return audit_; }
  std::string log() const {
    std::ifstream in(log_);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  }

 private:
  std::string socket_, audit_, log_;
  pid_t pid_ = -1;
  int status_ = -1;
};

// An OCI bundle in DIR/NAME whose process is ARGS, with memfd_create routed to SOCKET, or with
// PROFILE (from memfd-warden oci-profile) as its seccomp profile.
std::string make_bundle(const TempDir& dir, const std::string& name, const Args& process,
                        const std::string& socket, const std::string& metadata,
                        const std::optional<Json>& profile = std::nullopt, bool rootless = false) {
  fs::path bundle = dir.path() / name;
  fs::path rootfs = bundle / "rootfs";
  for (const char* sub : {"bin", "proc", "dev", "sys", "tmp"}) fs::create_directories(rootfs / sub);
  fs::copy_file("/bin/busybox", rootfs / "bin/busybox");
  for (const char* applet : {"sh", "sleep"}) fs::create_symlink("busybox", rootfs / "bin" / applet);
  fs::copy_file(CONTAINER_PROBE_BIN, rootfs / "bin/probe");
  Args spec{"runc", "spec", "--bundle", bundle.string()};
  if (rootless) spec.push_back("--rootless");  // a user namespace of its own, root mapped
  REQUIRE(run_native(spec).exit_code == 0);
  Json config;
  std::ifstream(bundle / "config.json") >> config;
  config["process"]["terminal"] = false;
  config["process"]["args"] = process;
  config["root"]["readonly"] = true;
  Json seccomp = {{"defaultAction", "SCMP_ACT_ALLOW"},
                  {"listenerPath", socket},
                  {"architectures", {"SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"}},
                  {"syscalls", {{{"names", {"memfd_create"}}, {"action", "SCMP_ACT_NOTIFY"}}}}};
  if (!metadata.empty()) seccomp["listenerMetadata"] = metadata;
  config["linux"]["seccomp"] = profile ? *profile : seccomp;
  std::ofstream(bundle / "config.json") << config.dump(1);
  return bundle.string();
}

std::string container_id(const char* what) {
  static std::atomic<int> counter{0};
  return std::string("mw-") + what + "-" + std::to_string(::getpid()) + "-" +
         std::to_string(counter++);
}

RunResult run_container(const std::string& bundle, const std::string& id) {
  return run_native({"timeout", "60", "runc", "run", "--bundle", bundle, id});
}

// crun 1.8 refuses this machine's hybrid cgroup mounts: it runs in a private mount namespace
// with a pure cgroup2 view (KERNEL-NOTES.md).
RunResult run_crun_container(const std::string& bundle, const std::string& id) {
  return run_native({"timeout", "60", "unshare", "-m", "sh", "-c",
                     "mount --make-rprivate / && mount -t cgroup2 none /sys/fs/cgroup && "
                     "crun --cgroup-manager=disabled run --bundle " +
                         bundle + " " + id});
}

// The profile `memfd-warden oci-profile ARGS` prints.
Json generated_profile(const Args& args) {
  Args full{"oci-profile"};
  full.insert(full.end(), args.begin(), args.end());
  auto printed = run_warden_raw(full);
  REQUIRE(printed.exit_code == 0);
  return Json::parse(printed.out);
}

// An agent whose policy sets a byte limit of 1 MiB, and the profile oci-profile prints for it.
struct QuotaAgent {
  explicit QuotaAgent(const TempDir& dir)
      : policy(dir.write("quota.toml", "version = 1\n[quota]\nmax_bytes = \"1M\"\n")),
        agent(dir, {"--policy", policy}) {}
  std::string policy;
  Agent agent;
  Json profile = generated_profile({"--socket", agent.socket(), "--policy", policy});

  // PROCESS in a runc container of bundle DIR/NAME and id ID, filtered by the profile.
  RunResult run(const TempDir& dir, const std::string& name, const Args& process,
                const std::string& id) const {
    return run_container(make_bundle(dir, name, process, agent.socket(), "", profile), id);
  }
};

// The audit file's records, and those of one container's run.
std::vector<Json> audit_records(const std::string& path) {
  std::ifstream in(path);
  std::vector<Json> records;
  for (std::string line; std::getline(in, line);) records.push_back(Json::parse(line));
  return records;
}
std::vector<Json> records_of(const std::vector<Json>& all, const std::string& id) {
  std::vector<Json> mine;
  for (const auto& record : all) {
    if (record.contains("container") && record["container"]["id"] == id) mine.push_back(record);
  }
  return mine;
}

// Whether the audit file has a decision record DECISION on a memfd named NAME yet. For a poll
// while the agent writes: a line not yet ended is not read.
bool audit_has(const std::string& path, const std::string& decision, const std::string& name) {
  std::ifstream in(path);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  for (size_t start = 0, end; (end = text.find('\n', start)) != std::string::npos;
       start = end + 1) {
    Json record = Json::parse(text.substr(start, end - start), nullptr, false);
    if (record.is_object() && record.contains("decision") && record["decision"] == decision &&
        record.contains("name") && record["name"] == name) {
      return true;
    }
  }
  return false;
}

const std::string kStrict =
    "version = 1\n[[rule]]\nname = \"evil*\"\naction = \"deny\"\nerrno = \"EDOM\"\n";

// A client of the agent's socket, as a runtime or a hostile process connects.
int connect_to(const std::string& socket_path) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::strncpy(address.sun_path, socket_path.c_str(), sizeof(address.sun_path) - 1);
  REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0);
  return fd;
}

// TEXT with FDS as SCM_RIGHTS, in one sendmsg; what sendmsg returns.
ssize_t send_with_fds(int socket, std::string text, const std::vector<int>& fds) {
  std::vector<char> control(CMSG_SPACE(sizeof(int) * fds.size()));
  iovec io{text.data(), text.size()};
  msghdr header{};
  header.msg_iov = &io;
  header.msg_iovlen = 1;
  header.msg_control = control.data();
  header.msg_controllen = control.size();
  cmsghdr* cmsg = CMSG_FIRSTHDR(&header);
  cmsg->cmsg_level = SOL_SOCKET;
  cmsg->cmsg_type = SCM_RIGHTS;
  cmsg->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
  std::memcpy(CMSG_DATA(cmsg), fds.data(), sizeof(int) * fds.size());
  return ::sendmsg(socket, &header, MSG_NOSIGNAL);
}

// Mounts DIR/met read-write at /met in BUNDLE's container: a place where containers and the test
// leave each other marker files, for handshakes instead of sleeps.
void share_met(const TempDir& dir, const std::string& bundle) {
  fs::create_directories(dir.path() / "met");
  fs::create_directory(fs::path(bundle) / "rootfs/met");
  Json config;
  std::ifstream(fs::path(bundle) / "config.json") >> config;
  config["mounts"].push_back({{"destination", "/met"},
                              {"type", "bind"},
                              {"source", (dir.path() / "met").string()},
                              {"options", {"rbind", "rw"}}});
  std::ofstream(fs::path(bundle) / "config.json") << config.dump(1);
}

// Shell: wait until FILE exists, for 30 s at most, then exit 91 if it still does not.
std::string await_file(const std::string& file) {
  return "i=0; until [ -e " + file + " ] || [ $i -ge 3000 ]; do sleep 0.01; i=$((i + 1)); done; " +
         "[ -e " + file + " ] || exit 91; ";
}

}  // namespace

TEST_CASE(
    "agent: a runc container's denied name fails with the rule's errno, an allowed memfd is "
    "exact") {
  SKIP_WITHOUT_CONTAINERS();
  TempDir dir;
  fs::create_directory(dir.path() / "policies");
  dir.write("policies/strict.toml", kStrict);
  Agent agent(dir, {"--policy-dir", dir.file("policies")});
  REQUIRE(fs::exists(agent.socket()));
  CHECK((fs::status(agent.socket()).permissions() & fs::perms::all) ==
        (fs::perms::owner_read | fs::perms::owner_write));
  std::string denied_id = container_id("deny"), allowed_id = container_id("allow");
  auto denied = run_container(
      make_bundle(dir, "denied", {"/bin/probe", "evil-c", "0"}, agent.socket(), "policy=strict"),
      denied_id);
  CHECK(denied.exit_code == kSentinel);  // EDOM, from the container's own policy
  auto allowed = run_container(
      make_bundle(dir, "allowed", {"/bin/probe", "good-c", "0"}, agent.socket(), "policy=strict"),
      allowed_id);
  CHECK(allowed.exit_code == 0);
  CHECK(allowed.fact("link") == "/memfd:good-c (deleted)");
  // The strict policy leaves exec at its default, deny: sealed, and closed to seals as the
  // kernel would have it for flags 0.
  CHECK(allowed.fact("seals") == "33");
  agent.stop(SIGTERM);
  RunResult audit;
  read_audit(agent.audit(), audit);
  REQUIRE(audit.decisions.size() == 2);
  CHECK(audit.decisions[0]["decision"] == "deny");
  CHECK(audit.decisions[1]["decision"] == "allow");
  // One run per container, named by its id, each sealed: verify says intact.
  std::ifstream in(agent.audit());
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  CHECK(text.find("\"program\":\"container " + denied_id + "\"") != std::string::npos);
  CHECK(text.find("\"program\":\"container " + allowed_id + "\"") != std::string::npos);
  CHECK(run_warden_raw({"verify", agent.audit()}).exit_code == 0);
  // Every record names its container, and each container's run ends with its own summary.
  auto records = audit_records(agent.audit());
  for (const auto& record : records) CHECK(record.contains("container"));
  for (const auto& [id, name, decision] :
       {std::tuple{denied_id, "denied", "deny"}, std::tuple{allowed_id, "allowed", "allow"}}) {
    auto mine = records_of(records, id);
    REQUIRE(mine.size() == 3);
    CHECK(mine[0]["event"] == "start");
    CHECK(mine[1]["decision"] == decision);
    CHECK(mine[2]["event"] == "summary");
    CHECK(mine[2]["calls"] == (std::string(decision) == "allow" ? 1 : 0));
    // The containers' policy has no live or byte limit: live memfds are not counted.
    CHECK(mine[2]["live_at_exit"].is_null());
    CHECK(mine[1]["container"]["bundle"] == (dir.path() / name).string());
    CHECK(mine[1]["container"]["pod"].is_null());
    CHECK(mine[0]["run"] == mine[2]["run"]);
  }
  // Control: the same container without the profile's agent makes its memfd.
  CHECK(run_native({"/bin/sh", "-c", std::string(CONTAINER_PROBE_BIN) + " evil-c 0"}).exit_code ==
        0);
}

TEST_CASE(
    "agent: a refusal names the container's executable, an allowed call only with --record-exe") {
  SKIP_WITHOUT_CONTAINERS();
  for (bool record_exe : {false, true}) {
    CAPTURE(record_exe);
    TempDir dir;
    fs::create_directory(dir.path() / "policies");
    dir.write("policies/strict.toml", kStrict);
    Args options{"--policy-dir", dir.file("policies")};
    if (record_exe) options.push_back("--record-exe");
    Agent agent(dir, options);
    auto denied = run_container(
        make_bundle(dir, "denied", {"/bin/probe", "evil-c", "0"}, agent.socket(), "policy=strict"),
        container_id("deny"));
    CHECK(denied.exit_code == kSentinel);
    auto allowed = run_container(
        make_bundle(dir, "allowed", {"/bin/probe", "good-c", "0"}, agent.socket(), "policy=strict"),
        container_id("allow"));
    CHECK(allowed.exit_code == 0);
    agent.stop(SIGTERM);
    RunResult audit;
    read_audit(agent.audit(), audit);
    REQUIRE(audit.decisions.size() == 2);
    CHECK(audit.decisions[0]["decision"] == "deny");
    CHECK(audit.decisions[0]["exe"] == "/bin/probe");  // the path inside the container
    CHECK(audit.decisions[0]["comm"] == "probe");
    CHECK(audit.decisions[1]["decision"] == "allow");
    if (record_exe) {
      CHECK(audit.decisions[1]["exe"] == "/bin/probe");
    } else {
      CHECK(audit.decisions[1]["exe"].is_null());
      CHECK(audit.decisions[1]["comm"].is_null());
    }
  }
}

TEST_CASE("agent: crun containers are served the same way (its state message says 0.2.0)") {
  SKIP_WITHOUT_CRUN();
  TempDir dir;
  fs::create_directory(dir.path() / "policies");
  dir.write("policies/strict.toml", kStrict);
  Agent agent(dir, {"--policy-dir", dir.file("policies")});
  auto denied = run_crun_container(
      make_bundle(dir, "denied", {"/bin/probe", "evil-r", "0"}, agent.socket(), "policy=strict"),
      container_id("crun-deny"));
  CHECK(denied.exit_code == kSentinel);
  // The profile oci-profile prints, with its argument conditions, works under crun too.
  auto allowed = run_crun_container(
      make_bundle(dir, "allowed", {"/bin/probe", "good-r", "0"}, agent.socket(), "",
                  generated_profile({"--socket", agent.socket(), "--metadata", "policy=strict"})),
      container_id("crun-allow"));
  CHECK(allowed.exit_code == 0);
  CHECK(allowed.fact("link") == "/memfd:good-r (deleted)");
  agent.stop(SIGTERM);
  CHECK(run_warden_raw({"verify", agent.audit()}).exit_code == 0);
}

TEST_CASE(
    "agent: the default policy for containers that name none, and an unknown name fails closed") {
  SKIP_WITHOUT_CONTAINERS();
  TempDir dir;
  std::string policy = dir.write("default.toml", kStrict);
  Agent agent(dir, {"--policy", policy});
  auto by_default =
      run_container(make_bundle(dir, "plain", {"/bin/probe", "evil-d", "0"}, agent.socket(), ""),
                    container_id("plain"));
  CHECK(by_default.exit_code == kSentinel);
  auto unknown = run_container(
      make_bundle(dir, "unknown", {"/bin/probe", "good-u", "0"}, agent.socket(), "policy=nope"),
      container_id("unknown"));
  CHECK(unknown.exit_code == EPERM);  // every memfd refused, even a name others allow
  agent.stop(SIGTERM);
  CHECK(agent.log().find("asks for policy \"nope\"") != std::string::npos);
}

// A container whose policy is unknown, with the profile oci-profile prints (exec and mapping
// calls routed too), running SCRIPT with a tmpfs of its own at /tmp (runc's /dev/shm is noexec).
RunResult run_script_with_policy(const TempDir& dir, const Agent& agent, const std::string& name,
                                 const std::string& policy, const std::string& script) {
  Json profile = generated_profile({"--socket", agent.socket()});
  profile["listenerMetadata"] = "policy=" + policy;
  std::string bundle =
      make_bundle(dir, name, {"/bin/sh", "-c", script}, agent.socket(), "", profile);
  Json config;
  std::ifstream(fs::path(bundle) / "config.json") >> config;
  config["mounts"].push_back({{"destination", "/tmp"},
                              {"type", "tmpfs"},
                              {"source", "tmpfs"},
                              {"options", {"nosuid", "nodev", "mode=1777"}}});
  std::ofstream(fs::path(bundle) / "config.json") << config.dump(1);
  return run_container(bundle, container_id(name.c_str()));
}

TEST_CASE(
    "agent: an unknown policy refuses memfds, lets programs from files run, refuses memory files") {
  SKIP_WITHOUT_CONTAINERS();
  TempDir dir;
  fs::create_directories(dir.path() / "policies");
  dir.write("policies/open.toml", "version = 1\nexec = \"allow\"\n");
  Agent agent(dir, {"--policy-dir", (dir.path() / "policies").string()});
  // An unlinked tmpfs file run through a link named for the applet: memory, not a memfd.
  std::string from_memory =
      "/bin/busybox cp /bin/busybox /tmp/x && exec 3</tmp/x && /bin/busybox rm /tmp/x && "
      "/bin/busybox ln -s /proc/self/fd/3 /tmp/true && exec /tmp/true";
  // The shell itself ran: its execve, a trapped call, was allowed. Its memfd is refused.
  auto memfd = run_script_with_policy(dir, agent, "unknown-memfd", "nope", "/bin/probe good-u 0");
  CHECK(memfd.exit_code == EPERM);
  auto ran = run_script_with_policy(dir, agent, "unknown-exec", "nope", from_memory);
  CHECK(ran.exit_code == 126);  // the shell's "Permission denied"
  // Control: a policy that lets memory be run runs the same script.
  auto open = run_script_with_policy(dir, agent, "open-exec", "open", from_memory);
  CHECK(open.exit_code == 0);
  agent.stop(SIGTERM);
  bool refused = false;
  for (const auto& r : audit_records(agent.audit())) {
    refused |= r.value("syscall", "") == "execve" && r.value("decision", "") == "deny" &&
               r.value("file", "") == "unlinked-shmem" && r.value("path", "") == "/tmp/true";
  }
  CHECK(refused);
}

// BUNDLE's config with the annotation io.memfd-warden.policy = NAME (runc sends the config's
// annotations in the state message, as CRI-O fills them from a pod's).
void annotate_policy(const std::string& bundle, const std::string& name) {
  Json config;
  std::ifstream(fs::path(bundle) / "config.json") >> config;
  config["annotations"]["io.memfd-warden.policy"] = name;
  std::ofstream(fs::path(bundle) / "config.json") << config.dump(1);
}

TEST_CASE(
    "agent: the annotation chooses a policy only with --policy-annotation, and never over the "
    "profile") {
  SKIP_WITHOUT_CONTAINERS();
  TempDir dir;
  fs::create_directories(dir.path() / "policies");
  dir.write("policies/loose.toml", "version = 1\n");
  dir.write("policies/strict.toml", kStrict);
  std::string policies = (dir.path() / "policies").string();
  auto run_named = [&dir](const Agent& agent, const std::string& name, const std::string& metadata,
                          const std::string& annotation) {
    std::string bundle =
        make_bundle(dir, name, {"/bin/probe", "evil-n", "0"}, agent.socket(), metadata);
    annotate_policy(bundle, annotation);
    return run_container(bundle, container_id(name.c_str())).exit_code;
  };
  {
    // The default (which denies evil*) does not let a container pick the loose policy.
    Agent agent(dir, {"--policy", dir.write("default.toml", kStrict), "--policy-dir", policies});
    CHECK(run_named(agent, "asks-off", "", "loose") == EPERM);
    agent.stop(SIGTERM);
    CHECK(agent.log().find("does not honour (name it in the profile's listenerMetadata, or start "
                           "the agent with --policy-annotation)") != std::string::npos);
  }
  Agent agent(dir, {"--policy-dir", policies, "--policy-annotation"});
  CHECK(run_named(agent, "asks-on", "", "loose") == 0);
  CHECK(run_named(agent, "asks-strict", "", "strict") == EDOM);
  CHECK(run_named(agent, "profile-wins", "policy=strict", "loose") == EDOM);
}

TEST_CASE("agent: hostile clients on the socket do not stop it serving containers") {
  SKIP_WITHOUT_CONTAINERS();
  TempDir dir;
  Agent agent(dir, {"--policy", dir.write("default.toml", kStrict)});
  auto connect_client = [&] { return connect_to(agent.socket()); };
  ::close(connect_client());      // closes at once, with nothing sent
  int silent = connect_client();  // says nothing, and stays connected
  int garbage = connect_client();
  std::string junk(100000, '{');
  (void)::send(garbage, junk.data(), junk.size(), MSG_NOSIGNAL);
  ::close(garbage);
  int no_fd = connect_client();  // a well-formed message without the fd it names
  std::string message = R"({"fds":["seccompFd"],"state":{"id":"x"}})";
  CHECK(::send(no_fd, message.data(), message.size(), MSG_NOSIGNAL) ==
        static_cast<ssize_t>(message.size()));
  ::close(no_fd);
  int crowded = connect_client();  // more fds than any state message carries
  CHECK(send_with_fds(crowded, message, std::vector<int>(9, 0)) ==
        static_cast<ssize_t>(message.size()));
  auto served =
      run_container(make_bundle(dir, "served", {"/bin/probe", "evil-h", "0"}, agent.socket(), ""),
                    container_id("hostile"));
  CHECK(served.exit_code == kSentinel);  // decided while the silent client still holds on
  // The silent client is dropped once its 5 s are up, while it still holds on.
  bool timed_out = false;
  for (int i = 0; i < 100 && !timed_out; ++i) {
    timed_out = agent.log().find("dropped a client: no complete state message within 5 s") !=
                std::string::npos;
    if (!timed_out) ::usleep(100 * 1000);
  }
  CHECK_MESSAGE(timed_out, agent.log());
  ::close(silent);
  ::close(crowded);
  agent.stop(SIGTERM);
  std::string log = agent.log();
  CHECK(log.find("dropped a client: a state message over 64 KiB") != std::string::npos);
  CHECK(log.find("dropped a client: more fds than a state message carries") != std::string::npos);
  CHECK(log.find("dropped a client: it closed without a message") != std::string::npos);
  CHECK(log.find("dropped a client: container state: \"fds\" names 1 fds, 0 arrived") !=
        std::string::npos);
}

// A state message for container ID, naming one fd, the listener.
std::string state_message(const std::string& id) {
  return R"({"ociVersion":"1.0.2","fds":["seccompFd"],"state":{"id":")" + id + R"("}})";
}

// Whether the agent's log says `text` within 5 s.
bool logs_soon(const Agent& agent, const std::string& text) {
  for (int i = 0; i < 500; ++i) {
    if (agent.log().find(text) != std::string::npos) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

// A process running as `uid` (and its group) connects to the agent and sends `message` with
// `fd`. Returns its pid, once it has ended: connected, it exits 0 when the whole message went,
// 3 when the agent had already dropped it; 1 and 2 when it could not become `uid` or connect.
pid_t hand_over_as(uid_t uid, const std::string& socket, const std::string& message, int fd,
                   int& exit_code) {
  pid_t child = ::fork();
  if (child == 0) {
    if (::setgroups(0, nullptr) != 0 || ::setgid(uid) != 0 || ::setuid(uid) != 0) _exit(1);
    int client = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::strncpy(address.sun_path, socket.c_str(), sizeof(address.sun_path) - 1);
    if (::connect(client, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) _exit(2);
    _exit(send_with_fds(client, message, {fd}) > 0 ? 0 : 3);
  }
  int status = 0;
  ::waitpid(child, &status, 0);
  exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return child;
}

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// Whether the audit at `path` names `text` within 5 s: a session writes its records on its own
// time, after the agent has logged that it forked it.
bool audit_names_soon(const std::string& path, const std::string& text) {
  for (int i = 0; i < 500; ++i) {
    if (read_text(path).find(text) != std::string::npos) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

// A client hands `listener` over for container `id`, as root (`uid` 0: from this process) or as
// `uid`; the agent must serve it: a session, whose audit names the container.
void expect_served(const Agent& agent, int listener, const std::string& id, uid_t uid) {
  CAPTURE(uid);
  if (uid == 0) {
    int client = connect_to(agent.socket());
    CHECK(send_with_fds(client, state_message(id), {listener}) > 0);
    CHECK_MESSAGE(logs_soon(agent, "container " + id + ": session"), agent.log());
    ::close(client);
  } else {
    int exit_code = -1;
    hand_over_as(uid, agent.socket(), state_message(id), listener, exit_code);
    CHECK(exit_code == 0);
    CHECK_MESSAGE(logs_soon(agent, "container " + id + ": session"), agent.log());
  }
  CHECK(audit_names_soon(agent.audit(), id));  // the session ran
}

// A client running as `uid` hands `listener` over for container `id`; the agent, which serves
// root and `served_uid`, must drop it, saying who it was. The client became `uid` and connected:
// the socket let it in, only the agent refuses it.
void expect_dropped(const Agent& agent, int listener, const std::string& id, uid_t uid,
                    uid_t served_uid) {
  CAPTURE(uid);
  int exit_code = -1;
  pid_t client = hand_over_as(uid, agent.socket(), state_message(id), listener, exit_code);
  CHECK((exit_code == 0 || exit_code == 3));
  CHECK_MESSAGE(
      logs_soon(agent, "dropped a client: process " + std::to_string(client) + " runs as uid " +
                           std::to_string(uid) + "; only root and uid " +
                           std::to_string(served_uid) + " may hand over a container"),
      agent.log());
}

TEST_CASE("agent: only root or its own user hands over a container and only a seccomp listener") {
  // A listener comes with a pid the session may end (stall watchdog): whatever mode the socket
  // has, a client running as another user is dropped on connecting, before it is read. And what
  // a client passes as its seccompFd must be a listener; what it is instead is named, escaped.
  SKIP_WITHOUT_CONTAINERS();
  TempDir dir;
  Agent agent(dir, {"--policy", dir.write("default.toml", kStrict)});
  // Anyone may connect now: the check is the agent's, not the file's mode.
  fs::permissions(dir.path(), fs::perms::all);
  fs::permissions(agent.socket(), fs::perms::all);
  std::string root_id = container_id("root"), nobody_id = container_id("nobody");
  bool listened = with_child_listener(SECCOMP_FILTER_FLAG_NEW_LISTENER, [&](int listener) {
    expect_served(agent, listener, root_id, 0);  // the control: root, with a real listener
    expect_dropped(agent, listener, nobody_id, 65534, 0);
  });
  REQUIRE(listened);
  // Root's clients whose seccompFd is not a listener: a pipe, and a file whose name is hostile.
  int pipe_fds[2];
  REQUIRE(::pipe2(pipe_fds, O_CLOEXEC) == 0);
  int piped = connect_to(agent.socket());
  CHECK(send_with_fds(piped, state_message(container_id("pipe")), {pipe_fds[0]}) > 0);
  CHECK_MESSAGE(logs_soon(agent, "dropped a client: its seccompFd is pipe:["), agent.log());
  std::string hostile = dir.write("evil\x1b]0;owned\x07.name", "");
  int file = ::open(hostile.c_str(), O_RDONLY | O_CLOEXEC);
  REQUIRE(file >= 0);
  int filed = connect_to(agent.socket());
  CHECK(send_with_fds(filed, state_message(container_id("file")), {file}) > 0);
  CHECK_MESSAGE(logs_soon(agent, "evil\\x1b]0;owned\\x07.name, not a seccomp listener"),
                agent.log());
  for (int fd : {piped, filed, file, pipe_fds[0], pipe_fds[1]}) ::close(fd);
  agent.stop(SIGTERM);
  std::string log = agent.log();
  CHECK(log.find('\x1b') == std::string::npos);
  CHECK(log.find("container " + nobody_id) == std::string::npos);
  CHECK(read_text(agent.audit()).find(nobody_id) == std::string::npos);
}

TEST_CASE("agent: an agent running as a user serves that user and root and nobody else") {
  // A rootless runtime's agent runs as the runtime's user. Here the agent runs as nobody (65534):
  // nobody's client and root's are served, one running as uid 65533 is dropped.
  SKIP_WITHOUT_CONTAINERS();
  TempDir dir;
  fs::permissions(dir.path(), fs::perms::all);  // for the agent's socket and audit
  Agent agent(dir, {"--policy", dir.write("default.toml", kStrict)},
              {"setpriv", "--reuid", "65534", "--regid", "65534", "--clear-groups"});
  REQUIRE_MESSAGE(agent.accepts(), agent.log());
  fs::permissions(agent.socket(), fs::perms::all);
  std::string own_id = container_id("own"), root_id = container_id("root"),
              other_id = container_id("other");
  bool listened = with_child_listener(SECCOMP_FILTER_FLAG_NEW_LISTENER, [&](int listener) {
    expect_served(agent, listener, own_id, 65534);  // its session runs as nobody
    expect_served(agent, listener, root_id, 0);
    expect_dropped(agent, listener, other_id, 65533, 65534);
  });
  REQUIRE(listened);
  agent.stop(SIGTERM);
  CHECK(read_text(agent.audit()).find(other_id) == std::string::npos);
  CHECK(agent.log().find("container " + other_id) == std::string::npos);
}

TEST_CASE("agent: a container's session holds no fd another client sent") {
  // A client part-way through its message has sent fds (another container's listener, say). A
  // session forked meanwhile must not keep them: once that client is dropped, they are closed.
  SKIP_WITHOUT_CONTAINERS();
  TempDir dir;
  Agent agent(dir, {"--policy", dir.write("default.toml", kStrict)});
  int pipe_fds[2];
  REQUIRE(::pipe2(pipe_fds, O_CLOEXEC) == 0);
  int client = connect_to(agent.socket());
  std::string part = R"({"fds":["seccompFd"],)";  // not a whole message yet
  REQUIRE(send_with_fds(client, part, {pipe_fds[1]}) == static_cast<ssize_t>(part.size()));
  ::close(pipe_fds[1]);  // the agent now holds the only write end
  // Time for the agent to read them before the container connects. Were they not read by then,
  // the session could not hold them and the test would pass unproven; it cannot fail by this.
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  // A container whose session is forked while that client still waits; it runs until told.
  std::string bundle =
      make_bundle(dir, "bystander",
                  {"/bin/sh", "-c", "/bin/probe good-b 0 >/dev/null; " + await_file("/met/done")},
                  agent.socket(), "");
  share_met(dir, bundle);
  int exit_code = -1;
  std::thread container(
      [&] { exit_code = run_container(bundle, container_id("bystander")).exit_code; });
  for (int i = 0; i < 3000 && !audit_has(agent.audit(), "allow", "good-b"); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ::close(client);  // dropped: the agent closes what it sent
  pollfd hangup{pipe_fds[0], POLLIN, 0};
  bool closed = false;
  for (int i = 0; i < 500 && !closed; ++i) {  // 5 s at most
    closed = ::poll(&hangup, 1, 10) == 1 && (hangup.revents & POLLHUP) != 0;
  }
  std::ofstream(dir.path() / "met" / "done") << "";
  container.join();
  ::close(pipe_fds[0]);
  CHECK(exit_code == 0);
  CHECK(closed);  // no session kept the write end
}

TEST_CASE(
    "agent: when it dies, a running container's trapped calls fail with ENOSYS, never unchecked") {
  SKIP_WITHOUT_CONTAINERS();
  TempDir dir;
  auto agent = std::make_unique<Agent>(dir, Args{"--policy", dir.write("default.toml", kStrict)});
  std::string bundle = make_bundle(dir, "orphaned",
                                   {"/bin/sh", "-c",
                                    "/bin/probe good-1 0 >/dev/null || exit 90; " +
                                        await_file("/met/killed") + "/bin/probe evil-2 0"},
                                   agent->socket(), "");
  share_met(dir, bundle);
  int exit_code = -1;
  std::thread container(
      [&] { exit_code = run_container(bundle, container_id("death")).exit_code; });
  // The agent is killed once it has decided the container's first call; the container makes its
  // second only after the kill (fixed sleeps fell short when runc was slow on a loaded machine).
  bool served = false;
  for (int i = 0; i < 3000 && !(served = audit_has(agent->audit(), "allow", "good-1")); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  agent->stop(SIGKILL);  // its sessions die with it (PR_SET_PDEATHSIG)
  std::ofstream(dir.path() / "met" / "killed") << "";  // the container's next call, now
  container.join();
  REQUIRE(served);
  CHECK(exit_code == ENOSYS);  // not EDOM (no decision) and not 0 (not let through)
}

TEST_CASE("agent: a container that holds back a read of its memory is ended, and others served") {
  // The probe puts the memfd name in a userfaultfd page that nobody fills. Natively the call
  // waits for good; under the agent the session waited with it, for good. Now the session's stall
  // watchdog kills the container's init after 5 s, and the session ends with the reason.
  SKIP_WITHOUT_CONTAINERS();
  TempDir dir;
  Agent agent(dir);
  std::string bundle = make_bundle(dir, "stall", {"/bin/probe", "--uffd-name"}, agent.socket(), "");
  // CAP_SYS_PTRACE opens userfaultfd(2) to the container's root.
  Json config;
  std::ifstream(fs::path(bundle) / "config.json") >> config;
  for (const char* set : {"bounding", "effective", "permitted"}) {
    config["process"]["capabilities"][set].push_back("CAP_SYS_PTRACE");
  }
  std::ofstream(fs::path(bundle) / "config.json") << config.dump(1);
  // Control: natively the call waits until timeout kills the probe.
  auto native = run_native({"timeout", "-s", "KILL", "2", CONTAINER_PROBE_BIN, "--uffd-name"});
  if (native.exit_code == 3) {
    MESSAGE("skipped: no userfaultfd here");
    return;
  }
  REQUIRE(native.exit_code == 137);
  std::string id = container_id("stall");
  auto ran = run_container(bundle, id);
  if (ran.exit_code == 3) {
    MESSAGE("skipped: no userfaultfd in the container");
    return;
  }
  CHECK(ran.exit_code == 137);  // SIGKILL, to the container's init
  // The agent serves the next container as before.
  std::string next = container_id("after-stall");
  CHECK(run_container(make_bundle(dir, "after", {"/bin/probe", "good", "0"}, agent.socket(), ""),
                      next)
            .exit_code == 0);
  agent.stop(SIGTERM);
  auto records = audit_records(agent.audit());
  bool said = false;
  for (const auto& r : records_of(records, id)) {
    said |= r["event"] == "summary" && r["error"].is_string() &&
            r["error"].get<std::string>().find("which the target held back") != std::string::npos;
  }
  CHECK(said);
  bool served = false;
  for (const auto& r : records_of(records, next)) served |= r["decision"] == "allow";
  CHECK(served);
}

TEST_CASE("agent: SIGHUP reloads the policies, and a bad reload keeps the ones it had") {
  SKIP_WITHOUT_CONTAINERS();
  TempDir dir;
  fs::create_directory(dir.path() / "policies");
  dir.write("policies/strict.toml", kStrict);
  Agent agent(dir, {"--policy-dir", dir.file("policies")});
  dir.write("policies/strict.toml", "version = \n");  // broken
  agent.signal(SIGHUP);
  auto kept = run_container(
      make_bundle(dir, "kept", {"/bin/probe", "evil-k", "0"}, agent.socket(), "policy=strict"),
      container_id("kept"));
  CHECK(kept.exit_code == kSentinel);  // the old "strict" still decides
  dir.write("policies/strict.toml", kStrict);
  dir.write("policies/other.toml",
            "version = 1\n[[rule]]\nname = \"evil*\"\naction = \"deny\"\nerrno = \"ENOTUNIQ\"\n");
  agent.signal(SIGHUP);
  auto added = run_container(
      make_bundle(dir, "added", {"/bin/probe", "evil-a", "0"}, agent.socket(), "policy=other"),
      container_id("added"));
  CHECK(added.exit_code == kSentinel2);
  agent.stop(SIGTERM);
  std::string log = agent.log();
  CHECK(log.find("reload refused, the previous policies stay") != std::string::npos);
  CHECK(log.find("strict.toml:1:") != std::string::npos);
}

TEST_CASE("agent: started by systemd's socket activation, it serves the socket it was passed") {
  SKIP_WITHOUT_CONTAINERS();
  // systemd-socket-activate does what the unit memfd-warden-agent.socket does: it listens, and
  // on the first connection executes the agent with the socket as fd 3 (LISTEN_FDS=1).
  REQUIRE_MESSAGE(fs::exists("/usr/bin/systemd-socket-activate"),
                  "apt-get install systemd (.ci/install-deps does)");
  TempDir dir;
  fs::create_directory(dir.path() / "policies");
  dir.write("policies/strict.toml", kStrict);
  {
    Agent agent(dir, {"--policy-dir", dir.file("policies")},
                {"systemd-socket-activate", "-l", dir.file("agent.sock")});
    auto denied = run_container(
        make_bundle(dir, "denied", {"/bin/probe", "evil-c", "0"}, agent.socket(), "policy=strict"),
        container_id("sa-deny"));
    CHECK(denied.exit_code == kSentinel);
    auto allowed = run_container(
        make_bundle(dir, "allowed", {"/bin/probe", "good-c", "0"}, agent.socket(), "policy=strict"),
        container_id("sa-allow"));
    CHECK(allowed.exit_code == 0);
    CHECK(agent.stop(SIGTERM) == 0);
    CHECK(agent.log().find("serving containers on " + agent.socket() + " (from systemd)") !=
          std::string::npos);
    CHECK(fs::exists(agent.socket()));  // systemd's own: the agent leaves it in place
  }
  // A socket at another path than --socket, or an fd 3 that is no listening socket: refused,
  // with what to fix.
  std::string listened = dir.file("listened.sock");
  RunResult mismatched;
  std::thread activator([&] {
    mismatched = run_native({"timeout", "10", "systemd-socket-activate", "-l", listened,
                             warden_bin(), "agent", "--socket", dir.file("other.sock")});
  });
  for (int i = 0; i < 500 && !connects(listened); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  activator.join();
  CHECK(mismatched.exit_code == 125);
  CHECK(mismatched.err.find("make the unit's ListenStream= and --socket agree") !=
        std::string::npos);
  auto not_socket = run_native(
      {"sh", "-c", "LISTEN_PID=$$ LISTEN_FDS=1 exec \"$0\" agent --socket \"$1\" 3</dev/null",
       warden_bin(), dir.file("x.sock")});
  CHECK(not_socket.exit_code == 125);
  CHECK(not_socket.err.find("not a listening unix stream socket") != std::string::npos);
}

TEST_CASE("agent: one agent per socket, a stale socket is replaced, anything else is refused") {
  SKIP_WITHOUT_CONTAINERS();
  TempDir dir;
  {
    Agent first(dir);
    REQUIRE(fs::exists(first.socket()));
    // (timeout: an agent that wrongly started would serve for ever)
    auto second = run_native({"timeout", "10", warden_bin(), "agent", "--socket", first.socket()});
    CHECK(second.exit_code != 0);
    CHECK(second.err.find("another agent is serving") != std::string::npos);
    first.stop(SIGKILL);  // leaves its socket file behind
  }
  REQUIRE(fs::exists(dir.file("agent.sock")));
  Agent replacing(dir, {"--policy", dir.write("default.toml", kStrict)});
  auto served = run_container(
      make_bundle(dir, "stale", {"/bin/probe", "evil-s", "0"}, replacing.socket(), ""),
      container_id("stale"));
  CHECK(served.exit_code == kSentinel);
  std::string plain = dir.write("not-a-socket", "x");
  auto refused = run_native({"timeout", "10", warden_bin(), "agent", "--socket", plain});
  CHECK(refused.exit_code != 0);
  CHECK(refused.err.find("is not a socket") != std::string::npos);
  auto bad_policy =
      run_native({"timeout", "10", warden_bin(), "agent", "--socket", dir.file("other.sock"),
                  "--policy", dir.write("bad.toml", "version = ")});
  CHECK(bad_policy.exit_code == 2);
  CHECK(bad_policy.err.find("bad.toml:1:") != std::string::npos);
}

TEST_CASE("agent: a byte quota holds per container, with the profile oci-profile prints") {
  SKIP_WITHOUT_CONTAINERS();
  TempDir dir;
  QuotaAgent limited(dir);
  Agent& agent = limited.agent;
  const Json& profile = limited.profile;
  // A holds 768 KiB while B makes its own 768 KiB (its own quota), then fails to add 768 KiB more.
  // Both hold their memfds until B is done (/met/done). B's second probe starts once the first
  // says it has grown its memfd (held=1, in /dev/shm: the spec's tmpfs, writable under the
  // read-only root); after 30 s without it, B exits 91 and the test fails.
  std::string holder =
      make_bundle(dir, "holder", {"/bin/probe", "a", "0", "786432", "hold", "/met/done"},
                  agent.socket(), "", profile);
  share_met(dir, holder);
  std::string grower = make_bundle(
      dir, "grower",
      {"/bin/sh", "-c",
       "/bin/probe b1 0 786432 hold /met/done > /dev/shm/b1 & i=0; "
       "until /bin/busybox grep -qs '^held=' /dev/shm/b1 || [ $i -ge 3000 ]; do "
       "sleep 0.01; i=$((i + 1)); done; /bin/busybox grep -qs '^held=' /dev/shm/b1 || exit 91; "
       "/bin/probe b2 0 786432; s=$?; : > /met/done; exit $s"},
      agent.socket(), "", profile);
  share_met(dir, grower);
  std::string holder_id = container_id("holder"), grower_id = container_id("grower");
  int holder_exit = -1;
  std::thread first([&] { holder_exit = run_container(holder, holder_id).exit_code; });
  // B starts once A has made its memfd (A grows it at once, then holds it until B is done).
  for (int i = 0; i < 3000 && !audit_has(agent.audit(), "allow", "a"); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  auto grown = run_container(grower, grower_id);
  first.join();
  CHECK(holder_exit == 0);
  CHECK(grown.exit_code == EFBIG);  // quota.ftruncate_errno's default
  agent.stop(SIGTERM);
  auto records = audit_records(agent.audit());
  auto refused = records_of(records, grower_id);
  bool quota = false;
  bool b1_grown = false;  // with A's 768 KiB still held: the quota is B's own
  for (const auto& r : refused) {
    quota |= r.value("reason", "") == "quota.max_bytes";
    b1_grown |= r.value("name", "") == "b1" && r.value("syscall", "") == "ftruncate" &&
                r.value("decision", "") == "allow";
  }
  CHECK(quota);
  CHECK(b1_grown);
  for (const auto& r : records_of(records, holder_id)) {
    if (r["event"] == "decision") CHECK(r["decision"] == "allow");
  }
  // One container's records make a policy of their own (suggest --container).
  auto suggested = run_warden_raw({"suggest", "--container", holder_id, agent.audit()});
  CHECK(suggested.exit_code == 0);
  CHECK(suggested.out.find("# from container " + holder_id) != std::string::npos);
  CHECK(suggested.out.find("name = 'a'") != std::string::npos);
  CHECK(suggested.out.find("name = 'b1'") == std::string::npos);  // the other container's
  CHECK(suggested.out.find("# peak: 786432 bytes held by all memfds together") !=
        std::string::npos);
  CHECK(run_warden_raw({"check", dir.write("holder.toml", suggested.out)}).exit_code == 0);
  // ... and a report of their own (report --container): the grower's refusal is in its report,
  // not in the holder's.
  auto holder_report = run_warden_raw({"report", "--container", holder_id, agent.audit()});
  auto grower_report = run_warden_raw({"report", "--container", grower_id, agent.audit()});
  INFO(holder_report.out);
  INFO(grower_report.out);
  CHECK(holder_report.exit_code == 0);
  CHECK(holder_report.out.find("memfd-warden report: 1 run, ") == 0);
  CHECK(holder_report.out.find("container " + holder_id) != std::string::npos);
  CHECK(holder_report.out.find("786432") != std::string::npos);  // its peak bytes
  CHECK(holder_report.out.find("Nothing was refused") != std::string::npos);
  CHECK(grower_report.out.find("quota.max_bytes") != std::string::npos);
  CHECK(grower_report.out.find("container " + holder_id) == std::string::npos);
  CHECK(run_warden_raw({"report", "--container", "no-such", agent.audit()}).exit_code == 2);
  // Control: without the agent the same growth succeeds.
  CHECK(run_native({std::string(CONTAINER_PROBE_BIN), "b2", "0", "786432"}).exit_code == 0);
}

TEST_CASE("agent: a process runc exec starts in a container is held to the container's quotas") {
  // runc hands the agent a listener for each process it execs into a container (Kubernetes'
  // exec probes, kubectl exec). Each got a session of its own, with a ledger of its own, and so
  // the container's quotas over again (review: four sessions held 1,024 memfds under
  // max_live = 256). It now joins the container's session: one ledger, one audit run.
  SKIP_WITHOUT_CONTAINERS();
  TempDir dir;
  QuotaAgent limited(dir);
  Agent& agent = limited.agent;
  std::string holder =
      make_bundle(dir, "holder", {"/bin/probe", "a", "0", "786432", "hold", "/met/done"},
                  agent.socket(), "", limited.profile);
  share_met(dir, holder);
  std::string id = container_id("execd");
  int holder_exit = -1;
  std::thread first([&] { holder_exit = run_container(holder, id).exit_code; });
  for (int i = 0; i < 3000 && !audit_has(agent.audit(), "allow", "a"); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  auto exec = [&](const char* name, const char* size) {
    return run_native({"timeout", "60", "runc", "exec", id, "/bin/probe", name, "0", size});
  };
  auto over = exec("b", "786432");  // 768 KiB more, with the holder's 768 KiB held: over 1 MiB
  auto under = exec("c", "4096");   // the control: served, and under the limit
  std::ofstream(dir.path() / "met/done").close();
  first.join();
  CHECK(holder_exit == 0);
  CHECK(over.exit_code == EFBIG);
  CHECK(under.exit_code == 0);
  agent.stop(SIGTERM);
  auto records = records_of(audit_records(agent.audit()), id);
  int starts = 0, summaries = 0;
  bool refused = false, allowed = false;
  for (const auto& r : records) {
    starts += r["event"] == "start";
    summaries += r["event"] == "summary";
    refused |= r.value("name", "") == "b" && r.value("decision", "") == "deny" &&
               r.value("reason", "") == "quota.max_bytes";
    allowed |= r.value("name", "") == "c" && r.value("syscall", "") == "ftruncate" &&
               r.value("decision", "") == "allow";
  }
  CHECK(starts == 1);  // one run for the container, its exec'd processes included
  CHECK(summaries == 1);
  CHECK(refused);
  CHECK(allowed);
  CHECK(run_warden_raw({"verify", agent.audit()}).exit_code == 0);
}

TEST_CASE("agent: a container with another's id under another runtime root is not handed to it") {
  // Ids are unique only within one runtime's state directory (containerd keeps one per
  // namespace). The agent once handed a listener to the session of any container with its id
  // (review: a second container, under another root, ran under the first one's policy and
  // quotas, its records in the first one's run). It now joins only a container whose mount
  // namespace it is in, as a process runc exec starts is.
  SKIP_WITHOUT_CONTAINERS();
  TempDir dir;
  QuotaAgent limited(dir);
  Agent& agent = limited.agent;
  std::string holder =
      make_bundle(dir, "holder", {"/bin/probe", "a", "0", "786432", "hold", "/met/done"},
                  agent.socket(), "", limited.profile);
  share_met(dir, holder);
  std::string other = make_bundle(dir, "other", {"/bin/probe", "b", "0", "786432"}, agent.socket(),
                                  "", limited.profile);
  std::string id = container_id("same-id");
  {
    Json config;
    std::ifstream(fs::path(other) / "config.json") >> config;
    config["linux"]["cgroupsPath"] = "/" + id + "-other";  // its own cgroup, as another root's
    std::ofstream(fs::path(other) / "config.json") << config.dump(1);
  }
  std::string root = (dir.path() / "other-root").string();
  int holder_exit = -1;
  std::thread first([&] { holder_exit = run_container(holder, id).exit_code; });
  for (int i = 0; i < 3000 && !audit_has(agent.audit(), "allow", "a"); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  // 768 KiB of its own: under its own quota, over the holder's.
  auto second = run_native({"timeout", "60", "runc", "--root", root, "run", "--bundle", other, id});
  (void)run_native({"runc", "--root", root, "delete", "-f", id});
  std::ofstream(dir.path() / "met/done").close();
  first.join();
  CHECK(holder_exit == 0);
  CHECK(second.exit_code == 0);
  agent.stop(SIGTERM);
  int starts = 0;
  for (const auto& r : records_of(audit_records(agent.audit()), id))
    starts += r["event"] == "start";
  CHECK(starts == 2);  // a run each
  CHECK(run_warden_raw({"verify", agent.audit()}).exit_code == 0);
}

TEST_CASE("agent: with a byte limit a container's memfd takes no extended attribute") {
  SKIP_WITHOUT_CONTAINERS();
  TempDir dir;
  QuotaAgent limited(dir);
  Agent& agent = limited.agent;
  std::string id = container_id("xattrs");
  auto run = limited.run(dir, "xattrs", {"/bin/probe", "--xattrs"}, id);
  CHECK(run.exit_code == 0);
  CHECK(run.fact("fsetxattr") == std::to_string(EOPNOTSUPP));
  // setxattrat reaches the agent only where the runtime's libseccomp can name it (2.6 and
  // later); Debian 12's runc (2.5.4) leaves it out of the container's filter, and the memfd
  // takes the attribute (docs/memory-quotas.md).
  auto runtime = run_native({"runc", "--version"});
  bool named = runtime.out.find("libseccomp: 2.5.") == std::string::npos;
  CHECK(run.fact("setxattrat") == (named ? std::to_string(ENOSYS) : "0"));
  agent.stop(SIGTERM);
  bool refused = false;
  for (const auto& r : records_of(audit_records(agent.audit()), id)) {
    refused |= r["event"] == "decision" && r["syscall"] == "fsetxattr" &&
               r["reason"] == "memfd-xattr" && r["name"] == "attributes";
  }
  CHECK(refused);
  // Control: without the agent the memfd takes both.
  auto native = run_native({std::string(CONTAINER_PROBE_BIN), "--xattrs"});
  CHECK(native.fact("fsetxattr") == "0");
  CHECK(native.fact("setxattrat") == "0");
}

TEST_CASE(
    "agent: with a byte limit a container that takes on a Landlock domain is not truncated for") {
  SKIP_WITHOUT_CONTAINERS();
  // Control: Landlock refuses the truncation natively.
  auto native = run_native({std::string(CONTAINER_PROBE_BIN), "--landlock"});
  REQUIRE(native.exit_code == 0);
  if (native.fact("landlock") != "0") {
    MESSAGE("skipped: no Landlock here (" << native.fact("landlock") << ")");
    return;
  }
  REQUIRE(native.fact("truncate") == std::to_string(EACCES));
  TempDir dir;
  QuotaAgent limited(dir);
  Agent& agent = limited.agent;
  std::string id = container_id("landlock");
  auto run = limited.run(dir, "landlock", {"/bin/probe", "--landlock"}, id);
  CHECK(run.exit_code == 0);
  CHECK(run.fact("landlock") == "0");
  // The agent, in no domain of the container's, does not carry the call out (supervisor/calls/
  // landlock_call.h): EACCES, as Landlock answers.
  CHECK(run.fact("truncate") == std::to_string(EACCES));
  agent.stop(SIGTERM);
  bool noted = false, refused = false;
  for (const auto& r : records_of(audit_records(agent.audit()), id)) {
    if (r["event"] != "decision") continue;
    noted |= r["syscall"] == "landlock_restrict_self" && r["decision"] == "allow";
    refused |= r["syscall"] == "truncate" && r["reason"] == "landlock" && r["decision"] == "deny";
  }
  CHECK(noted);
  CHECK(refused);
}

TEST_CASE("agent: two containers at once, each decided by its own policy") {
  SKIP_WITHOUT_CONTAINERS();
  TempDir dir;
  fs::create_directory(dir.path() / "policies");
  dir.write("policies/strict.toml", kStrict);
  dir.write("policies/other.toml",
            "version = 1\n[[rule]]\nname = \"evil*\"\naction = \"deny\"\nerrno = \"ENOTUNIQ\"\n");
  Agent agent(dir, {"--policy-dir", dir.file("policies")});
  // So that their sessions overlap, each container makes its call, says so in a directory both
  // have mounted, and waits until the other has said so too (for 30 s at most: the test then
  // fails below). Both sessions have then served a call before either container ends.
  auto meeting = [&](const std::string& name, const std::string& self, const std::string& other,
                     const std::string& metadata) {
    std::string bundle = make_bundle(dir, name,
                                     {"/bin/sh", "-c",
                                      "/bin/probe evil-both 0; s=$?; : > /met/" + self + "; " +
                                          await_file("/met/" + other) + "exit $s"},
                                     agent.socket(), metadata);
    share_met(dir, bundle);
    return bundle;
  };
  std::string one = meeting("one", "one", "two", "policy=strict");
  std::string two = meeting("two", "two", "one", "policy=other");
  std::string one_id = container_id("one"), two_id = container_id("two");
  int one_exit = -1, two_exit = -1;
  std::thread a([&] { one_exit = run_container(one, one_id).exit_code; });
  std::thread b([&] { two_exit = run_container(two, two_id).exit_code; });
  a.join();
  b.join();
  CHECK(one_exit == kSentinel);   // EDOM
  CHECK(two_exit == kSentinel2);  // ENOTUNIQ
  agent.stop(SIGTERM);
  auto records = audit_records(agent.audit());
  auto first = records_of(records, one_id), second = records_of(records, two_id);
  REQUIRE(first.size() == 3);
  REQUIRE(second.size() == 3);
  CHECK(first[1]["errno"] == "EDOM");
  CHECK(second[1]["errno"] == "ENOTUNIQ");
  CHECK(first[0]["run"] != second[0]["run"]);
  // The two sessions overlapped: each started before the other's summary.
  CHECK(first[0]["time"] < second[2]["time"]);
  CHECK(second[0]["time"] < first[2]["time"]);
  CHECK(run_warden_raw({"verify", agent.audit()}).exit_code == 0);
}

TEST_CASE("agent: running a memfd inside a container is refused by the agent (T1620)") {
  SKIP_WITHOUT_CONTAINERS();
  TempDir dir;
  Agent agent(dir);  // the embedded default: exec = "deny"
  Json profile = generated_profile({"--socket", agent.socket()});
  std::string id = container_id("exec");
  // The program runs through /proc/self/fd/N: the agent must resolve it as the container's
  // process sees it (its /proc/self is not the agent's).
  auto ran = run_container(make_bundle(dir, "exec", {"/bin/probe", "payload", "0", "-", "exec"},
                                       agent.socket(), "", profile),
                           id);
  CHECK(ran.exit_code == EACCES);
  agent.stop(SIGTERM);
  bool refused = false;
  for (const auto& r : records_of(audit_records(agent.audit()), id)) {
    refused |= r["event"] == "decision" && r["syscall"] == "execve" && r["decision"] == "deny" &&
               r.value("technique", "") == "T1620";
  }
  CHECK(refused);
  // Control: without the agent the memfd runs ("true" exits 0).
  CHECK(run_native({std::string(CONTAINER_PROBE_BIN), "payload", "0", "-", "exec"}).exit_code == 0);
}

TEST_CASE("agent: with no agent on its socket, a container with the profile does not start") {
  SKIP_WITHOUT_CONTAINERS();
  TempDir dir;
  std::string socket = dir.file("nobody.sock");
  auto started = run_container(make_bundle(dir, "alone", {"/bin/probe", "evil-n", "0"}, socket, "",
                                           generated_profile({"--socket", socket})),
                               container_id("alone"));
  CHECK(started.exit_code != 0);
  CHECK(started.out.find("link=") == std::string::npos);  // the probe never ran
}

TEST_CASE("agent and oci-profile: a policy a container cannot have is refused up front") {
  TempDir dir;
  // With a byte limit, and without one (where `run` only warns that it does nothing): refused
  // either way, at start, from --policy-dir, and by oci-profile.
  for (const char* quota : {"max_bytes = \"1M\"\n", ""}) {
    CAPTURE(quota);
    std::string strict = dir.write(
        "strict.toml", std::string("version = 1\n[quota]\n") + quota + "strict_writes = true\n");
    auto agent = run_native({"timeout", "10", warden_bin(), "agent", "--socket", dir.file("a.sock"),
                             "--policy", strict});
    CHECK(agent.exit_code == 2);
    // Where in the file, as for every policy error: line 3 or 4, column 17.
    std::string where = std::string("strict.toml:") + (*quota ? "4" : "3") + ":17: ";
    CHECK(agent.err.find(where + "quota.strict_writes cannot hold in a container") !=
          std::string::npos);
    std::filesystem::create_directories(dir.path() / "policies");
    std::filesystem::copy_file(strict, dir.path() / "policies" / "strict.toml",
                               std::filesystem::copy_options::overwrite_existing);
    auto from_dir = run_native({"timeout", "10", warden_bin(), "agent", "--socket",
                                dir.file("a.sock"), "--policy-dir", dir.file("policies")});
    CHECK(from_dir.exit_code == 2);
    CHECK(from_dir.err.find("quota.strict_writes cannot hold in a container") != std::string::npos);
    auto profile = run_warden_raw({"oci-profile", "--socket", "/s", "--policy", strict});
    CHECK(profile.exit_code == 2);
    CHECK(profile.err.find("runc refuses SCMP_ACT_NOTIFY on write") != std::string::npos);
    CHECK(profile.err.find(where) != std::string::npos);
  }
  auto missing = run_warden_raw({"oci-profile", "--socket", "/s", "--merge", dir.file("none")});
  CHECK(missing.exit_code == 2);
  CHECK(missing.err.find("cannot read the profile") != std::string::npos);
}

TEST_CASE("agent: an audit destination that cannot be opened stops it before it serves") {
  TempDir dir;
  // (timeout: an agent that wrongly started would serve for ever)
  auto bad = run_native({"timeout", "10", warden_bin(), "agent", "--socket", dir.file("a.sock"),
                         "--audit", "/nonexistent/audit.jsonl"});
  CHECK(bad.exit_code == 2);
  CHECK(bad.err.find("/nonexistent/audit.jsonl") != std::string::npos);
  CHECK(!fs::exists(dir.file("a.sock")));  // nothing was served
}

// The agent (AGENT_ARGS added) and a crun container from BUNDLE together in a user namespace of
// their own, root there, whose user.max_inotify_instances is `instances`: the limit applies on
// top of the host's, which stays untouched. A cgroup namespace gives crun its cgroup2 view. With
// `hold`, another process takes an instance once the agent serves, before the container starts.
// Prints the container's output, then container=STATUS and agent=STATUS; the agent logs to LOG.
RunResult serve_in_namespace(int instances, bool hold, const std::string& agent_args,
                             const std::string& socket, const std::string& bundle,
                             const std::string& id, const std::string& log) {
  std::string held = log + ".held";
  std::string script =
      "echo " + std::to_string(instances) +
      " > /proc/sys/user/max_inotify_instances || exit 91\n"
      "mount --make-rprivate / && mount -t cgroup2 none /sys/fs/cgroup || exit 92\n" +
      warden_bin() + " agent --socket " + socket + " " + agent_args + " --log-level info 2>" + log +
      " &\n"
      "agent=$!\n"
      "i=0\n"
      "while [ ! -S " +
      socket +
      " ] && kill -0 $agent 2>/dev/null && [ $i -lt 500 ]; do\n"
      "  sleep 0.01; i=$((i + 1))\n"
      "done\n" +
      (hold ? probe_bin() + " hold-inotify 60 >" + held +
                  " &\n"
                  "holder=$!\n"
                  "i=0\n"
                  "while ! grep -q held=1 " +
                  held +
                  " && [ $i -lt 500 ]; do\n"
                  "  sleep 0.01; i=$((i + 1))\n"
                  "done\n"
                  "grep -q held=1 " +
                  held + " || exit 93\n"
            : std::string()) +
      "crun --cgroup-manager=disabled run --bundle " + bundle + " " + id +
      "\n"
      "echo container=$?\n" +
      (hold ? "kill $holder\n" : "") + "kill $agent 2>/dev/null; wait $agent; echo agent=$?\n";
  return run_native({"timeout", "60", "unshare", "-UrmC", "/bin/sh", "-c", script});
}

TEST_CASE(
    "agent: a session takes inotify instances only for what needs them, and names the limit") {
  // The instances are per user, 128 by default on the host, shared by everything root runs: a
  // session that needed one for nothing would cap the containers an agent can serve.
  SKIP_WITHOUT_CRUN();
  TempDir dir;
  std::string live_policy = dir.write("live.toml", "version = 1\n[quota]\nmax_live = 5\n");
  std::string audit_file = dir.file("audit.jsonl");
  struct Case {
    int instances;
    bool hold;  // another process holds one of them
    std::string agent_args;
    bool served;   // the container's memfd was allowed
    bool started;  // the agent started serving
  } cases[] = {
      // The default policy counts no live memfds, and /dev/null needs no watch: none at all.
      {0, false, "--audit /dev/null", true, true},
      // A live limit needs the ledger's; a file destination its own as well.
      {0, false, "--audit /dev/null --policy " + live_policy, false, true},
      {1, false, "--audit /dev/null --policy " + live_policy, true, true},
      {1, false, "--audit " + audit_file + " --policy " + live_policy, false, true},
      {2, false, "--audit " + audit_file + " --policy " + live_policy, true, true},
      // The agent's own check at start passed; the session finds none left for its file.
      {1, true, "--audit " + audit_file, false, true},
      // No session could open the file's watch: the agent says so at start, not per container.
      {0, false, "--audit " + audit_file, false, false},
  };
  int n = 0;
  for (const auto& c : cases) {
    CAPTURE(c.instances);
    CAPTURE(c.hold);
    CAPTURE(c.agent_args);
    std::string name = "limited-" + std::to_string(n++);
    std::string socket = dir.file(name + ".sock");
    std::string log = dir.file(name + ".log");
    std::string id = container_id("inotify");
    auto run = serve_in_namespace(
        c.instances, c.hold, c.agent_args, socket,
        make_bundle(dir, name, {"/bin/probe", "made-" + name, "0"}, socket, "", std::nullopt, true),
        id, log);
    std::ifstream in(log);
    std::string logged{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
    INFO("out: " << run.out << "err: " << run.err << "agent log: " << logged);
    REQUIRE(run.fact("container") != "");  // the namespace was set up (91-93: it was not)
    if (c.served) {
      CHECK(run.fact("container") == "0");
      CHECK(run.fact("link") == "/memfd:made-" + name + " (deleted)");
    } else if (c.started) {
      // The session ended without serving: the runtime's filter fails the call, never lets it
      // through unchecked.
      CHECK(run.fact("container") == std::to_string(ENOSYS));
      CHECK(logged.find("container " + id) != std::string::npos);
      if (c.agent_args.find(audit_file) != std::string::npos) {
        // Its run in the audit still ends sealed, with the reason (verified below).
        auto mine = records_of(audit_records(audit_file), id);
        REQUIRE(!mine.empty());
        CHECK(mine.back()["event"] == "summary");
        CHECK(mine.back()["error"].get<std::string>().find("max_user_instances") !=
              std::string::npos);
      }
    } else {
      CHECK(run.fact("agent") == "125");
      CHECK(run.fact("container") != "0");
    }
    if (!c.served) {
      CHECK(logged.find("raise fs.inotify.max_user_instances") != std::string::npos);
    }
  }
  auto verified = run_warden_raw({"verify", audit_file});
  INFO(verified.out << verified.err);
  CHECK(verified.exit_code == 0);
}

}  // namespace warden::test
