// warden_bench [--json] [--n N]: one invocation measures, side by side on this machine, the cost
// per call of memfd_create (+ close) natively, under the user-notification floor (with and
// without SYNC_WAKE_UP), under memfd-warden (allow, deny, a quota-checked ftruncate) with each
// backend, and under strace; and the cost of an untrapped getpid. Each figure is the median of
// three runs, each itself the median of five rounds inside the target (bench_loop). Ratios are
// against native (a) and against the floor (b). See docs/performance.md.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace {

struct Row {
  std::string label;
  std::string command;  // prints ns/op on stdout
  double ns = -1;       // median; -1: could not run
};

double run_once(const std::string& command) {
  FILE* pipe = ::popen((command + " 2>/dev/null").c_str(), "r");
  if (pipe == nullptr) return -1;
  char line[128] = {};
  bool got = std::fgets(line, sizeof(line), pipe) != nullptr;
  int status = ::pclose(pipe);
  if (!got || status != 0) return -1;
  return std::atof(line);
}

constexpr const char* kAuditFile = "/tmp/warden-bench-audit.jsonl";

double median_of_three(const std::string& command) {
  std::vector<double> runs;
  for (int i = 0; i < 3; ++i) {
    std::remove(kAuditFile);  // the allow case appends to it; keep each run's file its own
    double ns = run_once(command);
    if (ns < 0) return -1;
    runs.push_back(ns);
  }
  std::sort(runs.begin(), runs.end());
  return runs[1];
}

}  // namespace

int main(int argc, char** argv) {
  bool json = false;
  long n = 20000;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--json") == 0) json = true;
    if (std::strcmp(argv[i], "--n") == 0 && i + 1 < argc) n = std::atol(argv[++i]);
  }
  std::string dir = BENCH_DIR, warden = WARDEN_BIN;
  std::string loop = dir + "/bench_loop", floor_bin = dir + "/bench_floor";
  std::string count = " " + std::to_string(n);
  std::string quiet = " --audit /dev/null --log-level off";
  std::string audit_file = std::string(" --audit ") + kAuditFile + " --log-level off";
  std::string deny = " --deny denied";
  std::vector<Row> rows = {
      {"a. native memfd_create+close", loop + " memfd" + count},
      {"b. floor (CONTINUE)", floor_bin + " " + loop + " memfd" + count},
      {"b. floor (CONTINUE) + SYNC_WAKE_UP", floor_bin + " --sync " + loop + " memfd" + count},
      {"c. memfd-warden allow (audit to a file)",
       warden + " run --backend unotify" + audit_file + " -- " + loop + " memfd" + count},
      {"c. memfd-warden deny",
       warden + " run --backend unotify" + quiet + deny + " -- " + loop + " memfd-denied" + count},
      {"c. memfd-warden ftruncate, quota-checked",
       warden + " run --backend unotify --max-bytes 1G" + quiet + " -- " + loop + " ftruncate" +
           count},
      {"d. ptrace backend allow",
       warden + " run --backend ptrace" + quiet + " -- " + loop + " memfd" + count},
      {"d. ptrace backend deny",
       warden + " run --backend ptrace" + quiet + deny + " -- " + loop + " memfd-denied" + count},
      {"e. strace -f --seccomp-bpf -e trace=memfd_create",
       "strace -o /dev/null -f --seccomp-bpf -e trace=memfd_create " + loop + " memfd" + count},
      {"f. getpid native", loop + " getpid" + count},
      {"f. getpid under the floor", floor_bin + " " + loop + " getpid" + count},
      {"f. getpid under memfd-warden",
       warden + " run --backend unotify" + quiet + " -- " + loop + " getpid" + count},
  };
  for (auto& row : rows) row.ns = median_of_three(row.command);
  double native = rows[0].ns, floor_ns = rows[1].ns;
  nlohmann::ordered_json out = nlohmann::ordered_json::array();
  if (!json) std::printf("%-50s %12s %10s %10s\n", "case", "ns/call", "x native", "x floor");
  for (const auto& row : rows) {
    bool getpid_row = row.label.rfind("f.", 0) == 0;
    double base = getpid_row ? rows[9].ns : native;
    double floor_base = getpid_row ? rows[10].ns : floor_ns;
    if (json) {
      out.push_back({{"case", row.label},
                     {"ns_per_call", row.ns},
                     {"x_native", row.ns > 0 ? row.ns / base : -1},
                     {"x_floor", row.ns > 0 ? row.ns / floor_base : -1}});
    } else if (row.ns < 0) {
      std::printf("%-50s %12s\n", row.label.c_str(), "(not run)");
    } else {
      std::printf("%-50s %12.0f %10.2f %10.2f\n", row.label.c_str(), row.ns, row.ns / base,
                  row.ns / floor_base);
    }
  }
  if (json) std::printf("%s\n", out.dump(2).c_str());
  std::remove(kAuditFile);
  return 0;
}
