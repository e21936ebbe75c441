#!/usr/bin/env python3
"""The measuring half of `make bench` (bench/run.sh starts the processes).

Measures our payment-api beside the Go peer (../shared/peers/go, the yardstick) and
hello-bench (the bare Hummingbird hello world), all on one redis-server, in one run so
the figures compare: GET /healthz (all three), new payments and replays (ours and the
peer) at 1, 64 and 512 connections. In each cell the servers alternate (ours, peer,
hello, then the reverse order in the next round) for --rounds rounds, each a wrk warm-up
and a measured wrk run; the table gives the median of the rounds, the JSON every round.
Then, for ours only, the rate-limited (429) run and ceiling B (our begin and complete
scripts under redis-benchmark); and the simulator's open-loop mode at half the peer's
maximum new-payment rate against ours and the peer. For each wrk run: requests/s,
p50/p99/max, the server's CPU per request (utime + stime over the run), RSS at the end
and EVALSHA per request (INFO commandstats). Prints the table, the ratios ours/Go and
the targets; writes the JSON, an SVG plot and the generated part of docs/performance.md
(between its BENCH markers).
"""
import argparse
import datetime
import http.client
import json
import math
import os
import re
import shlex
import statistics
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

parser = argparse.ArgumentParser()
parser.add_argument("--api-port", type=int, required=True)
parser.add_argument("--api-pid", type=int, required=True)
parser.add_argument("--reject-port", type=int, required=True)
parser.add_argument("--reject-pid", type=int, required=True)
parser.add_argument("--redis-port", type=int, required=True)
parser.add_argument("--traced-port", type=int, help="a payment-api tracing every request (OTLP to the sink)")
parser.add_argument("--traced-pid", type=int)
parser.add_argument("--traced-log", default="", help="its log: swift-otel says there how many spans it dropped")
parser.add_argument("--sampled-port", type=int, help="a payment-api tracing a tenth of the requests (traceidratio 0.1)")
parser.add_argument("--sampled-pid", type=int)
parser.add_argument("--sink-port", type=int, help="bench/otlp-sink.py, counting the export requests")
parser.add_argument("--peer-port", type=int)
parser.add_argument("--peer-pid", type=int)
parser.add_argument("--peer-note", default="", help="why the Go peer is not measured")
parser.add_argument("--peer-version", default="")
parser.add_argument("--hello-port", type=int)
parser.add_argument("--hello-pid", type=int)
parser.add_argument("--hello-note", default="", help="why hello-bench is not measured")
parser.add_argument("--simulator", required=True, help="the simulator's command line (a user-switching prefix allowed)")
parser.add_argument("--seconds", type=int, default=8)
parser.add_argument("--warmup", type=int, default=2)
parser.add_argument("--rounds", type=int, default=2)
parser.add_argument("--out-json", required=True)
parser.add_argument("--out-svg", required=True)
parser.add_argument("--doc", required=True)
parser.add_argument("--allocations", default="", help="e2e/allocations.sh's output on the release build")
args = parser.parse_args()

CLK_TCK = os.sysconf("SC_CLK_TCK")
WRK_SCRIPT = "bench/wrk/pay.lua"
CONNECTIONS = (1, 64, 512)
REPLAY_KEYS, REPLAY_USERS = 1000, 100
run_prefix = f"b{int(time.time()) % 100000}"

# The servers: a short tag (in user ids and keys, so no two servers' runs share one), a
# label for the table. Ours and the peer use the same key layout on the same Redis.
SERVERS = {"ours": {"tag": "sw", "label": "ours", "port": args.api_port, "pid": args.api_pid}}
if args.peer_port and args.peer_pid:
    SERVERS["go"] = {"tag": "go", "label": "Go peer", "port": args.peer_port, "pid": args.peer_pid}
if args.hello_port and args.hello_pid:
    SERVERS["hello"] = {"tag": "hb", "label": "hello-bench", "port": args.hello_port, "pid": args.hello_pid}
HAVE_PEER, HAVE_HELLO = "go" in SERVERS, "hello" in SERVERS
peer_note = "" if HAVE_PEER else (args.peer_note or "not started")
hello_note = "" if HAVE_HELLO else (args.hello_note or "not started")

