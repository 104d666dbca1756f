// The tables every format of `memfd-warden report` shows: the runs with their peaks, the decisions
// per executable and name, and the refusals with their reasons. Built once from the recorded runs;
// report.cc writes them as text or Markdown, report_html.cc as HTML. Cells are printable ASCII.
#pragma once

#include <string>
#include <vector>

#include "policy/report.h"

namespace warden {

struct ReportTable {
  std::string title;
  std::vector<std::string> headers;
  std::vector<std::vector<std::string>> rows;
  std::string empty_note;  // shown instead of a table without rows
};

struct ReportTables {
  std::string headline;  // one sentence: how many runs and decisions, how many refused
  std::vector<ReportTable> tables;
};

ReportTables tabulate(const std::vector<RecordedRun>& runs);

// The name a decision is about, as a report shows it: the memfd's name, else the path.
std::string shown_subject(const RecordedDecision& decision);

}  // namespace warden
