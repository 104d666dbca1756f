// warden_bench [--json] [--n N] [--only LETTERS]: one invocation measures, side by side on this
// machine (all cases, or those LETTERS name: --only bce):
//   a. memfd_create (+ close) and ftruncate natively;
//   b. the user-notification floor: CONTINUE without and with SYNC_WAKE_UP, ADDFD+SEND (the
//      cheapest way to hand over a memfd the supervisor made, which is how memfd-warden allows),
//      and the least a denial audited before its answer costs (bench_floor --audited-deny);
//   c. memfd-warden allow (audit to a file), the same counting live memfds (--count-live, as a
//      live or byte limit does), deny, and a quota-checked ftruncate;
//   d. the ptrace backend, allow and deny, and allow with 200 idle threads in the tree;
//   e. strace -f --seccomp-bpf -e trace=memfd_create;
//   f. an untrapped getpid natively, under the floor and under memfd-warden;
//   g. 1, 2, 8 and 32 threads creating memfds at once, natively and under memfd-warden;
//   h. a real workload: building a generated C project with make -j, natively and under
//      memfd-warden with its default policy;
//   i. a runc container under `memfd-warden agent` (allow, deny), beside the same policy under
//      `run` and the same container without the agent (needs root, runc and busybox-static);
//   s. start-up: `memfd-warden run -- /bin/true` and `bwrap --dev-bind / / --unshare-pid --
//      /bin/true`, whole processes, in turn (bwrap from Debian's bubblewrap, when installed);
//   r. real programs, where installed: a JVM with ZGC (which maps its heap through memfds),
//      headless Chromium dumping a local page's DOM, node, and the make build of h; natively,
//      under user notification and under ptrace, with the default policy, timed whole;
//   m. an executable mapping (mmap PROT_READ|PROT_EXEC + munmap) of a file on disk and of a
//      named file in /dev/shm, natively and under memfd-warden with its default policy;
//   x. diagnosis: the floor through epoll_wait, and the ADDFD floor, memfd-warden allow and
//      strace with everything pinned to one CPU (no wake-up crosses CPUs).
// Each figure is the median of three runs (h and i: of five, alternating), each itself the median
// of five rounds timed inside the target (bench_loop). Then the targets, as ratios from
// this run. See docs/performance.md.
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>
#include <string>
#include <vector>

extern char** environ;

namespace {

struct Row {
  std::string id;  // what targets refer to
  std::string label;
  std::string command;  // prints ns/op on stdout (h rows: run and timed here)
  std::string native;   // id of the row "x native" compares with
  std::string floor;    // id of the row "x floor" compares with ("" for none)
  bool timed_here = false;
  double value = -1;  // ns per call, or ms per build for timed_here rows; -1: could not run
};

constexpr const char* kAuditFile = "/tmp/warden-bench-audit.jsonl";
constexpr const char* kProjectDir = "/tmp/warden-bench-project";
constexpr const char* kRealDir = "/tmp/warden-bench-real";

// Case r's inputs: a Java program that allocates (compiled here, when javac is installed) and a
// page for Chromium. Returns the programs that can run, each with its command, or the reason.
struct RealProgram {
  std::string name;
  std::string command;  // empty: not run, `reason` says why
  std::string reason;
};

bool installed(const char* tool) {
  return std::system((std::string("command -v ") + tool + " >/dev/null 2>&1").c_str()) == 0;
}

std::vector<RealProgram> real_programs(const std::string& make) {
  std::filesystem::create_directories(kRealDir);
  std::string dir = kRealDir;
  std::vector<RealProgram> out;
  RealProgram jvm{"JVM, ZGC", "", ""};
  if (!installed("java") || !installed("javac")) {
    jvm.reason = "java and javac (openjdk) are not installed";
  } else {
    std::ofstream(dir + "/Churn.java")
        << "public class Churn { public static void main(String[] a) { long sum = 0;\n"
           "  for (int i = 0; i < 2000; ++i) { byte[] b = new byte[1 << 16]; b[i % b.length] = 1;"
           " sum += b.length; }\n  System.out.println(sum); } }\n";
    if (std::system(("javac -d " + dir + " " + dir + "/Churn.java").c_str()) == 0) {
      jvm.command = "java -XX:+UseZGC -Xmx256m -cp " + dir + " Churn";
    } else {
      jvm.reason = "javac failed";
    }
  }
  out.push_back(jvm);
  RealProgram browser{"Chromium --headless --dump-dom", "", ""};
  if (!installed("chromium")) {
    browser.reason = "chromium is not installed";
  } else {
    std::ofstream(dir + "/page.html")
        << "<!doctype html><title>bench</title><body><script>for (let i = 0; i < 200; ++i) {"
           " const p = document.createElement('p'); p.textContent = 'row ' + i;"
           " document.body.appendChild(p); }</script></body>\n";
    // Chromium's own sandbox needs user namespaces or setuid; memfd-warden is the sandbox here.
    browser.command = "chromium --headless --no-sandbox --disable-gpu --user-data-dir=" + dir +
                      "/profile --dump-dom file://" + dir + "/page.html";
  }
  out.push_back(browser);
  RealProgram node{"node", "", ""};
  if (!installed("node")) {
    node.reason = "node is not installed";
  } else {
    node.command = "node -e \"let s = 0; for (let i = 0; i < 3e7; ++i) s += i % 7; "
                   "console.log(s, new WebAssembly.Memory({initial: 16}).buffer.byteLength)\"";
  }
  out.push_back(node);
  out.push_back({"make -j (32 C files)", make, ""});
  return out;
}

double run_once(const Row& row) {
  std::remove(kAuditFile);  // the allow case appends to it; keep each run's file its own
  if (row.timed_here) {
    auto start = std::chrono::steady_clock::now();
    int status = std::system((row.command + " >/dev/null 2>&1").c_str());
    auto ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start);
    return status == 0 ? ms.count() : -1;
  }
  FILE* pipe = ::popen((row.command + " 2>/dev/null").c_str(), "r");
  if (pipe == nullptr) return -1;
  char line[128] = {};
  bool got = std::fgets(line, sizeof(line), pipe) != nullptr;
  int status = ::pclose(pipe);
  if (!got || status != 0) return -1;
  return std::atof(line);
}