SCENARIOS = {  # name: (label, path, wrk mode, users, keyspace, servers)
    "healthz": ("GET /healthz", "/healthz", "get", 0, 0, [s for s in ("ours", "go", "hello") if s in SERVERS]),
    "new": ("new payments", "/pay", "pay", 10000, 0, [s for s in ("ours", "go") if s in SERVERS]),
    "replay": ("replays", "/pay", "pay", REPLAY_USERS, REPLAY_KEYS, [s for s in ("ours", "go") if s in SERVERS]),
}
METRICS = ("rps", "p50_ms", "p99_ms", "max_ms", "cpu_us_per_request", "switches_per_request", "server_rss_mib",
           "evalsha_per_request", "redis_commands_per_request")


def log(line):
    print(line, file=sys.stderr, flush=True)


def cpu_ticks(pid):
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime, every thread of the process


def context_switches(pid):
    """Voluntary and involuntary context switches of every thread of the process: thread
    hand-offs (a task resumed on another thread, a thread parked) show up here."""
    total = 0
    for task in os.listdir(f"/proc/{pid}/task"):
        try:
            for line in open(f"/proc/{pid}/task/{task}/status"):
                if line.startswith(("voluntary_ctxt_switches:", "nonvoluntary_ctxt_switches:")):
                    total += int(line.split()[1])
        except FileNotFoundError:
            pass  # a thread that ended between the listing and the read
    return total


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


def wrk(port, path, connections, seconds, mode, prefix, users, keyspace):
    threads = max(1, min(2, connections))
    command = ["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{seconds}s", "--timeout", "5s",
               "-s", WRK_SCRIPT, f"http://127.0.0.1:{port}{path}", "--", mode, prefix, str(users or 1), str(keyspace)]
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    line = next(l for l in out.splitlines() if l.startswith("WRK_JSON "))
    return json.loads(line[len("WRK_JSON "):])


def measure(server, port, pid, label, path, connections, mode, prefix, users=0, keyspace=0):
    """A warm-up, then the measured run, with the server's and Redis's side of it."""
    if args.warmup:
        # New keys in the warm-up must not be the measured run's (its counters restart at
        # 1); replays warm up on the very keys they then replay.
        wrk(port, path, connections, args.warmup, mode, prefix if keyspace else prefix + "w", users, keyspace)
        time.sleep(0.3)  # the warm-up's requests still in the server finish outside the measured window
    before_ticks, before_switches, before_calls = cpu_ticks(pid), context_switches(pid), commandstats()
    result = wrk(port, path, connections, args.seconds, mode, prefix, users, keyspace)
    after_ticks, after_switches, after_calls = cpu_ticks(pid), context_switches(pid), commandstats()
    delta = {k: after_calls.get(k, 0) - before_calls.get(k, 0) for k in after_calls}
    delta.pop("info", None)  # our own INFO calls
    requests = max(result["requests"], 1)
    result.update({
        "server": server, "connections": connections, "prefix": prefix,
        "cpu_us_per_request": (after_ticks - before_ticks) / CLK_TCK * 1e6 / requests,
        "switches_per_request": (after_switches - before_switches) / requests,
        "server_cpu_percent": (after_ticks - before_ticks) / CLK_TCK / result["seconds"] * 100,
        "server_rss_mib": rss_mib(pid),
        "redis_commands_per_request": sum(delta.values()) / requests,
        "evalsha_per_request": delta.get("evalsha", 0) / requests,
    })
    log(f"  {label:<13} {server:<11} c={connections:<4} {result['rps']:>9.0f} req/s  p50 {result['p50_ms']:.2f} ms  "
        f"p99 {result['p99_ms']:.2f} ms  {result['cpu_us_per_request']:.0f} µs CPU/req  "
        f"EVALSHA/req {result['evalsha_per_request']:.2f}  statuses {result['statuses']}")
    return result


def seed_replays_on(port, prefix):
    """`seed_replays` for a server that is not in SERVERS (the tracing run's)."""
    SERVERS["_seed"] = {"port": port}
    try:
        seed_replays("_seed", prefix)
    finally:
        del SERVERS["_seed"]


