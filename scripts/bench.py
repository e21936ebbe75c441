#!/usr/bin/env python3
"""The measuring half of `make bench` (scripts/bench.sh starts the processes).

Runs, against one payment-api, one rate-limited payment-api and one redis-server, all in
one go so the figures compare: ceiling A (GET /healthz under wrk), ceiling B (the begin
and complete scripts under redis-benchmark, EVALSHA), new payments, replays, rejections,
latency at a fixed rate of half the new-payment maximum (open loop, the simulator's
open-loop mode), and a sweep of new payments over 1, 8, 32, 128 and 512 connections.
For each wrk run: requests/s, p50/p99/max, the server's RSS and CPU, and Redis
commands per request from INFO commandstats. Prints one table and the target ratios,
writes bench/results/<date>.json, an SVG plot, and the generated part of
docs/performance.md (between its BENCH markers).
"""
import argparse
import datetime
import json
import os
import re
import shlex
import subprocess
import sys
import threading
import time
import urllib.request

parser = argparse.ArgumentParser()
parser.add_argument("--api-port", type=int, required=True)
parser.add_argument("--api-pid", type=int, required=True)
parser.add_argument("--reject-port", type=int, required=True)
parser.add_argument("--reject-pid", type=int, required=True)
parser.add_argument("--redis-port", type=int, required=True)
parser.add_argument("--simulator", required=True, help="the simulator's command line (a user-switching prefix allowed)")
parser.add_argument("--seconds", type=int, default=10)
parser.add_argument("--warmup", type=int, default=2)
parser.add_argument("--connections", type=int, default=64)
parser.add_argument("--out-json", required=True)
parser.add_argument("--out-svg", required=True)
parser.add_argument("--doc", required=True)
args = parser.parse_args()

CLK_TCK = os.sysconf("SC_CLK_TCK")
WRK_SCRIPT = "bench/wrk/pay.lua"
run_prefix = f"b{int(time.time()) % 100000}"


def cpu_ticks(pid):
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