double median(std::vector<double> values) {
  if (values.empty() || *std::min_element(values.begin(), values.end()) < 0) return -1;
  std::sort(values.begin(), values.end());
  return values[values.size() / 2];
}

// A C project with little memfd use, for case h: 32 translation units of ordinary code (string
// handling, a hash table, some arithmetic) and a Makefile.
void write_project() {
  ::mkdir(kProjectDir, 0755);
  std::string objects;
  for (int unit = 0; unit < 32; ++unit) {
    std::ofstream c(std::string(kProjectDir) + "/unit" + std::to_string(unit) + ".c");
    c << "#include <stdio.h>\n#include <stdlib.h>\n#include <string.h>\n#include <ctype.h>\n";
    for (int f = 0; f < 24; ++f) {
      std::string name = "u" + std::to_string(unit) + "_f" + std::to_string(f);
      c << "struct " << name << "_entry { char key[32]; long value; struct " << name
        << "_entry* next; };\n"
        << "static struct " << name << "_entry* " << name << "_table[64];\n"
        << "static unsigned " << name << "_hash(const char* s) { unsigned h = 5381;"
        << " while (*s) h = h * 33 + (unsigned char)*s++; return h % 64; }\n"
        << "long " << name << "(const char* text, int rounds) {\n"
        << "  char buffer[256]; long total = 0;\n"
        << "  for (int r = 0; r < rounds; ++r) {\n"
        << "    snprintf(buffer, sizeof buffer, \"%s-%d\", text, r);\n"
        << "    for (char* p = buffer; *p; ++p) *p = (char)toupper((unsigned char)*p);\n"
        << "    unsigned slot = " << name << "_hash(buffer);\n"
        << "    struct " << name << "_entry* e = " << name << "_table[slot];\n"
        << "    while (e && strcmp(e->key, buffer) != 0) e = e->next;\n"
        << "    if (!e) { e = calloc(1, sizeof *e); if (!e) return -1;"
        << " strncpy(e->key, buffer, sizeof e->key - 1); e->next = " << name
        << "_table[slot]; " << name << "_table[slot] = e; }\n"
        << "    e->value += r * " << f + 1 << "L; total += e->value % 97;\n"
        << "  }\n  return total;\n}\n";
    }
    objects += " unit" + std::to_string(unit) + ".o";
  }
  std::ofstream main_c(std::string(kProjectDir) + "/main.c");
  main_c << "int main(void) { return 0; }\n";
  std::ofstream make(std::string(kProjectDir) + "/Makefile");
  make << "CFLAGS = -O2 -Wall\nall: app\napp: main.o" << objects
       << "\n\t$(CC) -o $@ $^\n%.o: %.c\n\t$(CC) $(CFLAGS) -c -o $@ $<\n";
}