def seed_replays(server, prefix):
    """Completes every key the replay runs cycle over, so each of their requests is a replay
    (the warm-up alone may not reach them all at 1 connection)."""
    connection = http.client.HTTPConnection("127.0.0.1", SERVERS[server]["port"], timeout=10)
    statuses = {}
    for n in range(REPLAY_KEYS):
        # Byte for byte the body bench/wrk/pay.lua sends for key n.
        body = (f'{{"user_id":"{prefix}-u{n % REPLAY_USERS}","amount":1.00,"currency":"USD",'
                f'"idempotency_key":"{prefix}-{n}"}}')
        connection.request("POST", "/pay", body=body, headers={"Content-Type": "application/json"})
        response = connection.getresponse()
        response.read()
        statuses[response.status] = statuses.get(response.status, 0) + 1
    connection.close()
    if set(statuses) != {200}:
        sys.exit(f"seeding the replay keys of {server} answered {statuses}")


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
    log(f"  ceiling B     ours        begin {begin_rate:.0f}/s, complete {complete_rate:.0f}/s: {per_payment:.0f} payments/s")
    return {"begin_per_second": begin_rate, "complete_per_second": complete_rate, "payments_per_second": per_payment}


def open_loop(server, rate):
    port = SERVERS[server]["port"]
    out = subprocess.run(shlex.split(args.simulator) + [
        "open-loop", "--target", f"http://127.0.0.1:{port}", "--rate", str(rate),
        "--duration-seconds", str(args.seconds), "--users", "10000", "--run-id", f"{run_prefix}-ol{SERVERS[server]['tag']}",
        "--clients", "256", "--ready-timeout-seconds", "5",
        # The peer has no /readyz: the simulator waits for its /healthz instead.
        "--ready-path", "/readyz" if server == "ours" else "/healthz"], capture_output=True, text=True)
    try:
        result = json.loads(out.stdout.strip().splitlines()[-1])
    except (IndexError, ValueError):
        why = (out.stderr.strip().splitlines() or ["no output"])[-1]
        if out.returncode == 69:
            why = f"{SERVERS[server]['label']} was not ready (simulator exit 69: {why})"
        log(f"  open loop     {server:<11} not measured: {why}")
        return {"rate": rate, "measured": False, "note": why}
    result.update({"rate": rate, "measured": True, "exit_code": out.returncode})
    log(f"  open loop     {server:<11} {rate} req/s scheduled, {result['achieved_rate']:.0f} sent/s: "
        f"p50 {result['latency_ms']['p50']:.2f} ms p99 {result['latency_ms']['p99']:.2f} ms max {result['latency_ms']['max']:.2f} ms "
        f"statuses {result['status_counts']}")
    return result


# ---------------------------------------------------------------------------------------
log(f"bench: {args.seconds} s per run after {args.warmup} s of warm-up, {args.rounds} round(s) per cell, "
    f"{os.cpu_count()} cores shared by wrk, the servers and redis-server")
if not HAVE_PEER:
    log(f"bench: Go peer: not measured: {peer_note}")
if not HAVE_HELLO:
    log(f"bench: hello-bench: not measured: {hello_note}")
started = time.monotonic()
results = {
    "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    "machine": {"cores": os.cpu_count(), "seconds_per_run": args.seconds, "warmup_seconds": args.warmup,
                "rounds": args.rounds},
    "servers": {
        "ours": {"measured": True, "what": "payment-api (release, --static-swift-stdlib), RATE_LIMIT_CAPACITY=0, "
                 "PAYMENT_FAILURE_RATE=0"},
        "go": {"measured": HAVE_PEER, "note": peer_note, "version": args.peer_version},
        "hello": {"measured": HAVE_HELLO, "note": hello_note},
    },
    "run_prefix": run_prefix,
    "cells": {},
}

replay_prefix = {s: f"{run_prefix}-{SERVERS[s]['tag']}-rp" for s in SCENARIOS["replay"][5]}
for scenario, (label, path, mode, users, keyspace, servers) in SCENARIOS.items():
    if scenario == "replay":
        for server in servers:
            seed_replays(server, replay_prefix[server])
    cells = results["cells"][scenario] = {}
    for connections in CONNECTIONS:
        rounds = {s: [] for s in servers}
        for round_index in range(args.rounds):
            order = servers if round_index % 2 == 0 else list(reversed(servers))
            for server in order:
                s = SERVERS[server]
                # Replays share one completed keyspace per server; new payments get fresh
                # ids per server, cell and round.
                prefix = replay_prefix[server] if keyspace else f"{run_prefix}-{s['tag']}-{scenario}-c{connections}-r{round_index}"
                rounds[server].append(measure(server, s["port"], s["pid"], label, path, connections, mode, prefix,
                                              users, keyspace))
        cells[str(connections)] = {
            server: {"median": {m: statistics.median(r[m] for r in runs) for m in METRICS}, "rounds": runs}
            for server, runs in rounds.items()}

