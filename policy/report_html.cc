#include "policy/report_html.h"

#include <map>
#include <nlohmann/json.hpp>

#include "policy/printable.h"

namespace warden {
namespace {

std::string html_escaped(const std::string& text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

// The charts' data. Strings are printable ASCII already; '<', '>' and '&' are escaped as well,
// so that no name can end the script element that carries the data.
std::string chart_data(const std::vector<RecordedRun>& runs) {
  nlohmann::json data = {{"runs", nlohmann::json::array()}};
  for (const auto& run : runs) {
    nlohmann::json t = nlohmann::json::array(), live = nlohmann::json::array(),
                   bytes = nlohmann::json::array(), exe = nlohmann::json::array(),
                   refused = nlohmann::json::array(), exes = nlohmann::json::array();
    std::map<std::string, size_t> exe_index;
    for (const auto& decision : run.decisions) {
      auto [it, added] = exe_index.try_emplace(decision.exe, exe_index.size());
      if (added) exes.push_back(printable(decision.exe));
      t.push_back(std::max(0.0, decision.time - run.start_time));
      live.push_back(decision.live);
      bytes.push_back(decision.bytes);
      exe.push_back(it->second);
      refused.push_back(is_refusal(decision.decision) ? 1 : 0);
    }
    std::string title = run.container.empty() ? printable(run.program)
                                              : "container " + printable(run.container);
    data["runs"].push_back({{"title", title + " (run " + printable(run.id.substr(0, 8)) + ")"},
                            {"counts_live", run.counts_live},
                            {"tracks_bytes", run.tracks_bytes},
                            {"t", t},
                            {"live", live},
                            {"bytes", bytes},
                            {"exe", exe},
                            {"refused", refused},
                            {"exes", exes}});
  }
  std::string text = data.dump();
  std::string out;
  for (char c : text) {
    if (c == '<') {
      out += "\\u003c";
    } else if (c == '>') {
      out += "\\u003e";
    } else if (c == '&') {
      out += "\\u0026";
    } else {
      out += c;
    }
  }
  return out;
}

constexpr const char* kStyle = R"(
body { font: 14px/1.4 system-ui, sans-serif; margin: 2em; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; }
th, td { border: 1px solid #ccc; padding: 2px 8px; text-align: left; font-family: monospace; }
th { background: #f3f3f3; }
td { white-space: nowrap; }
figure { margin: 1em 0 2em; }
svg.chart { display: block; background: #fff; }
.legend span { display: inline-block; margin-right: 1.5em; font-family: monospace; }
.legend i { display: inline-block; width: 10px; height: 10px; margin-right: 4px; }
.note { color: #555; }
)";

// Draws every run's charts as SVG: the whole tree's live memfds (and bytes, when tracked) after
// each decision as a step line, with a point per decision in its executable's colour; refusals
// are ringed. Marks what it drew, so a browser test can tell a drawn chart from an empty one.
constexpr const char* kScript = R"(
(function () {
  const data = JSON.parse(document.getElementById('warden-data').textContent);
  const NS = 'http://www.w3.org/2000/svg';
  const palette = ['#1f77b4', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b',
                   '#e377c2', '#7f7f7f', '#bcbd22', '#17becf', '#d62728'];
  function add(parent, name, attrs, text) {
    const node = document.createElementNS(NS, name);
    for (const key in attrs) node.setAttribute(key, attrs[key]);
    if (text !== undefined) node.textContent = text;
    parent.appendChild(node);
    return node;
  }
  function human(value) {
    const units = ['', ' KiB', ' MiB', ' GiB', ' TiB'];
    let unit = 0;
    while (value >= 1024 && unit + 1 < units.length) { value /= 1024; unit++; }
    return (unit ? value.toFixed(1) : String(value)) + units[unit];
  }
  let drawn = 0;
  data.runs.forEach(function (run, r) {
    const holder = document.getElementById('chart-' + r);
    if (!holder || run.t.length === 0) return;
    const panels = [];
    if (run.counts_live) {
      panels.push({key: 'live', label: 'live memfds (whole tree)', values: run.live,
                   format: String});
    }
    if (run.tracks_bytes) {
      panels.push({key: 'bytes', label: 'memfd bytes (whole tree)', values: run.bytes, format: human});
    }
    let tmax = 0.001;
    for (const t of run.t) tmax = Math.max(tmax, t);
    const W = 800, H = 200, L = 80, R = 20, T = 24, B = 32;
    const x = function (t) { return L + (W - L - R) * t / tmax; };
    for (const panel of panels) {
      let ymax = 1;
      for (const v of panel.values) ymax = Math.max(ymax, v);
      const y = function (v) { return H - B - (H - T - B) * v / ymax; };
      const svg = add(holder, 'svg', {width: W, height: H, viewBox: '0 0 ' + W + ' ' + H,
                                       'class': 'chart', 'data-series': panel.key});
      add(svg, 'text', {x: L, y: 16, 'font-size': 13}, panel.label);
      add(svg, 'line', {x1: L, y1: H - B, x2: W - R, y2: H - B, stroke: '#444'});
      add(svg, 'line', {x1: L, y1: T, x2: L, y2: H - B, stroke: '#444'});
      add(svg, 'text', {x: L - 6, y: y(ymax) + 4, 'text-anchor': 'end', 'font-size': 11}, panel.format(ymax));
      add(svg, 'text', {x: L - 6, y: H - B + 4, 'text-anchor': 'end', 'font-size': 11}, '0');
      add(svg, 'text', {x: W - R, y: H - 8, 'text-anchor': 'end', 'font-size': 11}, tmax.toFixed(3) + ' s');
      add(svg, 'text', {x: L, y: H - 8, 'font-size': 11}, '0 s');
      let points = '';
      let previous = null;
      run.t.forEach(function (t, i) {
        const px = x(t).toFixed(1), py = y(panel.values[i]).toFixed(1);
        if (previous !== null) points += px + ',' + previous + ' ';
        points += px + ',' + py + ' ';
        previous = py;
      });
      add(svg, 'polyline', {points: points, fill: 'none', stroke: '#333', 'stroke-width': 1.5,
                            'class': 'total'});
      run.t.forEach(function (t, i) {
        const attrs = {cx: x(t).toFixed(1), cy: y(panel.values[i]).toFixed(1), r: 3,
                       fill: palette[run.exe[i] % palette.length], 'class': 'point'};
        if (run.refused[i]) { attrs.stroke = '#000'; attrs['stroke-width'] = 1.5; attrs.r = 4; }
        add(svg, 'circle', attrs);
      });
      svg.setAttribute('data-points', String(run.t.length));
    }
    // What was not recorded is said, not drawn as zeros.
    const notes = [];
    if (!run.counts_live) {
      notes.push('Live memfds were not counted in this run: no limit needed them ' +
                 '(--count-live counts them).');
    }
    if (!run.tracks_bytes) {
      notes.push('Bytes were not tracked in this run: a byte limit (max_bytes, or ' +
                 '--max-bytes) makes memfd-warden track them.');
    }
    for (const text of notes) {
      const note = document.createElement('p');
      note.className = 'note';
      note.textContent = text;
      holder.appendChild(note);
    }
    const legend = document.createElement('div');
    legend.className = 'legend';
    run.exes.forEach(function (name, i) {
      const item = document.createElement('span');
      const swatch = document.createElement('i');
      swatch.style.background = palette[i % palette.length];
      item.appendChild(swatch);
      item.appendChild(document.createTextNode(name));
      legend.appendChild(item);
    });
    holder.appendChild(legend);
    drawn++;
  });
  document.body.setAttribute('data-charts-drawn', String(drawn));
})();
)";

void write_table(std::string& out, const ReportTable& table) {
  out += "<h2>" + html_escaped(table.title) + "</h2>\n";
  if (table.rows.empty()) {
    out += "<p>" + html_escaped(table.empty_note) + "</p>\n";
    return;
  }
  out += "<table>\n<tr>";
  for (const auto& header : table.headers) out += "<th>" + html_escaped(header) + "</th>";
  out += "</tr>\n";
  for (const auto& row : table.rows) {
    out += "<tr>";
    for (const auto& cell : row) out += "<td>" + html_escaped(cell) + "</td>";
    out += "</tr>\n";
  }
  out += "</table>\n";
}

}  // namespace

std::string render_html(const std::vector<RecordedRun>& runs, const ReportTables& tables) {
  std::string out =
      "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
      "<title>memfd-warden report</title>\n<style>";
  out += kStyle;
  out += "</style>\n</head>\n<body>\n<h1>memfd-warden report</h1>\n<p>" +
         html_escaped(tables.headline) + "</p>\n";
  for (const auto& table : tables.tables) write_table(out, table);
  out += "<h2>Live memfds over time</h2>\n<p class=\"note\">Each point is one decision, in the "
         "colour of the executable that made the call; ringed points were refused (or would "
         "have been). The line is the whole tree's count after the decision: the log records "
         "the tree's totals at each decision, not which executable holds a memfd, nor the "
         "moment one is released.</p>\n";
  for (size_t i = 0; i < runs.size(); ++i) {
    std::string title = runs[i].container.empty() ? printable(runs[i].program)
                                                  : "container " + printable(runs[i].container);
    out += "<figure id=\"chart-" + std::to_string(i) + "\"><figcaption>" + html_escaped(title) +
           " (run " + html_escaped(printable(runs[i].id.substr(0, 8))) + ")";
    if (runs[i].decisions.empty()) out += ": no decisions to chart";
    out += "</figcaption></figure>\n";
  }
  out += "<script type=\"application/json\" id=\"warden-data\">" + chart_data(runs) +
         "</script>\n<script>";
  out += kScript;
  out += "</script>\n</body>\n</html>\n";
  return out;
}

}  // namespace warden
