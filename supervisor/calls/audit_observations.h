// What recorded runs did, read back out of their audit logs: for `memfd-warden suggest`
// (policy/suggest.h) the creates with their callers, names and flags, exec attempts on memfds,
// and the peaks from each run's summary; for `memfd-warden report` (policy/report.h) every run
// with its decisions in order. Records of `run` and of the agent alike; the agent's
// carry a container identity, by which one container's records can be chosen.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "policy/report.h"
#include "policy/result.h"
#include "policy/suggest.h"
#include "supervisor/calls/audit_verify.h"

namespace warden {

// The observations in `lines`. With `container`, only the records whose container id, name or
// pod equals it; an error when that leaves none. A line that is not an audit record (a record a
// full disk cut short) is skipped, and where it is goes into `skipped` (when given); when no line
// is a record, that is an error naming the first.
Result<Observations> observations_from_audit(const std::vector<AuditLine>& lines,
                                             const std::optional<std::string>& container,
                                             std::vector<std::string>* skipped = nullptr);

// The runs in `lines`, in the order their start (or first) records come; `container` and
// `skipped` as above.
Result<std::vector<RecordedRun>> recorded_runs_from_audit(
    const std::vector<AuditLine>& lines, const std::optional<std::string>& container,
    std::vector<std::string>* skipped = nullptr);

}  // namespace warden
