// `memfd-warden report`: what recorded runs did, for a person (text), for a CI job summary
// (Markdown) and as one self-contained page with charts (HTML, report_html.h). Pure: the runs
// arrive as RecordedRun (the supervisor reads them out of audit logs) and leave as text. Every
// name and path is shown through printable(), so hostile bytes never reach a terminal or a page.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace warden {

// Shown for a record whose exe was not collected (an allowed call, with no rule on exe and no
// --record-exe). A collected executable is an absolute path, so the two cannot be confused.
inline constexpr const char* kExeNotRecorded = "(not recorded)";

// One decision record, with what a report needs of it.
struct RecordedDecision {
  double time = 0;  // seconds since the epoch
  std::string syscall;
  std::string exe;  // kExeNotRecorded when the record's exe was null
  std::optional<std::string> name;  // the memfd's name (creates, exec of a memfd)
  std::optional<std::string> path;  // exec and truncate records: the path as given
  std::string decision;             // allow, deny, kill, abort, would-deny, would-kill
  std::string reason;
  std::string rule_id;
  std::string technique;
  std::string error;   // the errno the call got, by name ("EPERM"); empty for none
  uint64_t live = 0;   // memfds alive in the whole tree at this decision (when counted)
  uint64_t bytes = 0;  // their bytes (meaningful when the run tracks bytes)
};

struct RecordedSummary {
  uint64_t calls = 0;
  std::optional<uint64_t> peak_live;   // set when the run counted live memfds
  std::optional<uint64_t> peak_bytes;  // set when a byte limit made the run track bytes
  std::optional<int64_t> exit_status;
  std::string tampering;  // empty: none recorded
  uint64_t write_errors = 0;
  std::string error;  // memfd-warden's own failure (exit status 125); empty: none
};

// One run of `run` (or one container's session of the agent), in the order its records came.
struct RecordedRun {
  std::string id;
  std::string program;
  std::string container;  // "namespace/pod/name" or the container's id; empty for `run`
  std::string started;    // the start record's time, as written
  double start_time = 0;  // seconds since the epoch (the first record's time)
  double end_time = 0;    // the last record's time
  bool counts_live = false;   // some record carries a live count (a limit or --count-live)
  bool tracks_bytes = false;
  std::vector<RecordedDecision> decisions;
  std::optional<RecordedSummary> summary;  // nullopt: the log ends before the run's summary
};

// Refused, or would have been in a dry run; as --fail-on-deny counts them, not an abort (whose
// caller died or was interrupted before the answer: a restarted call is decided again).
bool is_refusal(const std::string& decision);

enum class ReportFormat { kText, kMarkdown, kHtml };

std::string render_report(const std::vector<RecordedRun>& runs, ReportFormat format);

}  // namespace warden
