// `memfd-warden verify`: whether audit logs are complete and unaltered. Records are grouped by
// run (several runs may share one file, interleaved or one after another, and a rotated log is
// read file after file); within a run every record from the start (seq 0) to the sealing summary
// must be there once, in order, with a chain value that the run's disclosed key reproduces
// (audit_chain.h). Anything else is a finding, located by file and line.
#pragma once

#include <iosfwd>
#include <string>
#include <vector>

#include "policy/result.h"

namespace warden {

struct AuditLine {
  std::string where;  // "FILE:LINE"
  std::string text;   // without the newline
};

struct RunVerdict {
  std::string run;      // the run id
  std::string program;  // from its start record, when there is one
  size_t records = 0;
  bool sealed = false;
  std::vector<std::string> problems;  // empty: complete and unaltered
};

struct VerifyReport {
  std::vector<RunVerdict> runs;
  std::vector<std::string> problems;  // lines that belong to no run
  bool intact() const;                // at least one run, and no problem anywhere
};

VerifyReport verify_audit(const std::vector<AuditLine>& lines);

// Every line of `paths`, in order; an error names the file that cannot be read.
Result<std::vector<AuditLine>> read_audit_lines(const std::vector<std::string>& paths);

// Reads `paths` in order, prints the report, returns the exit status: 0 intact, 1 not, 2 when a
// file cannot be read.
int run_verify(const std::vector<std::string>& paths, std::ostream& out);

}  // namespace warden
