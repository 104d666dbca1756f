// Unit: `memfd-warden report`'s three formats from recorded runs: decisions per executable and
// name (numbered names as one row), refusals with their reasons, peaks and the log's state, and
// hostile names that stay text in a terminal, in Markdown and in HTML.
#include <doctest/doctest.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "policy/report.h"

namespace warden {
namespace {

RecordedDecision decided(const std::string& exe, const std::string& name,
                         const std::string& decision, double time, uint64_t live) {
  RecordedDecision out;
  out.time = time;
  out.syscall = "memfd_create";
  out.exe = exe;
  out.name = name;
  out.decision = decision;
  out.reason = decision == "allow" ? "default" : "rule";
  if (decision != "allow") {
    out.rule_id = "no-evil";
    out.error = "EDOM";
  }
  out.live = live;
  out.bytes = live * 4096;
  return out;
}

RecordedRun sample_run() {
  RecordedRun run;
  run.id = "0123456789abcdef";
  run.program = "/usr/bin/job";
  run.started = "2026-12-01T00:00:00.000000Z";
  run.start_time = 1000;
  run.end_time = 1002.5;
  run.tracks_bytes = true;
  for (int i = 0; i < 4; ++i) {
    run.decisions.push_back(decided("/usr/bin/job", "cache-" + std::to_string(i), "allow",
                                    1000.5 + i * 0.25, i + 1));
  }
  run.decisions.push_back(decided("/usr/bin/job", "evil", "deny", 1002, 4));
  run.decisions.push_back(decided("/usr/bin/job", "evil", "deny", 1002.1, 4));
  run.decisions.push_back(decided("/usr/lib/helper", "session", "allow", 1002.2, 5));
  run.summary = RecordedSummary{5, 5, 20480, 0, "", 0, ""};
  return run;
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

bool has_line(const std::string& text, std::initializer_list<const char*> words) {
  for (const auto& line : lines_of(text)) {
    if (std::all_of(words.begin(), words.end(),
                    [&](const char* word) { return line.find(word) != std::string::npos; })) {
      return true;
    }
  }
  return false;
}

}  // namespace

TEST_CASE("report: decisions per executable and name, refusals with reasons, peaks") {
  std::string text = render_report({sample_run()}, ReportFormat::kText);
  INFO(text);
  CHECK(text.rfind("memfd-warden report: 1 run, 7 decisions: 5 allowed, 2 refused.\n", 0) == 0);
  CHECK(has_line(text, {"/usr/bin/job", "memfd_create", "cache-* (4 names)", "4"}));
  CHECK(has_line(text, {"/usr/lib/helper", "memfd_create", "session", "1"}));
  CHECK_FALSE(has_line(text, {"cache-0"}));  // the four names are one row
  CHECK(has_line(text, {"/usr/bin/job", "evil", "deny", "rule (rule no-evil)", "EDOM", "2"}));
  CHECK(has_line(text, {"01234567", "/usr/bin/job", "2.500 s", "5", "20480", "summary present"}));
  CHECK_FALSE(has_line(text, {"would-deny"}));  // no column for decisions that never happened
}

TEST_CASE("report: an abort is neither allowed nor refused, as --fail-on-deny counts it") {
  RecordedRun run = sample_run();
  run.decisions.push_back(decided("/usr/bin/job", "gone", "abort", 1002.3, 5));
  std::string text = render_report({run}, ReportFormat::kText);
  INFO(text);
  CHECK(text.rfind("memfd-warden report: 1 run, 8 decisions: 5 allowed, 2 refused, 1 abandoned "
                   "(the caller gone before the answer).\n",
                   0) == 0);
  CHECK(has_line(text, {"/usr/bin/job", "gone", "1"}));    // in the decisions table
  CHECK_FALSE(has_line(text, {"gone", "abort", "rule"}));  // not among the refusals
}

TEST_CASE("report: names are grouped within one executable's calls, never across executables") {
  RecordedRun run;
  run.id = "0123456789abcdef";
  for (int i = 1; i <= 3; ++i) {
    run.decisions.push_back(decided("/bin/tool-" + std::to_string(i), "cache-" + std::to_string(i),
                                    "allow", i, 1));
  }
  run.decisions.push_back(decided("/bin/tool-1", "cache-9", "allow", 4, 1));
  std::string text = render_report({run}, ReportFormat::kText);
  INFO(text);
  CHECK(has_line(text, {"/bin/tool-1", "cache-* (2 names)", "2"}));
  CHECK(has_line(text, {"/bin/tool-2", "cache-2", "1"}));
  CHECK(has_line(text, {"/bin/tool-3", "cache-3", "1"}));
  CHECK_FALSE(has_line(text, {"(4 names)"}));
  CHECK(has_line(text, {"01234567", "-", "-", "-", "no summary"}));  // nothing to show: dashes
}

TEST_CASE("report: a decision the log names that report does not know still gets a column") {
  RecordedRun run = sample_run();
  run.decisions.push_back(decided("/usr/bin/job", "odd", "\x1b[1mnew", 1002.4, 5));
  std::string text = render_report({run}, ReportFormat::kText);
  INFO(text);
  CHECK(has_line(text, {"Executable", "allow", "deny", "\\x1b[1mnew"}));
  CHECK(has_line(text, {"/usr/bin/job", "odd", "1"}));
}

TEST_CASE("report: a Markdown table stops at 200 rows and says how many more there are") {
  RecordedRun run = sample_run();
  for (int i = 0; i < 250; ++i) {
    run.decisions.push_back(decided("/usr/bin/exe-" + std::to_string(i), "n", "allow", 1002, 1));
  }
  std::string markdown = render_report({run}, ReportFormat::kMarkdown);
  CHECK(markdown.find("53 more rows: `memfd-warden report` (text or html) has them all.") !=
        std::string::npos);  // 253 rows of decisions
  CHECK(render_report({run}, ReportFormat::kText).find("exe-249") != std::string::npos);
}

TEST_CASE("report: a run cut short, a tampered log and a dry run are said so") {
  RecordedRun cut = sample_run();
  cut.summary.reset();
  RecordedRun tampered = sample_run();
  tampered.id = "fedcba9876543210";
  tampered.summary->tampering = "truncated";
  RecordedRun dry = sample_run();
  dry.id = "aaaaaaaabbbbbbbb";
  for (auto& decision : dry.decisions) {
    if (decision.decision == "deny") decision.decision = "would-deny";
  }
  std::string text = render_report({cut, tampered, dry}, ReportFormat::kText);
  INFO(text);
  CHECK(has_line(text, {"01234567", "no summary: cut short or truncated"}));
  CHECK(has_line(text, {"fedcba98", "tampered: truncated"}));
  RecordedRun failed = sample_run();
  failed.decisions.clear();
  failed.summary = RecordedSummary{0, std::nullopt, std::nullopt, 125, "", 0,
                                   "watching the audit log: inotify_init1\x1b[2J"};
  std::string failed_text = render_report({failed}, ReportFormat::kText);
  INFO(failed_text);
  // The reason, not "summary present"; and a hostile byte stays text.
  CHECK(has_line(failed_text, {"01234567", "memfd-warden failed: watching the audit log"}));
  CHECK(failed_text.find('\x1b') == std::string::npos);
  // A failure does not hide tampering (--audit-strict ends a run for it with an error).
  failed.summary->tampering = "renamed";
  CHECK(has_line(render_report({failed}, ReportFormat::kText),
                 {"memfd-warden failed: ", "; tampered: renamed"}));
  CHECK(has_line(text, {"evil", "would-deny", "2"}));
  CHECK(text.find("2 would have been refused (dry run)") != std::string::npos);
}

TEST_CASE("report: no runs at all is a report that says so") {
  std::string text = render_report({}, ReportFormat::kText);
  CHECK(text.find("0 runs, 0 decisions") != std::string::npos);
  CHECK(text.find("No run was recorded.") != std::string::npos);
}

TEST_CASE("report: hostile names stay text in a terminal, in Markdown and in HTML") {
  RecordedRun run = sample_run();
  const std::string hostile = "a|b\x1b[2J</script><b>x</b>\n`c`";
  run.decisions.push_back(decided("/tmp/e|vil\x07", hostile, "deny", 1002.3, 5));

  std::string text = render_report({run}, ReportFormat::kText);
  CHECK(std::none_of(text.begin(), text.end(), [](char c) {
    auto u = static_cast<unsigned char>(c);
    return (u < 0x20 && c != '\n') || u >= 0x7f;
  }));
  CHECK(text.find("a|b\\x1b[2J</script><b>x</b>\\x0a`c`") != std::string::npos);
  // A real backslash is shown escaped too, so that it cannot pass for one of those escapes.
  RecordedRun spoof = sample_run();
  spoof.decisions.push_back(decided("/bin/x", "\\x1b", "allow", 1002.3, 5));
  CHECK(render_report({spoof}, ReportFormat::kText).find("\\x5cx1b") != std::string::npos);

  // Markdown: every row of a table has as many unescaped '|' as the header row.
  std::string markdown = render_report({run}, ReportFormat::kMarkdown);
  INFO(markdown);
  auto bars = [](const std::string& line) {
    size_t count = 0;
    for (size_t i = 0; i < line.size(); ++i) {
      if (line[i] == '\\') {
        ++i;
      } else if (line[i] == '|') {
        ++count;
      }
    }
    return count;
  };
  size_t header = 0, rows = 0;
  for (const auto& line : lines_of(markdown)) {
    if (line.rfind("| Executable |", 0) == 0) header = bars(line);
    if (header != 0 && line.rfind("| /tmp/e", 0) == 0) {
      CHECK(bars(line) == header);
      ++rows;
    }
  }
  CHECK(rows == 2);  // the decisions row and the refusals row
  CHECK(markdown.find("\\<b\\>x\\</b\\>") != std::string::npos);

  // HTML: the name is never markup, and the chart's data cannot end its script element.
  std::string page = render_report({run}, ReportFormat::kHtml);
  CHECK(page.find("<b>x</b>") == std::string::npos);
  CHECK(page.find("&lt;/script&gt;&lt;b&gt;x&lt;/b&gt;") != std::string::npos);
  size_t script_ends = 0;
  for (size_t at = page.find("</script>"); at != std::string::npos;
       at = page.find("</script>", at + 1)) {
    ++script_ends;
  }
  CHECK(script_ends == 2);  // the data's and the code's own
}

TEST_CASE("report: the page embeds a point per decision, by executable, with the tree's totals") {
  RecordedRun run = sample_run();
  std::string page = render_report({run}, ReportFormat::kHtml);
  const std::string open = "<script type=\"application/json\" id=\"warden-data\">";
  size_t start = page.find(open);
  REQUIRE(start != std::string::npos);
  start += open.size();
  auto data = nlohmann::json::parse(page.substr(start, page.find("</script>", start) - start));
  const auto& chart = data["runs"].at(0);
  CHECK(chart["t"].size() == run.decisions.size());
  CHECK(chart["t"][0].get<double>() == doctest::Approx(0.5));
  CHECK(chart["live"] == nlohmann::json({1, 2, 3, 4, 4, 4, 5}));
  CHECK(chart["bytes"][6] == 5 * 4096);
  CHECK(chart["exes"] == nlohmann::json({"/usr/bin/job", "/usr/lib/helper"}));
  CHECK(chart["exe"] == nlohmann::json({0, 0, 0, 0, 0, 0, 1}));
  CHECK(chart["refused"] == nlohmann::json({0, 0, 0, 0, 1, 1, 0}));
  CHECK(chart["tracks_bytes"] == true);
}

}  // namespace warden
