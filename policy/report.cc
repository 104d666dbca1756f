#include "policy/report.h"

#include <algorithm>
#include <sstream>

#include "policy/report_html.h"
#include "policy/report_tables.h"

namespace warden {
namespace {

constexpr size_t kMarkdownRows = 200;  // per table

// Columns padded to their widest cell; cells are printable ASCII, so bytes are columns.
void write_text_table(std::ostream& out, const ReportTable& table) {
  out << "\n" << table.title << "\n";
  if (table.rows.empty()) {
    out << "  " << table.empty_note << "\n";
    return;
  }
  std::vector<size_t> widths(table.headers.size());
  for (size_t i = 0; i < widths.size(); ++i) widths[i] = table.headers[i].size();
  for (const auto& row : table.rows) {
    for (size_t i = 0; i < row.size(); ++i) widths[i] = std::max(widths[i], row[i].size());
  }
  auto line = [&](const std::vector<std::string>& cells) {
    std::string text = " ";
    for (size_t i = 0; i < cells.size(); ++i) {
      text += " " + cells[i];
      if (i + 1 < cells.size()) text.append(widths[i] - cells[i].size() + 1, ' ');
    }
    while (!text.empty() && text.back() == ' ') text.pop_back();
    out << text << "\n";
  };
  line(table.headers);
  for (const auto& row : table.rows) line(row);
}

// CommonMark: every ASCII punctuation character may be escaped with a backslash. These are the
// ones that could start markup, a link, GitHub's math, or end a table cell.
std::string markdown_cell(const std::string& cell) {
  std::string out;
  for (char c : cell) {
    if (std::string_view("\\`*_[]<>|~#&!$:").find(c) != std::string_view::npos) out += '\\';
    out += c;
  }
  return out.empty() ? " " : out;
}

void write_markdown_table(std::ostream& out, const ReportTable& table) {
  out << "\n### " << table.title << "\n\n";
  if (table.rows.empty()) {
    out << table.empty_note << "\n";
    return;
  }
  auto line = [&](const std::vector<std::string>& cells) {
    out << "|";
    for (const auto& cell : cells) out << " " << markdown_cell(cell) << " |";
    out << "\n";
  };
  line(table.headers);
  out << "|";
  for (size_t i = 0; i < table.headers.size(); ++i) out << " --- |";
  out << "\n";
  // A CI job summary has a size limit (GitHub's: 1 MiB per step); a log full of distinct names
  // must not push the rest of the summary out.
  size_t shown = std::min(table.rows.size(), kMarkdownRows);
  for (size_t i = 0; i < shown; ++i) line(table.rows[i]);
  if (shown < table.rows.size()) {
    out << "\n" << table.rows.size() - shown
        << " more rows: `memfd-warden report` (text or html) has them all.\n";
  }
}

}  // namespace

bool is_refusal(const std::string& decision) {
  return !decision.empty() && decision != "allow" && decision != "abort";
}

std::string render_report(const std::vector<RecordedRun>& runs, ReportFormat format) {
  ReportTables tables = tabulate(runs);
  std::ostringstream out;
  switch (format) {
    case ReportFormat::kText:
      out << "memfd-warden report: " << tables.headline << "\n";
      for (const auto& table : tables.tables) write_text_table(out, table);
      break;
    case ReportFormat::kMarkdown:
      out << "## memfd-warden report\n\n" << markdown_cell(tables.headline) << "\n";
      for (const auto& table : tables.tables) write_markdown_table(out, table);
      break;
    case ReportFormat::kHtml:
      out << render_html(runs, tables);
      break;
  }
  return out.str();
}

}  // namespace warden