// Case i: bundles whose process is the static bench loop, served by an agent of their own.
constexpr const char* kContainerDir = "/tmp/warden-bench-containers";
constexpr const char* kContainerPolicy =
    "version = 1\n[[rule]]\nname = \"denied\"\naction = \"deny\"\n";

class ContainerBench {
 public:
  // Empty when the rows can run; else why not.
  std::string start(const std::string& warden, const std::string& static_loop, long n) {
    namespace fs = std::filesystem;
    if (::geteuid() != 0) return "needs root";
    if (std::system("command -v runc >/dev/null") != 0) return "runc is not installed";
    fs::remove_all(kContainerDir);
    fs::path dir = kContainerDir, rootfs = dir / "rootfs";
    for (const char* sub : {"proc", "dev", "sys", "tmp"}) fs::create_directories(rootfs / sub);
    fs::copy_file(static_loop, rootfs / "bench_loop");
    std::ofstream(dir / "policy.toml") << kContainerPolicy;
    socket_ = (dir / "agent.sock").string();
    std::string args[] = {warden, "agent", "--socket", socket_, "--policy",
                          (dir / "policy.toml").string(), "--audit", "/dev/null",
                          "--log-level", "off"};
    char* argv[std::size(args) + 1] = {};
    for (size_t i = 0; i < std::size(args); ++i) argv[i] = args[i].data();
    if (::posix_spawn(&agent_, argv[0], nullptr, nullptr, argv, environ) != 0) {
      return "cannot start the agent";
    }
    for (int i = 0; i < 500 && !accepts(); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    FILE* printed = ::popen((warden + " oci-profile --socket " + socket_ + " --policy " +
                             (dir / "policy.toml").string()).c_str(), "r");
    std::string profile_text;
    for (char buffer[4096]; std::fgets(buffer, sizeof(buffer), printed);) profile_text += buffer;
    if (::pclose(printed) != 0) return "oci-profile failed";
    auto profile = nlohmann::json::parse(profile_text);
    for (const auto& [name, op, routed] : {std::tuple{"allow", "memfd", true},
                                           std::tuple{"deny", "memfd-denied", true},
                                           std::tuple{"plain", "memfd", false}}) {
      fs::path bundle = dir / name;
      fs::create_directories(bundle);
      if (std::system(("runc spec --bundle " + bundle.string()).c_str()) != 0) {
        return "runc spec failed";
      }
      nlohmann::json config;
      std::ifstream(bundle / "config.json") >> config;
      config["process"]["terminal"] = false;
      config["process"]["args"] = {"/bench_loop", op, std::to_string(n)};
      config["root"] = {{"path", rootfs.string()}, {"readonly", true}};
      if (routed) config["linux"]["seccomp"] = profile;
      std::ofstream(bundle / "config.json") << config.dump(1);
    }
    return "";
  }
  // The container's loop; each run its own container id.
  std::string command(const char* bundle) const {
    return std::string("runc run --bundle ") + kContainerDir + "/" + bundle + " mwbench-$$";
  }
  ~ContainerBench() {
    if (agent_ > 0) {
      ::kill(agent_, SIGTERM);
      ::waitpid(agent_, nullptr, 0);
    }
    std::error_code ignored;
    std::filesystem::remove_all(kContainerDir, ignored);
  }

 private:
  bool accepts() const {
    int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::strncpy(address.sun_path, socket_.c_str(), sizeof(address.sun_path) - 1);
    bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0;
    ::close(fd);
    return ok;
  }
  std::string socket_;
  pid_t agent_ = -1;
};

std::string machine_description() {
  utsname names{};
  ::uname(&names);
  std::string cpu = "unknown CPU";
  std::ifstream info("/proc/cpuinfo");
  for (std::string line; std::getline(info, line);) {
    if (line.rfind("model name", 0) == 0) {
      cpu = line.substr(line.find(':') + 2);
      break;
    }
  }
  long cpus = ::sysconf(_SC_NPROCESSORS_ONLN);
  return cpu + ", " + std::to_string(cpus) + " CPUs, Linux " + names.release;
}

}  // namespace

