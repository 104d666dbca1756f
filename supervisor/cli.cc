#include "supervisor/cli.h"

#include <unistd.h>

#include <CLI/CLI.hpp>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>
#include <tuple>

#include "policy/default_policy.h"
#include "policy/policy_parse.h"
#include "policy/policy_print.h"
#include "policy/printable.h"
#include "policy/sizes.h"
#include "supervisor/agent/oci_profile.h"
#include "supervisor/calls/audit_observations.h"
#include "supervisor/calls/audit_verify.h"
#include "supervisor/kernel/kernel_probe.h"

namespace warden {
namespace {

int report_error(const std::string& message) { return exit_with_error(kExitUsage, message); }

// The lines of a log that were not records (cut short by a full disk, most likely), said on stderr
// for report and suggest, which read on without them.
void warn_skipped(const std::vector<std::string>& skipped) {
  if (skipped.empty()) return;
  std::cerr << "memfd-warden: warning: " << skipped.size()
            << " line(s) are not audit records (cut short?) and were skipped: "
            << printable(skipped.front()) << (skipped.size() > 1 ? " and more" : "")
            << "; `memfd-warden verify` says what the log lacks" << std::endl;
}

// `memfd-warden oci-profile`: the profile on stdout, what a merge kept as it was on stderr.
int print_oci_profile(const std::string& socket, const std::optional<std::string>& policy_path,
                      const std::string& metadata, const std::optional<std::string>& merge) {
  auto policy = load_policy_file(policy_path);
  if (!policy) return report_error(policy.error().message());
  auto fit = check_container_policy(*policy, policy_path.value_or("<default policy>"));
  if (!fit) return report_error(fit.error().message());
  ProfileRequest request{socket, metadata};
  auto rules = filter_rules(TrapAction::kUserNotify, traps_for(*policy));
  Profile profile;
  if (merge) {
    std::ifstream in(*merge, std::ios::binary);
    if (!in) return report_error(errno_error("cannot read the profile " + *merge).message());
    std::ostringstream text;
    text << in.rdbuf();
    auto merged = merge_oci_profile(text.str(), *merge, rules, request);
    if (!merged) return report_error(merged.error().message());
    profile = std::move(merged.value());
  } else {
    profile = oci_profile(rules, request);
  }
  for (const auto& note : profile.notes) std::cerr << "memfd-warden: note: " << note << "\n";
  std::cout << profile.json;
  return 0;
}

}  // namespace

Result<Policy> load_policy_file(const std::optional<std::string>& path) {
  if (!path) return parse_policy(default_policy_text(), "<default policy>");
  std::ifstream in(*path, std::ios::binary);
  if (!in) return errno_error("cannot read policy file " + *path);
  std::error_code ignored;
  if (std::filesystem::is_directory(*path, ignored)) {
    return Error{0, "cannot read policy file " + *path + ": it is a directory"};
  }
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return errno_error("cannot read policy file " + *path);
  return parse_policy(text.str(), *path);
}

int exit_with_error(int code, const std::string& message) {
  std::cerr << "memfd-warden: error: " << message << std::endl;
  return code;
}

CliOutcome parse_command_line(int argc, char** argv) {
  CliOutcome outcome;
  CLI::App app{
      "memfd-warden: run a program and decide each memfd_create in its process tree\n"
      "before the kernel acts (seccomp user notification)."};
  app.name("memfd-warden");
  app.set_version_flag("--version", kVersion);
  app.require_subcommand(1);
  app.footer(
      "\nDocs: README.md, docs/policy.md, docs/architecture.md. "
      "Try: memfd-warden run --help");
  app.get_formatter()->column_width(30);

  // run
  CLI::App* run = app.add_subcommand("run", "Run PROGRAM under the policy");
  run->footer(
      "\nUsage: memfd-warden run [OPTIONS] -- PROGRAM [ARGS...]\n\n"
      "Without --policy the embedded default applies (see: memfd-warden policy --default).\n"
      "Exit status: the target's own (128+N if it died of signal N); 2 for a bad command line\n"
      "or policy (nothing ran); 125 when memfd-warden itself failed; 126 when PROGRAM cannot\n"
      "be executed; 127 when it is not found. SIGINT, SIGTERM and SIGHUP are forwarded.");
  std::optional<std::string> policy_path;
  std::vector<std::string> allow_globs, deny_globs;
  std::string default_action;
  std::optional<std::string> max_calls, max_live, max_bytes, max_memfd_bytes;
  bool strict_writes = false;
  RunCommand command;
  run->add_option("--policy", policy_path,
                  "Policy file (TOML, see docs/policy.md); default: the embedded policy")
      ->check(CLI::ExistingFile);
  CLI::Option* allow_opt =
      run->add_option("--allow", allow_globs,
                      "Allow memfd names matching GLOB (repeatable; before the file's rules)");
  CLI::Option* deny_opt = run->add_option(
      "--deny", deny_globs, "Deny memfd names matching GLOB with EPERM (repeatable; ditto)");
  allow_opt->type_name("GLOB")->allow_extra_args(false);
  deny_opt->type_name("GLOB")->allow_extra_args(false);
  run->add_option("--default", default_action, "Action when no rule matches")
      ->check(CLI::IsMember({"allow", "deny", "kill"}))
      ->type_name("allow|deny|kill");
  run->add_option("--max-calls", max_calls,
                  "Successful memfd_create and memfd_secret calls allowed over the run")
      ->type_name("N");
  run->add_option("--max-live", max_live, "memfds alive at once across the tree")->type_name("N");
  run->add_option("--max-bytes", max_bytes,
                  "Bytes the tree's live memfds may hold in all (e.g. 512MiB, 2G); with any byte "
                  "limit memfds take no extended attributes (EOPNOTSUPP), and once the tree takes "
                  "on a Landlock domain, truncate and setxattr by path fail (EACCES)")
      ->type_name("SIZE");
  run->add_option("--max-memfd-bytes", max_memfd_bytes, "Bytes any one memfd may hold")
      ->type_name("SIZE");
  run->add_flag("--strict-writes", strict_writes,
                "With a byte limit, also check memfd growth through write/pwrite/writev/... "
                "(traps every write); alone, no effect but a warning");
  std::string audit_file = "-";
  std::optional<int> audit_fd;
  std::optional<std::string> audit_socket;
  CLI::Option* audit_file_opt =
      run->add_option("--audit", audit_file,
                      "Audit log (JSON lines): FILE (appended to), or - for stderr")
          ->capture_default_str();
  CLI::Option* audit_fd_opt =
      run->add_option("--audit-fd", audit_fd,
                      "Write the audit to inherited fd N (e.g. a pipe to a log shipper); the "
                      "target never holds it")
          ->type_name("N");
  CLI::Option* audit_socket_opt =
      run->add_option("--audit-socket", audit_socket,
                      "Send the audit to the unix socket at PATH (stream, seqpacket or datagram)")
          ->type_name("PATH");
  audit_file_opt->excludes(audit_fd_opt)->excludes(audit_socket_opt);
  audit_fd_opt->excludes(audit_socket_opt);
  run->add_flag("--count-live", command.count_live,
                "Count the memfds alive in the tree even when no limit needs it (one inotify watch "
                "per admitted memfd), so that the audit's live figures, report and suggest have "
                "them; without a live or byte limit, or a rule with its own exec, they are null");
  run->add_flag("--record-exe", command.record_exe,
                "Record the caller's executable and comm for every call; by default a record of an "
                "allowed call has them only when a rule matches on exe (refusals always have "
                "them); without it an allowed call costs fewer system calls");
  run->add_flag("--audit-strict", command.audit_strict,
                "End the run (exit 125) when the audit file is truncated, unlinked or renamed "
                "under memfd-warden");
  std::string on_exit = "kill";
  run->add_option("--on-supervisor-exit", on_exit,
                  "If memfd-warden itself dies: kill (the whole tree dies with it) or enosys "
                  "(the tree runs on; its trapped calls fail with ENOSYS)")
      ->check(CLI::IsMember({"kill", "enosys"}))
      ->capture_default_str();
  std::string orphans = "end";
  run->add_option("--orphans", orphans,
                  "When PROGRAM exits, what it left running: end (SIGTERM, then SIGKILL after "
                  "--orphans-grace; the run is over) or wait (the run lasts until every "
                  "descendant has exited)")
      ->check(CLI::IsMember({"end", "wait"}))
      ->capture_default_str();
  std::string orphans_grace = "2s";
  run->add_option("--orphans-grace", orphans_grace,
                  "With --orphans end: how long they have between SIGTERM and SIGKILL (e.g. 500ms, "
                  "10s; at most 3600s)")
      ->type_name("DURATION")
      ->capture_default_str();
  std::string backend = "auto";
  run->add_option("--backend", backend,
                  "unotify (seccomp user notification), ptrace, or auto: unotify where the "
                  "kernel has all it needs, else ptrace (see: memfd-warden probe)")
      ->check(CLI::IsMember({"auto", "unotify", "ptrace"}))
      ->capture_default_str();
  std::optional<std::string> user_spec;
  run->add_option("--user", user_spec,
                  "Run PROGRAM as USER (and GROUP): names from /etc/passwd and /etc/group, or "
                  "numbers; needs memfd-warden to run as root")
      ->type_name("USER[:GROUP]");
  run->add_flag(
      "--keep-caps", command.keep_caps,
      "Let a root PROGRAM keep the capabilities that reach memfd-warden (" +
          reaching_capability_names() +
          "), which are dropped by default; it can then find memfd-warden, open its memory and "
          "write to the cgroup tree");
  run->add_flag(
      "--dry-run", command.dry_run,
      "Decide and audit, but let through what the policy or a quota would refuse "
      "(audited as would-deny, would-kill); what it refuses to stay safe still fails (see "
      "the README)");
  run->add_flag(
      "--fail-on-deny", command.fail_on_deny,
      "Exit 3 when PROGRAM exits 0 but a call was denied or killed, or with --dry-run "
      "would have been (to gate a CI job on a trial run); an abort, its caller gone, does not "
      "count");
  run->add_option("--log-level", outcome.log_level, "Human log level on stderr")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "critical", "off"}))
      ->capture_default_str();
  run->add_option("command", command.command, "PROGRAM [ARGS...] (after --)")->required();
  run->positionals_at_end();

  // agent
  CLI::App* agent = app.add_subcommand(
      "agent",
      "Serve containers as the seccomp agent of runc or crun: a profile whose listenerPath is "
      "SOCKET sends each container's calls here (docs/containers.md)");
  AgentCommand agent_command;
  agent
      ->add_option("--socket", agent_command.socket_path,
                   "The unix socket to listen on (made 0600; a stale one is replaced)")
      ->required()
      ->type_name("PATH");
  agent
      ->add_option("--policy", agent_command.policy_path,
                   "The policy for containers that name none (default: the embedded one)")
      ->type_name("FILE");
  agent
      ->add_option("--policy-dir", agent_command.policy_dir,
                   "Named policies, DIR/NAME.toml, chosen by the profile's listenerMetadata "
                   "policy=NAME (or, with --policy-annotation, the annotation "
                   "io.memfd-warden.policy)")
      ->type_name("DIR");
  agent->add_flag(
      "--policy-annotation", agent_command.policy_annotation,
      "Let the annotation io.memfd-warden.policy choose a container's policy where its "
      "profile's listenerMetadata names none. Off by default, because whoever writes a "
      "Kubernetes pod sets its annotations: a container that asks by annotation then has every "
      "memfd refused");
  std::string agent_audit = "-";
  agent
      ->add_option("--audit", agent_audit,
                   "Audit file (appended; one run per container), or - for stderr")
      ->type_name("FILE")
      ->capture_default_str();
  agent->add_flag(
      "--record-exe", agent_command.record_exe,
      "Record the caller's executable and comm for every call; by default a record of an "
      "allowed call has them only when a rule matches on exe (refusals always have "
      "them); without it an allowed call costs fewer system calls");
  agent->add_option("--log-level", outcome.log_level, "Human log level on stderr")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "critical", "off"}))
      ->capture_default_str();

  // oci-profile
  CLI::App* profile = app.add_subcommand(
      "oci-profile",
      "Print the seccomp profile (OCI linux.seccomp, or a Kubernetes Localhost profile) that "
      "routes exactly the calls a policy needs to the agent at SOCKET, on x86_64, i386 and x32");
  std::string profile_socket;
  profile->add_option("--socket", profile_socket, "The agent's socket (listenerPath)")
      ->required()
      ->type_name("PATH");
  std::optional<std::string> profile_policy;
  profile
      ->add_option("--policy", profile_policy,
                   "The policy the container will be served with (default: the embedded one)")
      ->type_name("FILE");
  std::string profile_metadata;
  profile
      ->add_option("--metadata", profile_metadata,
                   "listenerMetadata, e.g. policy=NAME to choose a policy of --policy-dir")
      ->type_name("TEXT");
  std::optional<std::string> profile_merge;
  profile
      ->add_option("--merge", profile_merge,
                   "Add the routing to this profile (e.g. a runtime's default) without "
                   "weakening any of its rules; refused where that cannot be done safely")
      ->type_name("FILE");

  // suggest
  CLI::App* suggest = app.add_subcommand(
      "suggest",
      "Print a policy that admits what the recorded runs did and nothing more (from audit logs "
      "of run --dry-run, run, or the agent)");
  std::vector<std::string> suggest_paths;
  suggest->add_option("FILE", suggest_paths, "Audit log(s)")->required();
  unsigned headroom = 25;
  suggest->add_option("--headroom", headroom, "Quotas: the observed peak plus PERCENT, rounded up, and at least one more than the peak")
      ->type_name("PERCENT")
      ->check(CLI::Range(0U, 1000U))
      ->capture_default_str();
  std::string suggest_default = "deny";
  suggest->add_option("--default", suggest_default, "What the policy does with anything else")
      ->check(CLI::IsMember({"deny", "allow"}))
      ->capture_default_str();
  std::optional<std::string> suggest_container;
  suggest
      ->add_option("--container", suggest_container,
                   "Only the records of this container (its id, name or pod), from the agent")
      ->type_name("NAME");

  // report
  CLI::App* report = app.add_subcommand(
      "report",
      "Summarise audit logs: runs and their peaks, decisions per executable and name, refusals "
      "with their reasons; as text, Markdown (a CI job summary) or one HTML page with charts");
  std::vector<std::string> report_paths;
  report->add_option("FILE", report_paths, "Audit log(s)")->required();
  std::string report_format = "text";
  report->add_option("--format", report_format, "text, markdown or html (printed to stdout)")
      ->check(CLI::IsMember({"text", "markdown", "html"}))
      ->capture_default_str();
  std::optional<std::string> report_container;
  report
      ->add_option("--container", report_container,
                   "Only the records of this container (its id, name or pod), from the agent")
      ->type_name("NAME");

  // check
  CLI::App* check = app.add_subcommand("check", "Validate a policy file and print it normalized");
  std::string check_path;
  check->add_option("FILE", check_path, "Policy file")->required();

  // verify
  CLI::App* verify = app.add_subcommand(
      "verify",
      "Check audit logs: every run complete, unaltered and sealed. Exit 0 if so, 1 if not, 2 "
      "if a file cannot be read");
  std::vector<std::string> verify_paths;
  verify
      ->add_option("FILE", verify_paths,
                   "Audit log(s), read in the order given (rotated logs: "
                   "oldest first)")
      ->required();

  // probe
  CLI::App* probe = app.add_subcommand(
      "probe", "Show which kernel features memfd-warden finds here, and what --backend auto picks");

  // policy
  CLI::App* policy_cmd = app.add_subcommand("policy", "Print a policy");
  bool print_default = false;
  policy_cmd->add_flag("--default", print_default, "Print the embedded default policy")->required();

  // Command-line errors read like every other fatal error.
  app.failure_message([](const CLI::App*, const CLI::Error& e) {
    return std::string("memfd-warden: error: ") + e.what() +
           "\nRun with --help for more information.\n";
  });
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    outcome.exit_code = app.exit(e);
    return outcome;
  } catch (const CLI::CallForVersion& e) {
    outcome.exit_code = app.exit(e);
    return outcome;
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    outcome.exit_code = kExitUsage;
    return outcome;
  }

  if (agent->parsed()) {
    agent_command.audit = AuditDestination::from_option(agent_audit);
    outcome.agent = std::move(agent_command);
    return outcome;
  }
  if (profile->parsed()) {
    outcome.exit_code =
        print_oci_profile(profile_socket, profile_policy, profile_metadata, profile_merge);
    return outcome;
  }
  if (suggest->parsed()) {
    auto lines = read_audit_lines(suggest_paths);
    std::vector<std::string> skipped;
    auto seen = lines ? observations_from_audit(*lines, suggest_container, &skipped)
                      : Result<Observations>(lines.error());
    if (!seen) {
      outcome.exit_code = report_error(seen.error().message());
      return outcome;
    }
    warn_skipped(skipped);
    SuggestOptions options;
    options.headroom_percent = headroom;
    options.default_action = *action_from_name(suggest_default);
    std::cout << suggest_policy(*seen, options);
    outcome.exit_code = 0;
    return outcome;
  }
  if (report->parsed()) {
    auto lines = read_audit_lines(report_paths);
    std::vector<std::string> skipped;
    auto runs = lines ? recorded_runs_from_audit(*lines, report_container, &skipped)
                      : Result<std::vector<RecordedRun>>(lines.error());
    if (!runs) {
      outcome.exit_code = report_error(runs.error().message());
      return outcome;
    }
    warn_skipped(skipped);
    ReportFormat format = report_format == "html"       ? ReportFormat::kHtml
                          : report_format == "markdown" ? ReportFormat::kMarkdown
                                                        : ReportFormat::kText;
    std::cout << render_report(*runs, format);
    outcome.exit_code = 0;
    return outcome;
  }
  if (verify->parsed()) {
    outcome.exit_code = run_verify(verify_paths, std::cout);
    return outcome;
  }
  if (probe->parsed()) {
    KernelFeatures features = probe_kernel();
    std::cout << describe_features(features);
    std::string chosen = features.auto_backend();
    outcome.exit_code =
        features.error.empty() && (chosen == "unotify" || chosen == "ptrace") ? 0 : 1;
    return outcome;
  }
  if (policy_cmd->parsed()) {
    std::cout << default_policy_text();
    outcome.exit_code = 0;
    return outcome;
  }
  if (check->parsed()) {
    auto policy = load_policy_file(check_path);
    if (!policy) {
      outcome.exit_code = report_error(policy.error().message());
      return outcome;
    }
    std::cout << format_policy(*policy);
    outcome.exit_code = 0;
    return outcome;
  }

  auto policy = load_policy_file(policy_path);
  if (!policy) {
    outcome.exit_code = report_error(policy.error().message());
    return outcome;
  }
  // --allow / --deny go first, in the order they were typed across both options.
  std::vector<Rule> cli_rules;
  std::map<const CLI::Option*, size_t> used;
  for (const CLI::Option* option : run->parse_order()) {
    bool is_allow = option == allow_opt;
    if (!is_allow && option != deny_opt) continue;
    const auto& globs = is_allow ? allow_globs : deny_globs;
    size_t index = used[option]++;
    if (index >= globs.size()) continue;
    auto rule = rule_from_glob_option(is_allow ? Action::kAllow : Action::kDeny, globs[index],
                                      is_allow ? "--allow" : "--deny");
    if (!rule) {
      outcome.exit_code = report_error(rule.error().message());
      return outcome;
    }
    cli_rules.push_back(std::move(rule.value()));
  }
  policy->rules.insert(policy->rules.begin(), cli_rules.begin(), cli_rules.end());
  if (!default_action.empty()) policy->default_action = *action_from_name(default_action);
  // Numbers are checked as strictly as the policy file's: CLI11 alone would take "-1" as a huge
  // count and "" as no limit at all.
  for (auto [text, target, option] :
       {std::tuple{&max_calls, &policy->quota.max_calls, "--max-calls"},
        std::tuple{&max_live, &policy->quota.max_live, "--max-live"}}) {
    if (!*text) continue;
    std::string problem;
    auto count = parse_count(**text, &problem);
    if (!count) {
      outcome.exit_code = report_error(std::string(option) + " '" + **text + "': " + problem);
      return outcome;
    }
    *target = count;
  }
  for (auto [text, target, option] :
       {std::tuple{&max_bytes, &policy->quota.max_bytes, "--max-bytes"},
        std::tuple{&max_memfd_bytes, &policy->quota.max_memfd_bytes, "--max-memfd-bytes"}}) {
    if (!*text) continue;
    std::string problem;
    auto size = parse_size(**text, &problem);
    if (!size) {
      outcome.exit_code = report_error(std::string(option) + " '" + **text + "': " + problem);
      return outcome;
    }
    *target = size;
  }
  if (strict_writes) policy->quota.strict_writes = true;
  command.audit = AuditDestination::from_option(audit_file);
  if (audit_fd) {
    command.audit.kind = AuditDestination::Kind::kFd;
    command.audit.fd = *audit_fd;
  } else if (audit_socket) {
    command.audit.kind = AuditDestination::Kind::kSocket;
    command.audit.path = *audit_socket;
  }
  if (user_spec) {
    if (::geteuid() != 0) {
      outcome.exit_code = report_error("--user needs memfd-warden to run as root");
      return outcome;
    }
    auto privileges = privileges_for_user(*user_spec);
    if (!privileges) {
      outcome.exit_code = report_error(privileges.error().message());
      return outcome;
    }
    command.user = privileges.value();
  }
  command.tree_dies_with_us = on_exit == "kill";
  command.orphans.end = orphans == "end";
  {
    std::string problem;
    auto grace = parse_duration_ms(orphans_grace, &problem);
    if (!grace) {
      outcome.exit_code = report_error("--orphans-grace '" + orphans_grace + "': " + problem);
      return outcome;
    }
    command.orphans.grace = std::chrono::milliseconds(*grace);
  }
  command.backend = backend == "unotify"  ? BackendChoice::kUnotify
                    : backend == "ptrace" ? BackendChoice::kPtrace
                                          : BackendChoice::kAuto;
  command.policy = std::move(policy.value());
  outcome.run = std::move(command);
  return outcome;
}

}  // namespace warden
