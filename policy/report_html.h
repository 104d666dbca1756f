// `memfd-warden report --format html`: one self-contained page (no file or network fetched) with
// the report's tables and, per run, charts of the live memfds and their bytes over time, drawn in
// the page by its own script from the data it embeds.
#pragma once

#include <string>
#include <vector>

#include "policy/report.h"
#include "policy/report_tables.h"

namespace warden {

std::string render_html(const std::vector<RecordedRun>& runs, const ReportTables& tables);

}  // namespace warden