int main(int argc, char** argv) {
  bool json = false;
  long n = 20000;
  std::string only;  // "bce": just the rows of cases b, c and e
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--json") == 0) json = true;
    if (std::strcmp(argv[i], "--n") == 0 && i + 1 < argc) n = std::atol(argv[++i]);
    if (std::strcmp(argv[i], "--only") == 0 && i + 1 < argc) only = argv[++i];
  }
  auto wanted = [&only](char letter) {
    return only.empty() || only.find(letter) != std::string::npos;
  };

  std::string dir = BENCH_DIR, warden = WARDEN_BIN;
  std::string loop = dir + "/bench_loop", floor_bin = dir + "/bench_floor";
  std::string count = " " + std::to_string(n);
  std::string thread_count = " " + std::to_string(std::max(1L, n / 5));  // g: 5x fewer calls
  std::string quiet = " --audit /dev/null --log-level off";
  std::string audit_file = std::string(" --audit ") + kAuditFile + " --log-level off";
  std::string deny = " --deny denied";
  std::string unotify = warden + " run --backend unotify";
  std::string make = "make -s -B -j" + std::to_string(::sysconf(_SC_NPROCESSORS_ONLN)) + " -C " +
                     kProjectDir;
  std::vector<Row> rows = {
      {"native", "a. native memfd_create+close", loop + " memfd" + count, "native", "floor"},
      {"native-ftruncate", "a. native ftruncate", loop + " ftruncate" + count, "native-ftruncate",
       ""},
      {"floor-nosync", "b. floor: CONTINUE", floor_bin + " " + loop + " memfd" + count, "native",
       "floor"},
      {"floor", "b. floor: CONTINUE + SYNC_WAKE_UP",
       floor_bin + " --sync " + loop + " memfd" + count, "native", "floor"},
      {"floor-addfd", "b. floor: ADDFD+SEND + SYNC_WAKE_UP",
       floor_bin + " --sync --addfd " + loop + " memfd" + count, "native", "floor"},
      {"floor-deny", "b. floor: audited deny (name, ID_VALID, a write) + SYNC_WAKE_UP",
       floor_bin + " --sync --audited-deny " + loop + " memfd-denied" + count, "native", "floor"},
      {"allow", "c. memfd-warden allow (audit to a file)",
       unotify + audit_file + " -- " + loop + " memfd" + count, "native", "floor"},
      {"allow-count-live", "c. memfd-warden allow, --count-live",
       unotify + " --count-live" + audit_file + " -- " + loop + " memfd" + count, "native",
       "floor"},
      {"deny", "c. memfd-warden deny",
       unotify + quiet + deny + " -- " + loop + " memfd-denied" + count, "native", "floor"},
      {"ftruncate", "c. memfd-warden ftruncate, quota-checked",
       unotify + " --max-bytes 1G" + quiet + " -- " + loop + " ftruncate" + count,
       "native-ftruncate", "floor"},
      {"ptrace-allow", "d. ptrace backend allow",
       warden + " run --backend ptrace" + quiet + " -- " + loop + " memfd" + count, "native",
       "floor"},
      {"ptrace-allow-idle", "d. ptrace backend allow, 200 idle threads",
       warden + " run --backend ptrace" + quiet + " -- " + loop + " memfd" + thread_count +
           " 1 200",
       "native", "floor"},
      {"ptrace-allow-fewer", "d. ptrace backend allow, as above without the idle threads",
       warden + " run --backend ptrace" + quiet + " -- " + loop + " memfd" + thread_count + " 1",
       "native", "floor"},
      {"ptrace-deny", "d. ptrace backend deny",
       warden + " run --backend ptrace" + quiet + deny + " -- " + loop + " memfd-denied" + count,
       "native", "floor"},
      {"strace", "e. strace -f --seccomp-bpf -e trace=memfd_create",
       "strace -o /dev/null -f --seccomp-bpf -e trace=memfd_create " + loop + " memfd" + count,
       "native", "floor"},
      {"getpid-native", "f. getpid native", loop + " getpid" + count, "getpid-native",
       "getpid-floor"},
      {"getpid-floor", "f. getpid under the floor", floor_bin + " " + loop + " getpid" + count,
       "getpid-native", "getpid-floor"},
      {"getpid", "f. getpid under memfd-warden",
       unotify + quiet + " -- " + loop + " getpid" + count, "getpid-native", "getpid-floor"},
  };
  for (const char* where : {"disk", "shm"}) {
    std::string op = std::string(" map-") + where;
    std::string what = std::string(where) == "disk" ? "a file on disk" : "a named /dev/shm file";
    rows.push_back({"map-" + std::string(where) + "-native", "m. native mapping of " + what,
                    loop + op + count, "map-" + std::string(where) + "-native", ""});
    rows.push_back({"map-" + std::string(where), "m. memfd-warden mapping of " + what,
                    unotify + quiet + " -- " + loop + op + count,
                    "map-" + std::string(where) + "-native", ""});
  }
  // Diagnosis, not targets: where the floor's time goes. epoll drops SYNC_WAKE_UP's same-CPU
  // wake-up; pinned to one CPU (taskset), no wake-up crosses CPUs.
  std::string pin = "taskset -c 0 ";
  rows.push_back({"floor-epoll", "x. floor: CONTINUE + SYNC_WAKE_UP, epoll_wait",
                  floor_bin + " --sync --epoll " + loop + " memfd" + count, "native", "floor"});
  rows.push_back({"floor-addfd-1cpu", "x. floor: ADDFD+SEND + SYNC_WAKE_UP, one CPU",
                  pin + floor_bin + " --sync --addfd " + loop + " memfd" + count, "native",
                  "floor"});
  rows.push_back({"allow-1cpu", "x. memfd-warden allow, one CPU",
                  pin + unotify + audit_file + " -- " + loop + " memfd" + count, "native",
                  "floor"});
  rows.push_back({"strace-1cpu", "x. strace, one CPU",
                  pin + "strace -o /dev/null -f --seccomp-bpf -e trace=memfd_create " + loop +
                      " memfd" + count,
                  "native", "floor"});
  for (int threads : {1, 2, 8, 32}) {
    std::string t = std::to_string(threads);
    rows.push_back({"native-" + t + "t", "g. native, " + t + " threads",
                    loop + " memfd" + thread_count + " " + t, "native", ""});
  }
  for (int threads : {1, 2, 8, 32}) {
    std::string t = std::to_string(threads);
    rows.push_back({"allow-" + t + "t", "g. memfd-warden allow, " + t + " threads",
                    unotify + quiet + " -- " + loop + " memfd" + thread_count + " " + t,
                    "native-" + t + "t", "floor"});
  }
  ContainerBench containers;
  std::string no_containers = containers.start(warden, dir + "/bench_loop_static", n);
  if (!no_containers.empty()) std::fprintf(stderr, "case i not run: %s\n", no_containers.c_str());
  std::string container_policy = std::string(" --policy ") + kContainerDir + "/policy.toml";
  rows.push_back({"run-policy-allow", "i. run, allow (the containers' policy)",
                  unotify + container_policy + quiet + " -- " + loop + " memfd" + count, "native",
                  "floor"});
  rows.push_back({"run-policy-deny", "i. run, deny (the containers' policy)",
                  unotify + container_policy + quiet + " -- " + loop + " memfd-denied" + count,
                  "native", "floor"});
  if (no_containers.empty()) {
    rows.push_back({"container-plain", "i. runc container, no agent", containers.command("plain"),
                    "native", ""});
    rows.push_back({"agent-allow", "i. runc container under the agent, allow",
                    containers.command("allow"), "native", "floor"});
    rows.push_back({"agent-deny", "i. runc container under the agent, deny",
                    containers.command("deny"), "native", "floor"});
  }
  bool have_bwrap = std::system("command -v bwrap >/dev/null") == 0;
  if (!have_bwrap) std::fprintf(stderr, "row s. bwrap not run: bubblewrap is not installed\n");
  rows.push_back({"start", "s. memfd-warden run -- /bin/true, ms",
                  warden + " run --audit /dev/null --log-level off -- /bin/true", "start-bwrap", "",
                  true});
  rows.push_back({"start-bwrap", "s. bwrap --dev-bind / / --unshare-pid -- /bin/true, ms",
                  have_bwrap ? "bwrap --dev-bind / / --unshare-pid -- /bin/true" : "false",
                  "start-bwrap", "", true});
  auto reals = real_programs(make);
  for (const auto& program : reals) {
    if (program.command.empty()) {
      std::fprintf(stderr, "rows r. %s not run: %s\n", program.name.c_str(),
                   program.reason.c_str());
    }
    std::string id = "real-" + program.name;
    std::string command = program.command.empty() ? "false" : program.command;
    rows.push_back({id + "-native", "r. " + program.name + ", native, ms", command,
                    id + "-native", "", true});
    rows.push_back({id + "-unotify", "r. " + program.name + ", user notification, ms",
                    unotify + " --audit /dev/null --log-level off -- " + command, id + "-native",
                    "", true});
    rows.push_back({id + "-ptrace", "r. " + program.name + ", ptrace, ms",
                    warden + " run --backend ptrace --audit /dev/null --log-level off -- " +
                        command,
                    id + "-native", "", true});
  }
  rows.push_back({"make-native", "h. make -j (32 C files), native, ms", make, "make-native", "",
                  true});
  rows.push_back({"make", "h. make -j (32 C files), memfd-warden, ms",
                  unotify + " --audit /dev/null --log-level off -- " + make, "make-native", "",
                  true});

  auto find = [&](const std::string& id) -> const Row* {
    for (const auto& row : rows) {
      if (row.id == id) return &row;
    }
    return nullptr;
  };
  for (auto& row : rows) {
    if (row.timed_here || row.label.rfind("i.", 0) == 0 ||
        !wanted(row.label[0])) {
      continue;
    }
    std::vector<double> runs;
    for (int i = 0; i < 3; ++i) runs.push_back(run_once(row));
    row.value = median(runs);
  }
  // i: the rows take turns, five rounds, so that drift on the machine falls on all of them alike
  // (agent against run is a 10% comparison, and this machine drifts by more from minute to minute).
  if (wanted('i')) {
    std::vector<std::pair<Row*, std::vector<double>>> turns;
    for (auto& row : rows) {
      if (row.label.rfind("i.", 0) == 0) turns.push_back({&row, {}});
    }
    for (int round = 0; round < 5; ++round) {
      for (auto& [row, runs] : turns) runs.push_back(run_once(*row));
    }
    for (auto& [row, runs] : turns) row->value = median(runs);
  }
  // s: the two start-ups alternate, 31 of each after one warm-up; run_once's std::system adds the
  // same shell to both.
  if (wanted('s')) {
    Row* start = nullptr;
    Row* bwrap = nullptr;
    for (auto& row : rows) {
      if (row.id == "start") start = &row;
      if (row.id == "start-bwrap") bwrap = &row;
    }
    run_once(*start);
    run_once(*bwrap);
    std::vector<double> ours, theirs;
    for (int i = 0; i < 31; ++i) {
      ours.push_back(run_once(*start));
      theirs.push_back(run_once(*bwrap));
    }
    start->value = median(ours);
    bwrap->value = median(theirs);
  }
  // r: native, user notification and ptrace take turns, one warm-up and five timed runs each.
  if (wanted('r')) {
    write_project();
    for (const auto& program : reals) {
      if (program.command.empty()) continue;
      std::string id = "real-" + program.name;
      std::vector<Row*> modes;
      for (const char* mode : {"-native", "-unotify", "-ptrace"}) {
        for (auto& row : rows) {
          if (row.id == id + mode) modes.push_back(&row);
        }
      }
      std::vector<std::vector<double>> runs(modes.size());
      for (Row* row : modes) run_once(*row);
      for (int round = 0; round < 5; ++round) {
        for (size_t m = 0; m < modes.size(); ++m) runs[m].push_back(run_once(*modes[m]));
      }
      for (size_t m = 0; m < modes.size(); ++m) modes[m]->value = median(runs[m]);
    }
  }
  // h: the two builds alternate, so that drift on the machine falls on both.
  if (wanted('h')) {
  write_project();
  std::vector<double> native_builds, warden_builds;
  Row& make_native = rows[rows.size() - 2];
  Row& make_warden = rows[rows.size() - 1];
  run_once(make_native);  // warm the page cache and make's view of the tree
  for (int i = 0; i < 5; ++i) {
    native_builds.push_back(run_once(make_native));
    warden_builds.push_back(run_once(make_warden));
  }
  make_native.value = median(native_builds);
  make_warden.value = median(warden_builds);
  }

  auto ratio = [&](const Row& row, const std::string& base_id) {
    const Row* base = find(base_id);
    if (base == nullptr || base->value <= 0 || row.value <= 0) return -1.0;
    return row.value / base->value;
  };
  auto value = [&](const char* id) {
    const Row* row = find(id);
    return row == nullptr ? -1.0 : row->value;
  };
  auto quotient = [](double a, double b) { return a > 0 && b > 0 ? a / b : -1.0; };
  struct Target {
    const char* what;
    double measured;
    double limit;
    bool at_most;  // measured must be <= limit (else >=)
  };
  std::vector<Target> targets = {
      {"allow / floor (CONTINUE + SYNC_WAKE_UP)", quotient(value("allow"), value("floor")), 1.35,
       true},
      {"allow / floor (ADDFD+SEND + SYNC_WAKE_UP)", quotient(value("allow"), value("floor-addfd")),
       1.35, true},
      {"deny / floor (CONTINUE + SYNC_WAKE_UP)", quotient(value("deny"), value("floor")), 1.15,
       true},
      // Not a target: how much of deny's 1.15 the least an audited, race-safe deny leaves.
      {"audited-deny floor / floor (deny's room)", quotient(value("floor-deny"), value("floor")),
       1.15, true},
      {"strace / allow (how much faster)", quotient(value("strace"), value("allow")), 1.5, false},
      {"start-up: run -- /bin/true / bwrap", quotient(value("start"), value("start-bwrap")), 1.0,
       true},
      {"ptrace allow: 200 idle threads / none",
       quotient(value("ptrace-allow-idle"), value("ptrace-allow-fewer")), 3.0, true},
      {"getpid under memfd-warden / under the floor",
       quotient(value("getpid"), value("getpid-floor")), 1.05, true},
      {"make under memfd-warden / native", quotient(value("make"), value("make-native")), 1.02,
       true},
      {"agent in a runc container / run, allow",
       quotient(value("agent-allow"), value("run-policy-allow")), 1.10, true},
      {"agent in a runc container / run, deny",
       quotient(value("agent-deny"), value("run-policy-deny")), 1.10, true},
      {"throughput, 32 threads / 1 thread (memfd-warden)",
       quotient(value("allow-1t"), value("allow-32t")), 0.80, false},
  };

  std::string machine = machine_description();
  if (json) {
    nlohmann::ordered_json out;
    out["machine"] = machine;
    out["rows"] = nlohmann::ordered_json::array();
    for (const auto& row : rows) {
      out["rows"].push_back({{"case", row.label},
                             {"unit", row.timed_here ? "ms" : "ns"},
                             {"value", row.value},
                             {"x_native", ratio(row, row.native)},
                             {"x_floor", row.floor.empty() ? -1 : ratio(row, row.floor)}});
    }
    out["targets"] = nlohmann::ordered_json::array();
    for (const auto& t : targets) {
      bool met = t.measured > 0 && (t.at_most ? t.measured <= t.limit : t.measured >= t.limit);
      out["targets"].push_back({{"target", t.what},
                                {"measured", t.measured},
                                {"limit", t.limit},
                                {"at_most", t.at_most},
                                {"met", met}});
    }
    std::printf("%s\n", out.dump(2).c_str());
  } else {
    std::printf("%s\n\n%-46s %12s %9s %9s\n", machine.c_str(), "case", "ns/call", "x native",
                "x floor");
    for (const auto& row : rows) {
      if (row.value < 0) {
        std::printf("%-46s %12s\n", row.label.c_str(), "(not run)");
        continue;
      }
      double native = ratio(row, row.native);
      double floor = row.floor.empty() ? -1 : ratio(row, row.floor);
      std::printf("%-46s %12.0f %9.2f", row.label.c_str(), row.value, native);
      if (floor > 0) std::printf(" %9.2f", floor);
      std::printf("\n");
    }
    std::printf("\n%-50s %9s %9s  %s\n", "target", "measured", "limit", "met");
    for (const auto& t : targets) {
      bool met = t.measured > 0 && (t.at_most ? t.measured <= t.limit : t.measured >= t.limit);
      std::printf("%-50s %9.2f %s%8.2f  %s\n", t.what, t.measured, t.at_most ? "<=" : ">=",
                  t.limit, met ? "yes" : "no");
    }
  }
  std::remove(kAuditFile);
  return 0;
}
