#!/usr/bin/env python3
"""Turns `warden_bench --json` (stdin) into an SVG bar chart (stdout): time per call for every
per-call case, on a log scale, with the ratio to native beside each bar. The real-workload rows
(h, in milliseconds per build) are left out: their ratio is in the table. Standard library only."""
import json
import math
import sys
from xml.sax.saxutils import escape


def colour(case: str) -> str:
    if case.startswith("a.") or "native" in case:
        return "#888"
    if case.startswith("b."):
        return "#4a7"
    if case.startswith(("d.", "e.")):
        return "#c84"
    if case.startswith("x."):
        return "#bbb"
    return "#47c"


def main() -> None:
    data = json.load(sys.stdin)
    rows = [r for r in data["rows"] if r["unit"] == "ns" and r["value"] > 0]
    width, left, bar_h, gap = 980, 400, 18, 6
    height = 60 + len(rows) * (bar_h + gap)
    top = max(r["value"] for r in rows)
    scale = (width - left - 150) / math.log10(top * 1.2)
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           'font-family="sans-serif" font-size="12">',
           '<rect width="100%" height="100%" fill="white"/>',
           '<text x="10" y="20" font-size="14">memfd-warden: ns per call (log scale; '
           'ratio to native)</text>',
           f'<text x="10" y="38" fill="#555">{escape(data["machine"])}</text>']
    for i, r in enumerate(rows):
        y = 50 + i * (bar_h + gap)
        ns = r["value"]
        w = max(2, math.log10(max(ns, 1.0)) * scale)
        out.append(f'<text x="10" y="{y + 13}">{escape(r["case"])}</text>')
        out.append(f'<rect x="{left}" y="{y}" width="{w:.0f}" height="{bar_h}" '
                   f'fill="{colour(r["case"])}"/>')
        out.append(f'<text x="{left + w + 6:.0f}" y="{y + 13}">{ns:,.0f} ns '
                   f'(x{r["x_native"]:.2f})</text>')
    out.append("</svg>")
    print("\n".join(out))


if __name__ == "__main__":
    main()