def rss_mib(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def commandstats():
    out = subprocess.run(["redis-cli", "-p", str(args.redis_port), "info", "commandstats"],
                         capture_output=True, text=True, check=True).stdout
    calls = {}
    for line in out.splitlines():
        match = re.match(r"cmdstat_([a-z|]+):calls=(\d+)", line)
        if match:
            calls[match.group(1)] = int(match.group(2))
    return calls


def wrk(port, path, connections, seconds, mode, prefix, users=10000, keyspace=0):
    threads = max(1, min(2, connections))
    command = ["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{seconds}s", "--timeout", "5s",
               "-s", WRK_SCRIPT, f"http://127.0.0.1:{port}{path}", "--", mode, prefix, str(users), str(keyspace)]
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    line = next(l for l in out.splitlines() if l.startswith("WRK_JSON "))
    return json.loads(line[len("WRK_JSON "):])


def measure(name, port, pid, path, connections, mode, users=10000, keyspace=0, prefix=None):
    """A warm-up, then the measured run, with the server's and Redis's side of it."""
    # User ids allow only [A-Za-z0-9._:-]: the run's name without its spaces.
    prefix = prefix or f"{run_prefix}-{re.sub('[^A-Za-z0-9]', '', name)}-c{connections}"
    if args.warmup:
        # New keys in the warm-up must not be the measured run's (its counters restart at
        # 1); replays (a keyspace) warm up on the very keys they then replay.
        wrk(port, path, connections, args.warmup, mode, prefix if keyspace else prefix + "w", users, keyspace)
    before_ticks, before_calls = cpu_ticks(pid), commandstats()
    result = wrk(port, path, connections, args.seconds, mode, prefix, users, keyspace)
    after_ticks, after_calls = cpu_ticks(pid), commandstats()
    delta = {k: after_calls.get(k, 0) - before_calls.get(k, 0) for k in after_calls}
    delta.pop("info", None)  # our own INFO calls
    requests = max(result["requests"], 1)
    result.update({
        "name": name, "connections": connections,
        "server_cpu_percent": (after_ticks - before_ticks) / CLK_TCK / result["seconds"] * 100,
        "server_rss_mib": rss_mib(pid),
        "redis_commands_per_request": sum(delta.values()) / requests,
        "evalsha_per_request": delta.get("evalsha", 0) / requests,
    })
    print(f"  {name:<22} c={connections:<4} {result['rps']:>9.0f} req/s  p50 {result['p50_ms']:.2f} ms  "
          f"p99 {result['p99_ms']:.2f} ms  statuses {result['statuses']}", file=sys.stderr, flush=True)
    return result


def capture_payment_scripts():
    """The EVALSHA commands one payment sends (begin, complete), read with MONITOR."""
    monitor = subprocess.Popen(["redis-cli", "-p", str(args.redis_port), "monitor"], stdout=subprocess.PIPE, text=True)
    lines = []
    reader = threading.Thread(target=lambda: lines.extend(iter(monitor.stdout.readline, "")), daemon=True)
    reader.start()
    time.sleep(0.3)
    body = json.dumps({"user_id": "capture", "amount": 1.00, "currency": "USD", "idempotency_key": f"{run_prefix}-capture"})
    request = urllib.request.Request(f"http://127.0.0.1:{args.api_port}/pay", data=body.encode(),
                                     headers={"Content-Type": "application/json"})
    urllib.request.urlopen(request, timeout=5).read()
    time.sleep(0.3)
    monitor.terminate()
    reader.join(timeout=2)
    commands = []
    for line in lines:
        if '"EVALSHA"' in line and "capture" in line:
            commands.append(shlex.split(line.split("]", 1)[1]))
    if len(commands) != 2:
        sys.exit(f"expected the begin and complete EVALSHA of one payment in MONITOR, got {len(commands)}")
    return commands


def redis_benchmark(command, requests, keyspace):
    out = subprocess.run(["redis-benchmark", "-p", str(args.redis_port), "-c", "50", "-n", str(requests),
                          "-r", str(keyspace), "-q", "--csv"] + command, capture_output=True, text=True, check=True).stdout
    # "test","rps","avg_latency_ms",min,p50,p95,p99,max: the test name (the command) may
    # hold commas of its own, so count from the end.
    row = out.strip().splitlines()[-1]
    return float(row.split(",")[-7].strip('"'))


def ceiling_b():
    """begin on fresh keys (the acquiring path), complete on in-flight records made for it."""
    begin, complete = capture_payment_scripts()
    requests = 200_000
    fresh = [a.replace("{capture}", "{cb__rand_int__}") for a in begin]
    begin_rate = redis_benchmark(fresh, requests, 100_000_000)
    # complete needs a record in flight under its owner and fence: make one per key of a
    # keyspace twice the run, so most completes take the full path (the rest find the
    # record done and return early: the figure is an upper bound by that much).
    keyspace = 2 * requests
    owner, fence = complete[6], complete[7]  # EVALSHA sha 3 idem ledger charges owner fence ...
    pipe = "".join(
        f"*10\r\n$4\r\nHSET\r\n${len(k)}\r\n{k}\r\n$5\r\nstate\r\n$8\r\ninflight\r\n$5\r\nowner\r\n${len(owner)}\r\n{owner}\r\n"
        f"$5\r\nfence\r\n${len(fence)}\r\n{fence}\r\n$2\r\nfp\r\n$1\r\nx\r\n"
        for k in (complete[3].replace("{capture}", "{cc%012d}" % i) for i in range(keyspace)))
    subprocess.run(["redis-cli", "-p", str(args.redis_port), "--pipe"], input=pipe, text=True, capture_output=True, check=True)
    completing = [a.replace("{capture}", "{cc__rand_int__}") for a in complete]
    complete_rate = redis_benchmark(completing, requests, keyspace)
    per_payment = 1 / (1 / begin_rate + 1 / complete_rate)
    print(f"  ceiling B              begin {begin_rate:.0f}/s, complete {complete_rate:.0f}/s: {per_payment:.0f} payments/s",
          file=sys.stderr, flush=True)
    return {"begin_per_second": begin_rate, "complete_per_second": complete_rate, "payments_per_second": per_payment}


def open_loop(rate):
    out = subprocess.run(shlex.split(args.simulator) + ["--target", f"http://127.0.0.1:{args.api_port}", "--mode", "open-loop",
                          "--rate", str(rate), "--duration-seconds", str(args.seconds), "--users", "10000",
                          "--run-id", f"{run_prefix}-open", "--clients", "256"], capture_output=True, text=True)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    result["rate"] = rate
    print(f"  open loop              {rate} req/s scheduled, {result['achieved_rate']:.0f} sent/s: "
          f"p50 {result['latency_ms']['p50']:.2f} ms p99 {result['latency_ms']['p99']:.2f} ms max {result['latency_ms']['max']:.2f} ms "
          f"statuses {result['status_counts']}", file=sys.stderr, flush=True)
    return result


print(f"bench: {args.seconds} s per run after {args.warmup} s of warm-up, {os.cpu_count()} cores shared by wrk, "
      f"payment-api and redis-server", file=sys.stderr, flush=True)
c = args.connections
results = {
    "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    "machine": {"cores": os.cpu_count(), "seconds_per_run": args.seconds, "warmup_seconds": args.warmup},
}
results["ceiling_a"] = measure("ceiling A /healthz", args.api_port, args.api_pid, "/healthz", c, "get")
results["ceiling_b"] = ceiling_b()
results["new"] = measure("new payments", args.api_port, args.api_pid, "/pay", c, "pay")
# Keys cycle over 1000, all completed during the warm-up: the measured run is replays.
results["replay"] = measure("replays", args.api_port, args.api_pid, "/pay", c, "pay", users=100, keyspace=1000)
results["reject"] = measure("rate-limited (429)", args.reject_port, args.reject_pid, "/pay", c, "pay", users=1)
results["open_loop"] = open_loop(max(1, int(results["new"]["rps"] / 2)))
results["sweep"] = [measure("new payments", args.api_port, args.api_pid, "/pay", n, "pay") for n in (1, 8, 32, 128, 512)]

a, b = results["ceiling_a"]["rps"], results["ceiling_b"]["payments_per_second"]
new, replay = results["new"], results["replay"]
peak = max(r["rps"] for r in results["sweep"])
at512 = results["sweep"][-1]
targets = [
    ("new payments ≥ 0.5 × ceiling A", new["rps"] / a, 0.5),
    ("replays ≥ 0.7 × ceiling A", replay["rps"] / a, 0.7),
    ("p99 ≤ 5 ms at 50% of the maximum rate (open loop)", results["open_loop"]["latency_ms"]["p99"], 5.0),
    ("EVALSHA per new payment = 2", new["evalsha_per_request"], 2.0),
    ("EVALSHA per replay = 1", replay["evalsha_per_request"], 1.0),
    ("server RSS ≤ 64 MiB at 512 connections", at512["server_rss_mib"], 64.0),
    ("throughput at 512 connections ≥ 0.8 × peak", at512["rps"] / peak, 0.8),
]
results["ratios"] = {"new_over_a": new["rps"] / a, "replay_over_a": replay["rps"] / a, "new_over_b": new["rps"] / b,
                     "at512_over_peak": at512["rps"] / peak}


def met(name, value, bound):
    if name.startswith("EVALSHA"):
        return abs(value - bound) < 0.02
    if "≤" in name:
        return value <= bound
    return value >= bound


results["targets"] = [{"target": n, "value": round(v, 3), "met": met(n, v, t)} for n, v, t in targets]

rows = [("ceiling A: GET /healthz", results["ceiling_a"]), ("new payments", new), ("replays", replay),
        ("rate-limited (429)", results["reject"])] + [(f"new payments, {r['connections']} conn", r) for r in results["sweep"]]
table = ["| run | conn | req/s | p50 ms | p99 ms | max ms | server RSS MiB | server CPU % | Redis cmds/req | EVALSHA/req |",
         "|---|---|---|---|---|---|---|---|---|---|"]
for name, r in rows:
    table.append(f"| {name} | {r['connections']} | {r['rps']:.0f} | {r['p50_ms']:.2f} | {r['p99_ms']:.2f} | {r['max_ms']:.1f} | "
                 f"{r['server_rss_mib']:.1f} | {r['server_cpu_percent']:.0f} | {r['redis_commands_per_request']:.2f} | "
                 f"{r['evalsha_per_request']:.2f} |")
ol = results["open_loop"]
table += ["", f"Ceiling B (redis-benchmark, 50 connections, EVALSHA): begin {results['ceiling_b']['begin_per_second']:.0f}/s, "
          f"complete {results['ceiling_b']['complete_per_second']:.0f}/s, so {b:.0f} payments/s of Redis time.",
          "", f"Open loop at {ol['rate']} req/s (half the new-payment maximum): sent {ol['achieved_rate']:.0f}/s, "
          f"p50 {ol['latency_ms']['p50']:.2f} ms, p99 {ol['latency_ms']['p99']:.2f} ms, max {ol['latency_ms']['max']:.2f} ms, "
          f"answers {json.dumps(ol['status_counts'])}.",
          "", f"Ratios: new/A {results['ratios']['new_over_a']:.2f}, replay/A {results['ratios']['replay_over_a']:.2f}, "
          f"new/B {results['ratios']['new_over_b']:.2f}.", "", "| target | measured | met |", "|---|---|---|"]
table += [f"| {t['target']} | {t['value']} | {'yes' if t['met'] else '**no**'} |" for t in results["targets"]]
print("\n".join(table))

with open(args.out_json, "w") as f:
    json.dump(results, f, indent=2)

# The plot: throughput (bars, left axis) and p99 (line, right axis) against connections.
sweep = results["sweep"]
width, height, left, right, top, bottom = 560, 300, 60, 60, 30, 50
plot_w, plot_h = width - left - right, height - top - bottom
max_rps = max(r["rps"] for r in sweep) * 1.15
max_p99 = max(r["p99_ms"] for r in sweep) * 1.15
step = plot_w / len(sweep)
svg = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" font-size="11">',
       f'<rect width="{width}" height="{height}" fill="white"/>',
       f'<text x="{width / 2}" y="16" text-anchor="middle" font-size="13">new payments: throughput and p99 by connections</text>',
       f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}" stroke="black"/>',
       f'<line x1="{left}" y1="{top}" x2="{left}" y2="{top + plot_h}" stroke="black"/>',
       f'<line x1="{left + plot_w}" y1="{top}" x2="{left + plot_w}" y2="{top + plot_h}" stroke="black"/>',
       f'<text x="14" y="{top + plot_h / 2}" transform="rotate(-90 14 {top + plot_h / 2})" text-anchor="middle" fill="#3b6ea8">requests/s</text>',
       f'<text x="{width - 12}" y="{top + plot_h / 2}" transform="rotate(90 {width - 12} {top + plot_h / 2})" text-anchor="middle" fill="#c0392b">p99 ms</text>',
       f'<text x="{left + plot_w / 2}" y="{height - 10}" text-anchor="middle">connections</text>']
