// libFuzzer: decoding of trapped calls. The input is a seccomp_data-like record (arch, nr, six
// arguments) followed by bytes that serve as a memfd name and as the head of a program file;
// everything the supervisor derives from them (which call, its growth arguments, the
// interpreter an exec would load, a container runtime's state message, the decision on a name)
// must hold up.
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>

#include "policy/decide.h"
#include "policy/default_policy.h"
#include "policy/memfd_flags.h"
#include "policy/policy_parse.h"
#include "supervisor/agent/oci_profile.h"
#include "supervisor/agent/oci_state.h"
#include "supervisor/calls/growth_args.h"
#include "supervisor/kernel/program_interpreter.h"
#include "supervisor/kernel/trapped_syscalls.h"

namespace {
const warden::Policy& policy() {
  static const warden::Policy parsed = [] {
    auto p = warden::parse_policy(R"(version = 1
[quota]
max_bytes = "1MiB"
[[rule]]
name_regex = "^(evil|stage)[0-9]*$"
action = "deny"
[[rule]]
name = "pool-*"
action = "allow"
max_bytes = 65536
max_live = 3
)",
                                  "fuzz");
    if (!p) std::abort();
    return std::move(p.value());
  }();
  return parsed;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  struct {
    uint32_t arch;
    int32_t nr;
    uint64_t args[6];
  } record{};
  if (size < sizeof(record)) return 0;
  std::memcpy(&record, data, sizeof(record));
  std::string tail(reinterpret_cast<const char*>(data) + sizeof(record), size - sizeof(record));

  if (auto call = warden::classify_syscall(record.arch, record.nr)) {
    std::array<uint64_t, 6> args{};
    std::memcpy(args.data(), record.args, sizeof(record.args));
    auto growth = warden::decode_growth_args(call->call, call->abi, args);
    if (growth.compat_iov != (call->abi != warden::Abi::kX86_64)) std::abort();
  }
  // The same bytes as a program file: "#!" lines and ELF headers, read as the kernel reads them.
  static const int program = ::memfd_create("fuzz-program", MFD_CLOEXEC);
  if (::ftruncate(program, 0) != 0 ||
      ::pwrite(program, tail.data(), tail.size(), 0) != static_cast<ssize_t>(tail.size())) {
    std::abort();
  }
  if (auto interpreter = warden::program_interpreter(program)) {
    const std::string& path = interpreter->path;
    if (path.empty() || path.find('\0') != std::string::npos || path.size() > 4096) std::abort();
    if (interpreter->is_program) {  // from a "#!" line: one word, within the first 255 bytes
      if (tail.compare(0, 2, "#!") != 0 || path.find_first_of(" \t\n") != std::string::npos ||
          path.size() > 253) {
        std::abort();
      }
    }
  }
  // The same bytes as a container runtime's state message with 0-2 fds attached.
  size_t fd_count = record.args[0] % 3;
  if (auto state = warden::parse_container_state(tail, fd_count)) {
    if (state->seccomp_fd_index >= fd_count || state->id.empty()) std::abort();
    if (auto requested = warden::requested_policy(*state); requested && requested.value()) {
      const std::string& chosen = requested.value()->name;
      if (chosen.empty() || chosen.size() > 64 || chosen == ".." ||
          chosen.find_first_of(std::string_view("/\n\0", 3)) != std::string::npos) {
        std::abort();  // it becomes a file name in the policy directory
      }
    }
    (void)warden::container_identity(*state);
  }
  // The same bytes as a profile to merge the agent's routing into: refused, or a profile that
  // is JSON again and names the agent's socket.
  static const auto rules = warden::filter_rules(warden::TrapAction::kUserNotify,
                                                 warden::TrapSet{true, false, true, true, true});
  if (auto merged = warden::merge_oci_profile(tail, "fuzz", rules, {"/s", "policy=x"})) {
    if (merged->json.find("\"listenerPath\": \"/s\"") == std::string::npos) std::abort();
  }
  uint32_t flags = static_cast<uint32_t>(record.args[1]);
  (void)warden::memfd_flags_invalid(flags);
  std::string name = tail.substr(0, std::min<size_t>(tail.size(), 249));
  if (name.find('\0') != std::string::npos) name.resize(name.find('\0'));
  std::vector<warden::RuleUsage> usage(policy().rules.size(), {record.args[2] % 5, record.args[3]});
  warden::QuotaState state{record.args[4] % 100, record.args[5] % 100, record.args[3], usage};
  auto verdict = warden::decide(
      policy(), {name, flags, "/usr/bin/x", warden::CreateCall::kMemfdCreate}, state);
  if (verdict.action == warden::Action::kDeny && verdict.errno_value == 0) std::abort();
  auto growth = warden::decide_growth(
      policy(),
      {warden::GrowthKind::kWrite, record.args[0] >> 8, record.args[1] >> 8, verdict.rule_index},
      state);
  if (growth.action == warden::Action::kDeny && record.args[1] >> 8 <= record.args[0] >> 8) {
    std::abort();  // a call that does not raise the charge is never refused
  }
  return 0;
}
