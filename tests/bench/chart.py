#!/usr/bin/env python3
"""Turns `warden_bench --json` (stdin) into an SVG bar chart (stdout): ns per call per case,
on a log scale, with the ratio to native beside each bar. Standard library only."""
import json
import math
import sys


def main() -> None:
    rows = [r for r in json.load(sys.stdin) if r["ns_per_call"] > 0]
    width, left, bar_h, gap = 900, 390, 20, 8
    height = 40 + len(rows) * (bar_h + gap)
    top = max(r["ns_per_call"] for r in rows)
    scale = (width - left - 120) / math.log10(top * 1.2)
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           'font-family="sans-serif" font-size="12">',
           '<text x="10" y="20" font-size="14">memfd-warden: ns per call '
           '(log scale; ratio to native)</text>']
    for i, r in enumerate(rows):
        y = 35 + i * (bar_h + gap)
        ns = r["ns_per_call"]
        w = max(2, math.log10(max(ns, 1.0)) * scale)
        colour = "#888" if r["case"].startswith(("a.", "f. getpid native")) else (
            "#4a7" if r["case"].startswith("b.") else "#47c")
        label = r["case"].replace("&", "&amp;").replace("<", "&lt;")
        out.append(f'<text x="10" y="{y + 14}">{label}</text>')
        out.append(f'<rect x="{left}" y="{y}" width="{w:.0f}" height="{bar_h}" fill="{colour}"/>')
        out.append(f'<text x="{left + w + 6:.0f}" y="{y + 14}">{ns:,.0f} ns '
                   f'(x{r["x_native"]:.2f})</text>')
    out.append("</svg>")
    print("\n".join(out))


if __name__ == "__main__":
    main()