results["reject"] = measure("ours", args.reject_port, args.reject_pid, "rate-limited", "/pay", 64, "pay",
                            f"{run_prefix}-sw-429", users=1)


def sink_stats():
    connection = http.client.HTTPConnection("127.0.0.1", args.sink_port, timeout=10)
    connection.request("GET", "/stats")
    return json.loads(connection.getresponse().read())


def dropped_spans():
    """What swift-otel's batch processor logged as dropped (a full queue), in all."""
    total = 0
    if args.traced_log and os.path.exists(args.traced_log):
        for line in open(args.traced_log, errors="replace"):
            match = re.search(r'"dropped_count":"?(\d+)', line)
            if match and "dropped" in line:
                total += int(match.group(1))
    return total


def quiet(pid, limit=15.0):
    """Waits (at most `limit` s) until `pid` uses under 5% of a core over 0.5 s: a traced
    server still encodes and exports the spans of a run after its last answer, and that
    work must not fall into the next arm's measured window."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        before = cpu_ticks(pid)
        time.sleep(0.5)
        if (cpu_ticks(pid) - before) / CLK_TCK < 0.025:
            return


# What tracing costs: ours with tracing off beside ours tracing every request and ours
# tracing a tenth (the chart's default ratio), at 64 connections, alternating, on
# payments (probes make no span). Its own rounds, so the arms are measured side by side
# rather than minutes apart, each after the others' servers went quiet.
if args.traced_port and args.traced_pid:
    arms = {"off": (args.api_port, args.api_pid, "sw"), "on": (args.traced_port, args.traced_pid, "tr")}
    if args.sampled_port and args.sampled_pid:
        arms["10%"] = (args.sampled_port, args.sampled_pid, "ts")
    tracing = results["tracing"] = {"connections": 64, "sampler": "always_on", "arms": list(arms), "cells": {}}
    sink_before, dropped_before = sink_stats(), dropped_spans()
    for scenario in ("new", "replay"):
        label, path, mode, users, keyspace, _servers = SCENARIOS[scenario]
        if keyspace:
            for arm, (port, _pid, tag) in arms.items():
                if arm != "off":
                    seed_replays_on(port, f"{run_prefix}-{tag}-rp")
        runs = {arm: [] for arm in arms}
        for round_index in range(args.rounds):
            order = list(arms) if round_index % 2 == 0 else list(reversed(arms))
            for arm in order:
                port, pid, tag = arms[arm]
                for other, (_port, other_pid, _tag) in arms.items():
                    if other != "off":
                        quiet(other_pid)
                prefix = (f"{run_prefix}-{tag}-rp" if keyspace
                          else f"{run_prefix}-{tag}-tracing-{scenario}-r{round_index}")
                runs[arm].append(measure(f"tracing {arm}", port, pid, label, path, 64, mode, prefix, users, keyspace))
        tracing["cells"][scenario] = {arm: {"median": {m: statistics.median(r[m] for r in rs) for m in METRICS}, "rounds": rs}
                                      for arm, rs in runs.items()}
    time.sleep(6)  # the batch processor's last export (every 5 s by default)
    sink_after = sink_stats()
    tracing["export_requests"] = sink_after["requests"] - sink_before["requests"]
    tracing["export_bytes"] = sink_after["bytes"] - sink_before["bytes"]
    tracing["dropped_spans"] = dropped_spans() - dropped_before


def cell(scenario, connections, server):
    """The median figures of one server in one cell, or None."""
    return results["cells"].get(scenario, {}).get(str(connections), {}).get(server, {}).get("median")


# Open loop at half the peer's maximum new-payment rate (the max over the connection
# counts of its medians), the same rate against ours and the peer.
basis = "go" if HAVE_PEER else "ours"
best = max(CONNECTIONS, key=lambda c: cell("new", c, basis)["rps"])
rate = max(1, int(cell("new", best, basis)["rps"] / 2))
results["open_loop"] = {"rate": rate, "basis": basis, "basis_connections": best,
                        "basis_rps": cell("new", best, basis)["rps"],
                        "ours": open_loop("ours", rate)}
if HAVE_PEER:
    results["open_loop"]["go"] = open_loop("go", rate)
results["ceiling_b"] = ceiling_b()
results["elapsed_seconds"] = round(time.monotonic() - started, 1)

# ---------------------------------------------------------------------------------------
# Ratios and targets.
ratios = []
for scenario, (label, *_rest) in SCENARIOS.items():
    for c in CONNECTIONS:
        ours, go, hello = cell(scenario, c, "ours"), cell(scenario, c, "go"), cell(scenario, c, "hello")
        row = {"scenario": scenario, "connections": c,
               "rps_ours_over_go": ours["rps"] / go["rps"] if go else None,
               "p99_ours_over_go": ours["p99_ms"] / go["p99_ms"] if go and go["p99_ms"] else None}
        if scenario == "healthz":
            row["rps_ours_over_hello"] = ours["rps"] / hello["rps"] if hello else None
            row["rps_hello_over_go"] = hello["rps"] / go["rps"] if hello and go else None
        ratios.append(row)
results["ratios"] = ratios

targets = []


def target(name, value, met, shown):
    targets.append({"target": name, "value": value, "met": met, "shown": shown})


def rps_target(scenario, c, factor, note=""):
    ours, go = cell(scenario, c, "ours"), cell(scenario, c, "go")
    name = f"{SCENARIOS[scenario][0]} ≥ {factor} × Go peer, {c} conn{note}"
    if not go:
        return target(name, None, None, f"no peer (ours {ours['rps']:.0f} req/s)")
    ratio = ours["rps"] / go["rps"]
    target(name, ratio, ratio >= factor, f"{ratio:.2f}× ({ours['rps']:.0f} vs {go['rps']:.0f} req/s)")


for scenario in ("new", "replay"):
    rps_target(scenario, 64, 1.2)
    rps_target(scenario, 1, 1.2, " (reported)")
    rps_target(scenario, 512, 1.2, " (reported)")
for scenario in ("new", "replay", "healthz"):
    ours, go = cell(scenario, 64, "ours"), cell(scenario, 64, "go")
    name = f"our p99 ≤ Go peer's, {SCENARIOS[scenario][0]}, 64 conn"
    if go:
        target(name, ours["p99_ms"], ours["p99_ms"] <= go["p99_ms"], f"{ours['p99_ms']:.2f} vs {go['p99_ms']:.2f} ms")
    else:
        target(name, ours["p99_ms"], None, f"no peer (ours {ours['p99_ms']:.2f} ms)")
ours, go = cell("healthz", 64, "ours"), cell("healthz", 64, "go")
if go:
    target("/healthz ≥ Go peer's, 64 conn", ours["rps"] / go["rps"], ours["rps"] >= go["rps"],
           f"{ours['rps'] / go['rps']:.2f}× ({ours['rps']:.0f} vs {go['rps']:.0f} req/s)")
else:
    target("/healthz ≥ Go peer's, 64 conn", None, None, f"no peer (ours {ours['rps']:.0f} req/s)")
ol = results["open_loop"]
name = f"open-loop p99 ≤ Go peer's at the same rate ({ol['rate']} req/s)"
if ol["ours"]["measured"] and ol.get("go", {}).get("measured"):
    mine, theirs = ol["ours"]["latency_ms"]["p99"], ol["go"]["latency_ms"]["p99"]
    target(name, mine, mine <= theirs, f"{mine:.2f} vs {theirs:.2f} ms")
else:
    mine = f"ours {ol['ours']['latency_ms']['p99']:.2f} ms" if ol["ours"]["measured"] else "ours not measured"
    target(name, None, None, f"no peer ({mine}; {'peer not run' if not HAVE_PEER else 'peer not measured, see above'})")
for scenario, want in (("new", 2.0), ("replay", 1.0)):
    ours, go = cell(scenario, 64, "ours"), cell(scenario, 64, "go")
    value = ours["evalsha_per_request"]
    peer = f" (Go peer {go['evalsha_per_request']:.2f})" if go else ""
    target(f"EVALSHA per {'new payment' if scenario == 'new' else 'replay'} = {want:.0f}, 64 conn", value,
           abs(value - want) < 0.02, f"{value:.2f}{peer}")
# The CPU a request may cost us to be 1.2× ahead on two cores shared with wrk and Redis:
# about 0.7–0.8× of the peer's (docs/performance.md).
for scenario, budget in (("new", 150), ("replay", 90), ("healthz", 40)):
    ours, go = cell(scenario, 64, "ours"), cell(scenario, 64, "go")
    value = ours["cpu_us_per_request"]
    peer = f" (Go peer {go['cpu_us_per_request']:.0f} µs)" if go else ""
    target(f"our CPU per request ≤ {budget} µs, {SCENARIOS[scenario][0]}, 64 conn", value, value <= budget,
           f"{value:.0f} µs{peer}")
rss = max(r["server_rss_mib"] for scenario in SCENARIOS for r in results["cells"][scenario]["512"]["ours"]["rounds"])
peer_rss = max((r["server_rss_mib"] for scenario in SCENARIOS
                for r in results["cells"][scenario]["512"].get("go", {}).get("rounds", [])), default=None)
target("our RSS ≤ 64 MiB at 512 conn (max over the 512-conn runs)", rss, rss <= 64.0,
       f"{rss:.1f} MiB" + (f" (Go peer {peer_rss:.1f} MiB)" if peer_rss is not None else ""))
results["targets"] = targets

# ---------------------------------------------------------------------------------------
# The report.
out = []
if HAVE_PEER:
    out.append(f"Go peer: {args.peer_version or 'measured'}.")
else:
    out.append(f"**Go peer: not measured: {peer_note}.** The ratio and target rows say \"no peer\".")
if not HAVE_HELLO:
    out += ["", f"hello-bench: not measured: {hello_note}."]
out += ["", f"Median of {args.rounds} round(s) per server (servers alternating within each cell; every round in the JSON).", "",
        "| server | run | conn | req/s | p50 ms | p99 ms | max ms | CPU µs/req | switches/req | RSS MiB | EVALSHA/req |",
        "|---|---|---|---|---|---|---|---|---|---|---|"]


def row(server, label, c, r):
    return (f"| {server} | {label} | {c} | {r['rps']:.0f} | {r['p50_ms']:.2f} | {r['p99_ms']:.2f} | {r['max_ms']:.1f} | "
            f"{r['cpu_us_per_request']:.0f} | {r['switches_per_request']:.2f} | {r['server_rss_mib']:.1f} | "
            f"{r['evalsha_per_request']:.2f} |")


for scenario, (label, _p, _m, _u, _k, servers) in SCENARIOS.items():
    for c in CONNECTIONS:
        for server in servers:
            out.append(row(SERVERS[server]["label"], label, c, cell(scenario, c, server)))
out.append(row("ours", "rate-limited (429), 1 round", 64, results["reject"]))


def fmt(value, unit="×"):
    return "no peer" if value is None else f"{value:.2f}{unit}"


out += ["", "Ratios, ours / Go peer (req/s: above 1 is faster; p99: below 1 is faster), and for `/healthz` "
        "how much is the stack (hello-bench / Go) and how much is ours (ours / hello-bench):", "",
        "| run | conn | req/s ours/Go | p99 ours/Go | req/s ours/hello | req/s hello/Go |", "|---|---|---|---|---|---|"]
for r in ratios:
    hello_cells = "| | |"
    if r["scenario"] == "healthz":
        oh = "no hello" if r["rps_ours_over_hello"] is None else f"{r['rps_ours_over_hello']:.2f}×"
        hg = ("no hello" if not HAVE_HELLO else "no peer") if r["rps_hello_over_go"] is None else f"{r['rps_hello_over_go']:.2f}×"
        hello_cells = f"| {oh} | {hg} |"
    out.append(f"| {SCENARIOS[r['scenario']][0]} | {r['connections']} | {fmt(r['rps_ours_over_go'])} | "
               f"{fmt(r['p99_ours_over_go'])} {hello_cells}")


def open_loop_line(server, r):
    if not r["measured"]:
        return f"{SERVERS[server]['label']}: not measured: {r['note']}."
    latency = r["latency_ms"]
    return (f"{SERVERS[server]['label']}: sent {r['achieved_rate']:.0f}/s, p50 {latency['p50']:.2f} ms, "
            f"p99 {latency['p99']:.2f} ms, max {latency['max']:.2f} ms, answers {json.dumps(r['status_counts'])}.")


basis_text = (f"half the Go peer's maximum new-payment rate, {ol['basis_rps']:.0f} req/s at {ol['basis_connections']} conn"
              if HAVE_PEER else
              f"half of OUR maximum new-payment rate, {ol['basis_rps']:.0f} req/s at {ol['basis_connections']} conn: no peer")
out += ["", f"Open loop (the simulator's `open-loop` subcommand, latency from the scheduled send time) at {ol['rate']} req/s "
        f"({basis_text}):", "", "- " + open_loop_line("ours", ol["ours"])]
if HAVE_PEER:
    out.append("- " + open_loop_line("go", ol["go"]))
if "tracing" in results:
    tr = results["tracing"]
    out += ["", f"Tracing (ours, {tr['connections']} conn, alternating: off; on, every request traced "
            f"(`OTEL_TRACES_SAMPLER=always_on`); 10%, `traceidratio` 0.1, the chart's default ratio; exported over "
            f"OTLP/HTTP to bench/otlp-sink.py, which keeps nothing): {tr['export_requests']} export requests, "
            f"{tr['export_bytes'] / 1e6:.1f} MB, {tr['dropped_spans']} spans dropped (a full queue).", "",
            "| run | tracing | req/s | p50 ms | p99 ms | CPU µs/req | req/s / off | CPU µs − off |",
            "|---|---|---|---|---|---|---|---|"]
    for scenario, cells in tr["cells"].items():
        off = cells["off"]["median"]
        for arm, arm_cells in cells.items():
            r = arm_cells["median"]
            extra = ("| |" if arm == "off" else
                     f"{r['rps'] / off['rps']:.2f}× | {r['cpu_us_per_request'] - off['cpu_us_per_request']:+.0f} |")
            out.append(f"| {SCENARIOS[scenario][0]} | {arm} | {r['rps']:.0f} | {r['p50_ms']:.2f} | {r['p99_ms']:.2f} | "
                       f"{r['cpu_us_per_request']:.0f} | {extra}")
cb = results["ceiling_b"]
out += ["", f"Ceiling B (ours; redis-benchmark, 50 connections, our EVALSHA begin and complete): begin "
        f"{cb['begin_per_second']:.0f}/s, complete {cb['complete_per_second']:.0f}/s, so "
        f"{cb['payments_per_second']:.0f} payments/s of Redis time.",
        "", "| target | measured | met |", "|---|---|---|"]
out += [f"| {t['target']} | {t['shown']} | {'no peer' if t['met'] is None else 'yes' if t['met'] else '**no**'} |"
        for t in targets]
if args.allocations:
    # The JSON line and the checks of e2e/allocations.sh, as it printed them.
    counts = next((l.split(": ", 1)[1] for l in args.allocations.splitlines() if "requests each:" in l), "")
    results["allocations"] = json.loads(counts) if counts else None
    checks = [l.strip() for l in args.allocations.splitlines() if l.startswith(("ok ", "FAIL "))]
    out += ["", "Heap allocations per request of the release build (e2e/allocations.sh, one connection, "
            "the server's background work subtracted):", ""] + [f"- {c}" for c in checks]
table = out
print("\n".join(table))
log(f"bench: measured in {results['elapsed_seconds']:.0f} s")

with open(args.out_json, "w") as f:
    json.dump(results, f, indent=2)

# ---------------------------------------------------------------------------------------
# The plot: grouped bars of req/s, one panel per scenario (each its own scale), a group per
# connection count, a bar per server.
COLOURS = {"ours": "#3b6ea8", "go": "#e08a1e", "hello": "#8c8c8c"}
panel_w, panel_h, left, top, gap = 270, 220, 66, 58, 48
width, height = left + 3 * panel_w + 2 * gap + 10, top + panel_h + 50
svg = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" font-size="11">',
       f'<rect width="{width}" height="{height}" fill="white"/>',
       f'<text x="{width / 2}" y="16" text-anchor="middle" font-size="13">requests/s, ours beside the Go peer '
       f'(median of {args.rounds} round(s), {args.seconds} s each)</text>']
legend_x = left
for server in ("ours", "go", "hello"):
    label = {"ours": "ours (payment-api)", "go": "Go peer", "hello": "hello-bench (/healthz only)"}[server]
    if server not in SERVERS:
        label += ": not measured"
    svg.append(f'<rect x="{legend_x}" y="26" width="10" height="10" fill="{COLOURS[server]}"/>')
    svg.append(f'<text x="{legend_x + 14}" y="35">{label}</text>')
    legend_x += 14 + 7 * len(label) + 18
for index, (scenario, (label, _p, _m, _u, _k, servers)) in enumerate(SCENARIOS.items()):
    x0 = left + index * (panel_w + gap)
    # A round step (1, 2 or 5 × 10^k) of which 4 or 5 cover the highest bar.
    highest = max(cell(scenario, c, s)["rps"] for c in CONNECTIONS for s in servers) * 1.08
    magnitude = 10 ** math.floor(math.log10(max(highest / 4, 1)))
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude * 4 >= highest)
    ticks = math.ceil(highest / step)
    peak = step * ticks
    svg.append(f'<text x="{x0 + panel_w / 2}" y="{top - 6}" text-anchor="middle" font-size="12">{label}</text>')
    svg.append(f'<line x1="{x0}" y1="{top + panel_h}" x2="{x0 + panel_w}" y2="{top + panel_h}" stroke="black"/>')
    svg.append(f'<line x1="{x0}" y1="{top}" x2="{x0}" y2="{top + panel_h}" stroke="black"/>')
    for i in range(ticks + 1):
        y = top + panel_h - panel_h * i / ticks
        svg.append(f'<text x="{x0 - 4}" y="{y + 4:.1f}" text-anchor="end">{f"{step * i / 1000:g}k" if i else "0"}</text>')
        if i:
            svg.append(f'<line x1="{x0}" y1="{y:.1f}" x2="{x0 + panel_w}" y2="{y:.1f}" stroke="#e4e4e4"/>')
    group_w = panel_w / len(CONNECTIONS)
    bar_w = group_w * 0.8 / len(servers)
    for g, c in enumerate(CONNECTIONS):
        gx = x0 + g * group_w + group_w * 0.1
        for b, server in enumerate(servers):
            rps = cell(scenario, c, server)["rps"]
            h = panel_h * rps / peak
            x = gx + b * bar_w
            svg.append(f'<rect x="{x:.1f}" y="{top + panel_h - h:.1f}" width="{bar_w - 2:.1f}" height="{h:.1f}" '
                       f'fill="{COLOURS[server]}"><title>{SERVERS[server]["label"]}, {c} conn: {rps:.0f} req/s</title></rect>')
            svg.append(f'<text x="{x + (bar_w - 2) / 2:.1f}" y="{top + panel_h - h - 3:.1f}" text-anchor="middle" '
                       f'font-size="9">{rps / 1000:.1f}k</text>')
        svg.append(f'<text x="{x0 + g * group_w + group_w / 2:.1f}" y="{top + panel_h + 15}" text-anchor="middle">{c}</text>')
    svg.append(f'<text x="{x0 + panel_w / 2}" y="{top + panel_h + 32}" text-anchor="middle">connections</text>')
svg.append(f'<text x="14" y="{top + panel_h / 2}" transform="rotate(-90 14 {top + panel_h / 2})" text-anchor="middle">requests/s</text>')
svg.append("</svg>")
with open(args.out_svg, "w") as f:
    f.write("\n".join(svg) + "\n")

# The generated section of docs/performance.md.
doc = open(args.doc).read() if os.path.exists(args.doc) else "<!-- BENCH:BEGIN -->\n<!-- BENCH:END -->\n"
generated = (f"<!-- BENCH:BEGIN -->\nLast `make bench`: {results['date']}, {os.cpu_count()} cores, {args.seconds} s per run "
             f"after {args.warmup} s of warm-up, {args.rounds} round(s) per cell; raw figures in `{args.out_json}`.\n\n"
             + "\n".join(table) +
             f"\n\n![requests/s, ours beside the Go peer]({os.path.relpath(args.out_svg, os.path.dirname(args.doc))})\n"
             "<!-- BENCH:END -->")
doc = re.sub(r"<!-- BENCH:BEGIN -->.*<!-- BENCH:END -->", lambda _: generated, doc, flags=re.S)
with open(args.doc, "w") as f:
    f.write(doc)
