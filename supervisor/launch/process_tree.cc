#include "supervisor/launch/process_tree.h"

#include <dirent.h>
#include <spdlog/spdlog.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <vector>

#include "supervisor/kernel/kernel_abi.h"

namespace warden {

namespace {

// Field 4 of /proc/PID/stat (ppid): it follows the last ')' of the comm field, which may itself
// contain ')'. 0 when the process is gone.
pid_t parent_of(long pid) {
  char path[64];
  std::snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
  FILE* stat = std::fopen(path, "re");
  if (stat == nullptr) return 0;
  char line[512] = {};
  bool read_ok = std::fgets(line, sizeof(line), stat) != nullptr;
  std::fclose(stat);
  const char* close = read_ok ? std::strrchr(line, ')') : nullptr;
  int ppid = 0;
  if (close == nullptr || std::sscanf(close + 1, " %*c %d", &ppid) != 1) return 0;
  return static_cast<pid_t>(ppid);
}

bool descends_from(long pid, pid_t ancestor) {
  for (int depth = 0; pid > 1 && depth < 4096; ++depth) {
    pid = parent_of(pid);
    if (pid == ancestor) return true;
  }
  return false;
}

template <typename Visit>
void for_each_process(Visit visit) {
  DIR* proc = ::opendir("/proc");
  if (proc == nullptr) return;
  while (dirent* entry = ::readdir(proc)) {
    char* end = nullptr;
    long pid = std::strtol(entry->d_name, &end, 10);
    if (pid > 0 && *end == '\0') visit(pid);
  }
  ::closedir(proc);
}

}  // namespace

void kill_descendants() {
  pid_t self = ::getpid();
  std::vector<UniqueFd> found;
  for (int round = 0; round < 3; ++round) {
    // All found first, then all killed: a parent killed first would leave its children to the
    // init or a subreaper, no longer our descendants by ppid.
    found.clear();
    for_each_process([&](long pid) {
      if (pid == self || !descends_from(pid, self)) return;
      UniqueFd pidfd(sys::pidfd_open(static_cast<pid_t>(pid)));
      // Looked at again with the process held: what is at that pid now is what we signal.
      if (pidfd.valid() && descends_from(pid, self)) found.push_back(std::move(pidfd));
    });
    if (found.empty()) return;
    for (const UniqueFd& pidfd : found) sys::pidfd_send_signal(pidfd.get(), SIGKILL);
  }
}

bool ProcessTree::reap() {
  for (;;) {
    int status = 0;
    pid_t pid = ::waitpid(-1, &status, WNOHANG | __WALL);
    if (pid > 0) {
      if (pid == main_pid_) main_status_ = status;
      continue;
    }
    if (pid == 0) {  // children remain
      tend();
      return false;
    }
    if (errno == EINTR) continue;
    return errno == ECHILD && main_status_.has_value();
  }
}

// Our children, by pid: the re-parented rest of the tree once the main target is gone. Their
// pids cannot be reused while they are our unreaped children, so kill() by pid is safe.
template <typename Visit>
void ProcessTree::for_each_child(Visit visit) const {
  pid_t self = ::getpid();
  for_each_process([&](long pid) {
    if (pid != main_pid_ && parent_of(pid) == self) visit(static_cast<pid_t>(pid));
  });
}

void ProcessTree::tend() {
  if (!main_status_ || !rule_.end) return;
  auto now = std::chrono::steady_clock::now();
  if (!ending_) {
    ending_ = true;
    deadline_ = now + rule_.grace;
  }
  if (!killing_ && now >= deadline_) killing_ = true;
  for_each_child([&](pid_t pid) {
    bool first = ended_.insert(pid).second;
    if (killing_) {
      ::kill(pid, SIGKILL);
    } else if (first) {
      ::kill(pid, SIGTERM);
      ::kill(pid, SIGCONT);  // a stopped process acts on SIGTERM only once it runs
    }
  });
}

int ProcessTree::wait_timeout_ms() const {
  if (!ending_ || killing_) return -1;
  auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline_ -
                                                           std::chrono::steady_clock::now());
  return left.count() > 0 ? static_cast<int>(left.count()) : 0;
}

void ProcessTree::forward(int sig) {
  if (!main_status_) {
    if (sys::pidfd_send_signal(main_pidfd_.get(), sig) == 0) return;
    if (errno != ESRCH) {
      spdlog::warn("forwarding signal {} to the target: {}", sig, std::strerror(errno));
      return;
    }
  }
  for_each_child([sig](pid_t pid) { ::kill(pid, sig); });
}

int ProcessTree::exit_code() const {
  if (!main_status_) return 125;
  int status = *main_status_;
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return 125;
}

}  // namespace warden