for i in range(5):
    y = top + plot_h - plot_h * i / 4
    svg.append(f'<text x="{left - 4}" y="{y + 4}" text-anchor="end" fill="#3b6ea8">{max_rps * i / 4:.0f}</text>')
    svg.append(f'<text x="{left + plot_w + 4}" y="{y + 4}" fill="#c0392b">{max_p99 * i / 4:.1f}</text>')
points = []
for i, r in enumerate(sweep):
    x = left + step * i + step * 0.2
    h = plot_h * r["rps"] / max_rps
    svg.append(f'<rect x="{x:.1f}" y="{top + plot_h - h:.1f}" width="{step * 0.6:.1f}" height="{h:.1f}" fill="#3b6ea8"/>')
    svg.append(f'<text x="{x + step * 0.3:.1f}" y="{top + plot_h + 16}" text-anchor="middle">{r["connections"]}</text>')
    points.append(f'{x + step * 0.3:.1f},{top + plot_h - plot_h * r["p99_ms"] / max_p99:.1f}')
svg.append(f'<polyline points="{" ".join(points)}" fill="none" stroke="#c0392b" stroke-width="2"/>')
svg += [f'<circle cx="{p.split(",")[0]}" cy="{p.split(",")[1]}" r="3" fill="#c0392b"/>' for p in points]
svg.append("</svg>")
with open(args.out_svg, "w") as f:
    f.write("\n".join(svg) + "\n")

# The generated section of docs/performance.md.
doc = open(args.doc).read() if os.path.exists(args.doc) else "<!-- BENCH:BEGIN -->\n<!-- BENCH:END -->\n"
generated = (f"<!-- BENCH:BEGIN -->\nLast `make bench`: {results['date']}, {os.cpu_count()} cores, {args.seconds} s per run "
             f"after {args.warmup} s of warm-up; raw figures in `{args.out_json}`.\n\n" + "\n".join(table) +
             f"\n\n![throughput and p99 against connections]({os.path.relpath(args.out_svg, os.path.dirname(args.doc))})\n"
             "<!-- BENCH:END -->")
doc = re.sub(r"<!-- BENCH:BEGIN -->.*<!-- BENCH:END -->", lambda _: generated, doc, flags=re.S)
with open(args.doc, "w") as f:
    f.write(doc)
