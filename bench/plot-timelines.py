#!/usr/bin/env python3
"""Reads jitter-<strategy>.json and .csv from a folder (bench/jitter.sh),
prints a markdown table and writes an SVG with the four retry timelines side by side.
Plain SVG, no plotting library. Usage: plot-timelines.py FOLDER OUTPUT.svg"""
import csv
import json
import os
import sys

folder, output = sys.argv[1], sys.argv[2]
strategies = ["none", "full", "equal", "decorrelated"]
runs = {}
for name in strategies:
    with open(os.path.join(folder, f"jitter-{name}.json")) as f:
        report = json.load(f)
    with open(os.path.join(folder, f"jitter-{name}.csv")) as f:
        rows = [(int(r["first_attempts"]), int(r["retries"])) for r in csv.DictReader(f)]
    runs[name] = (report, rows)

print("| jitter | completion (s) | requests | requests per payment | 429 answers | peak requests per 100 ms | confirmed |")
print("|---|---|---|---|---|---|---|")
for name in strategies:
    report, rows = runs[name]
    peak = max(a + b for a, b in rows)
    print(f"| {name} | {report['duration_ms'] / 1000:.2f} | {report['attempts_total']} | "
          f"{report['retry_amplification']:.2f} | {report['status_counts'].get('429', 0)} | {peak} | "
          f"{report['payments']['confirmed']}/{report['payments_total']} |")

width, height, margin = 420, 220, 40
longest = max(len(rows) for _, rows in runs.values())
tallest = max(max(a + b for a, b in rows) for _, rows in runs.values())
parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width * 2}" height="{height * 2 + 30}" '
         'font-family="sans-serif" font-size="12">',
         '<rect width="100%" height="100%" fill="white"/>',
         f'<text x="10" y="18" font-size="14">Requests per 100 ms in a herd of 400 clients: '
         f'first attempts (grey) and retries (red)</text>']
for index, name in enumerate(strategies):
    report, rows = runs[name]
    ox = (index % 2) * width + margin
    oy = (index // 2) * height + 30 + 20
    plot_w, plot_h = width - margin - 10, height - margin - 20
    bar = plot_w / longest
    parts.append(f'<text x="{ox}" y="{oy - 6}" font-weight="bold">{name} '
                 f'(done in {report["duration_ms"] / 1000:.1f} s, {report["attempts_total"]} requests)</text>')
    parts.append(f'<line x1="{ox}" y1="{oy + plot_h}" x2="{ox + plot_w}" y2="{oy + plot_h}" stroke="black"/>')
    parts.append(f'<line x1="{ox}" y1="{oy}" x2="{ox}" y2="{oy + plot_h}" stroke="black"/>')
    parts.append(f'<text x="{ox - 4}" y="{oy + 10}" text-anchor="end">{tallest}</text>')
    parts.append(f'<text x="{ox + plot_w}" y="{oy + plot_h + 14}" text-anchor="end">{longest / 10:.1f} s</text>')
    for i, (first, retries) in enumerate(rows):
        x = ox + i * bar
        h_first = plot_h * first / tallest
        h_retry = plot_h * retries / tallest
        if first:
            parts.append(f'<rect x="{x:.2f}" y="{oy + plot_h - h_first:.2f}" width="{max(bar, 0.5):.2f}" '
                         f'height="{h_first:.2f}" fill="#999"/>')
        if retries:
            parts.append(f'<rect x="{x:.2f}" y="{oy + plot_h - h_first - h_retry:.2f}" width="{max(bar, 0.5):.2f}" '
                         f'height="{h_retry:.2f}" fill="#c33"/>')
parts.append("</svg>")
with open(output, "w") as f:
    f.write("\n".join(parts) + "\n")
print(f"\nwrote {output}")
