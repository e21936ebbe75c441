#!/usr/bin/env python3
"""Checks a running Prometheus that scrapes payment-api, or the docs this checks against.

  prometheus-check.py URL [options]   (a) every metric the docs promise is there, from
                                      every target, with its documented labels and type;
                                      (b) every query of the Grafana dashboard, its
                                      template variables filled in, returns data.
  prometheus-check.py --check-docs    offline: METRICS below against README.md, docs/*.md
                                      and DESIGN.md (--design), so neither drifts alone.

Live checks retry until --deadline (scrapes and rate windows need a few seconds); a
check still failing then is reported with what was missing. Prints "ok"/"FAIL" lines
and "N passed, N failed"; exits 1 on any failure. Standard library only.
"""
import argparse
import glob
import json
import math
import os
import re
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

# The metric contract, with the labels the docs give each metric. --check-docs fails
# when the docs name a metric or label that is not here, or this names one they do not.
METRICS = {
    # DESIGN.md "Metrics (contract names)" and README.md (GET /metrics): {outcome}.
    "payment_requests_total": ("counter", ["outcome"]),
    # Same two lists: the original service's name for processor failures, no label.
    "payment_requests_failed": ("counter", []),
    # Same lists; labels from docs/architecture.md (request pipeline): {method,route,status}.
    "http_server_request_duration_seconds": ("histogram", ["method", "route", "status"]),
    # Same lists, no label.
    "payment_idempotent_replays_total": ("counter", []),
    "payment_lock_conflicts_total": ("counter", []),
    # Same lists: {scope}.
    "rate_limit_rejections_total": ("counter", ["scope"]),
    # Same lists; label from docs/redis-client.md ("with a `command` label").
    "redis_command_duration_seconds": ("histogram", ["command"]),
    # Same lists: {kind}.
    "redis_errors_total": ("counter", ["kind"]),
    # Same lists, no label.
    "http_inflight_requests": ("gauge", []),
    # Same lists: {version}.
    "payment_build_info": ("gauge", ["version"]),
    # Same lists, AUTH_ONLY; label from docs/security.md (rotation and revocation): {reason}.
    "api_keys_reload_failures_total": ("counter", ["reason"]),
    # Same lists, AUTH_ONLY, no label.
    "api_keys_file_valid": ("gauge", []),
    "api_keys_active": ("gauge", []),
    # Same lists, PROCESSOR_ONLY; label from docs/processor.md (metrics): {outcome}.
    "processor_requests_total": ("counter", ["outcome"]),
    "processor_request_duration_seconds": ("histogram", ["outcome"]),
    # Same lists (the unknown-outcome reconciler, on every replica); label from docs/kubernetes.md
    # (The payment processor): {result}.
    "payment_reconcile_total": ("counter", ["result"]),
    # Same lists, no label: cluster-wide numbers read from Redis, the same from every replica
    # (queries take their max, not their sum).
    "payment_unknown_pending": ("gauge", []),
    "payment_unknown_unresolved": ("gauge", []),
    # Same lists, no label: 1/0, every Redis master has REDIS_WAIT_REPLICAS replicas in sync.
    "payment_replicas_in_sync": ("gauge", []),
}
# DESIGN.md's "Metrics (contract names)" is the contract that outside checks rely on; it
# is not ours to edit (../shared is read-only), so it must name each of these and nothing
# outside METRICS. The metrics beyond it are the README's and docs/architecture.md's
# (Decisions: beyond DESIGN.md).
CONTRACT = {"payment_requests_total", "payment_requests_failed", "http_server_request_duration_seconds",
            "payment_idempotent_replays_total", "payment_lock_conflicts_total", "rate_limit_rejections_total",
            "redis_command_duration_seconds", "redis_errors_total", "http_inflight_requests",
            "payment_build_info"}
# Exported only by a server with API_KEYS_FILE: the live check wants them with --auth and
# none without (a server without keys must not feed the key-file alerts).
AUTH_ONLY = {"api_keys_reload_failures_total", "api_keys_file_valid", "api_keys_active"}
# Exported only by a server with PROCESSOR_URL (--processor), likewise.
PROCESSOR_ONLY = {"processor_requests_total", "processor_request_duration_seconds"}
# What the ServiceMonitor's scrape adds to every series (the Operator's relabelling).
SCRAPE_LABELS = ["job", "namespace", "service", "pod", "instance"]
HISTOGRAM_SUFFIXES = ("_bucket", "_count", "_sum")
# Metric-looking names in the docs: these prefixes, with braces or a metric's ending.
METRIC_PREFIXES = ("payment_", "http_server_", "http_inflight", "redis_", "rate_limit_", "api_keys_", "processor_")
METRIC_ENDINGS = ("_total", "_seconds", "_bucket", "_count", "_sum", "_info", "_requests", "_failed", "_valid", "_active")

passed = 0
failed = 0


def report(ok, text):
    global passed, failed
    if ok:
        passed += 1
        print(f"ok    {text}", flush=True)
    else:
        failed += 1
        print(f"FAIL  {text}", flush=True)


# ------------------------------------------------------------------ docs
TOKEN = re.compile(r"`([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^`}]*\})?`")


def base_name(name):
    if name in METRICS:
        return name
    for suffix in HISTOGRAM_SUFFIXES:
        stem = name[: -len(suffix)]
        if name.endswith(suffix) and METRICS.get(stem, ("",))[0] == "histogram":
            return stem
    return None


def label_names(braces):
    if not braces:
        return []
    inner = braces.strip("{}")
    # `{outcome}`, `{method,route,status}`, `{outcome="unavailable"}`, `{status=~"5.."}`
    inner = re.sub(r'"(?:[^"\\]|\\.)*"', "", inner)
    return [re.split(r"[=!~]", part)[0].strip() for part in inner.split(",") if part.strip()]


def metric_like(name, braces):
    return name.startswith(METRIC_PREFIXES) and (braces is not None or name.endswith(METRIC_ENDINGS))


def tokens(text):
    return [(m.group(1), m.group(2)) for m in TOKEN.finditer(text)]


def section(text, heading):
    match = re.search(rf"^#+\s*{re.escape(heading)}\s*$(.*?)(?=^#+\s|\Z)", text, re.M | re.S)
    return match.group(1) if match else None


def check_docs(root, design):
    files = [os.path.join(root, "README.md")] + sorted(glob.glob(os.path.join(root, "docs", "*.md")))
    texts = {os.path.relpath(f, root): open(f, encoding="utf-8").read() for f in files}
    if design:
        texts["DESIGN.md"] = open(design, encoding="utf-8").read()
    want = set(METRICS)

    # The two complete lists: DESIGN.md's contract section and README's GET /metrics row.
    lists = []
    if design:
        body = section(texts["DESIGN.md"], "Metrics (contract names)")
        report(body is not None, "DESIGN.md has a section \"Metrics (contract names)\"")
        if body is not None:
            lists.append(("DESIGN.md \"Metrics (contract names)\"", body))
    row = next((line for line in texts["README.md"].splitlines() if line.startswith("| `GET /metrics`")), None)
    report(row is not None, "README.md has a `GET /metrics` row")
    if row is not None:
        lists.append(("README.md `GET /metrics` row", row))
    for where, body in lists:
        found = {}
        for name, braces in tokens(body):
            if metric_like(name, braces) or name in METRICS:
                found.setdefault(name, set()).update(label_names(braces))
        # DESIGN.md must hold the contract; README.md every metric we export.
        expected = CONTRACT if where.startswith("DESIGN.md") else want
        missing, extra = sorted(expected - set(found)), sorted(set(found) - want)
        doc_only = [f"{name}{{{','.join(sorted(labels - set(METRICS[name][1])))}}}"
                    for name, labels in sorted(found.items()) if name in METRICS and labels - set(METRICS[name][1])]
        what = (f"the {len(CONTRACT)} contract metrics, none outside METRICS" if expected is CONTRACT
                else f"exactly the {len(want)} metrics of METRICS")
        report(not missing and not extra and not doc_only,
               f"{where} lists {what}, with their labels"
               + (f"; missing {missing}" if missing else "") + (f"; not in METRICS {extra}" if extra else "")
               + (f"; labels not in METRICS {doc_only}" if doc_only else ""))

    # Every metric-looking name anywhere in the docs is a METRICS metric (or a series of
    # a histogram), and the labels it is written with are documented ones.
    mentioned = {}
    unknown = []
    for where, text in texts.items():
        for name, braces in tokens(text):
            if not metric_like(name, braces):
                continue
            base = base_name(name)
            if base is None:
                unknown.append(f"{where}: `{name}`")
                continue
            allowed = set(METRICS[base][1]) | set(SCRAPE_LABELS) | ({"le"} if name.endswith("_bucket") else set())
            labels = label_names(braces)
            bad = sorted(set(labels) - allowed)
            if bad:
                unknown.append(f"{where}: `{name}` with undocumented labels {bad}")
            for label in labels:
                mentioned.setdefault(base, set()).add(label)
    report(not unknown, "every metric the docs name is in METRICS, with METRICS' labels"
           + (": " + "; ".join(unknown) if unknown else ""))

    # Every label of METRICS is written somewhere: `name{...label...}`, or in prose as
    # "`name` ... with a `label` label" within one paragraph.
    paragraphs = [p for text in texts.values() for p in re.split(r"\n\s*\n", text)]
    undocumented = []
    for name, (_, labels) in METRICS.items():
        for label in labels:
            prose = re.compile(rf"`{name}`[^`]*(?:`[^`]*`[^`]*)*?with an? `{label}` label", re.S)
            if label not in mentioned.get(name, set()) and not any(prose.search(p) for p in paragraphs):
                undocumented.append(f"{name}{{{label}}}")
    count = sum(len(labels) for _, labels in METRICS.values())
    report(not undocumented, f"the docs give each of the {count} labels of METRICS"
           + (f"; not documented: {undocumented}" if undocumented else ""))


# Series the dashboard and the alerts may query besides METRICS: the scrape's own `up`,
# and kube-state-metrics (PaymentApiReplicasNotReady).
FOREIGN = re.compile(r"^(up|kube_[a-z_]+)$")


def check_query_metrics(files):
    """Every metric a query selects (`name{`) is one of METRICS (or FOREIGN)."""
    for path in files:
        text = open(path, encoding="utf-8").read()
        if path.endswith(".json"):
            text = "\n".join(t.get("expr", "") for p in panels(json.loads(text)) for t in p.get("targets", []))
        names = set(re.findall(r"(?<![\w$.])([a-zA-Z_:][a-zA-Z0-9_:]*)\{(?!\{)", text))
        strange = sorted(n for n in names if base_name(n) is None and not FOREIGN.match(n))
        report(not strange, f"{os.path.relpath(path)} queries only documented metrics ({len(names)} names)"
               + (f"; not in METRICS: {strange}" if strange else ""))


# ------------------------------------------------------------------ Prometheus API
class Prometheus:
    def __init__(self, url, timeout=10):
        self.url = url.rstrip("/")
        self.timeout = timeout

    def get(self, path, **params):
        query = urllib.parse.urlencode([(k, v) for k, vs in params.items() for v in (vs if isinstance(vs, list) else [vs])])
        request = urllib.request.Request(f"{self.url}{path}?{query}")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                body = json.load(response)
        except urllib.error.HTTPError as error:
            try:
                body = json.load(error)
            except ValueError:
                raise RuntimeError(f"HTTP {error.code} from {path}") from None
        if body.get("status") != "success":
            raise RuntimeError(f"{body.get('errorType')}: {body.get('error')}")
        return body["data"]


def finite(values):
    return [float(v) for _, v in values if not math.isnan(float(v)) and not math.isinf(float(v))]


# ------------------------------------------------------------------ dashboard
BUILTINS = ("__rate_interval", "__interval", "__interval_ms", "__range", "__range_s", "__range_ms")


def substitute(expr, variables):
    for name in sorted(variables, key=len, reverse=True):
        value = variables[name]
        expr = re.sub(r"\$\{" + re.escape(name) + r"(?::[^}]*)?\}", lambda _: value, expr)
        expr = expr.replace(f"[[{name}]]", value)
        expr = re.sub(r"\$" + re.escape(name) + r"\b", lambda _: value, expr)
    return expr


def unresolved(expr):
    return sorted(set(re.findall(r"\$\{?(\w+)", expr)))


def panels(dashboard):
    for panel in dashboard.get("panels", []):
        yield panel
        yield from panel.get("panels", [])  # rows


def resolve_variables(prom, dashboard, overrides, builtins):
    """Fills the dashboard's template variables the way Grafana would on load."""
    variables = dict(builtins)
    notes = []
    for var in dashboard.get("templating", {}).get("list", []):
        name, kind = var["name"], var.get("type")
        if name in overrides:
            variables[name] = overrides[name]
            notes.append(f"{name}={overrides[name]} (given)")
            continue
        if kind == "datasource":
            continue
        if kind in ("custom", "interval", "constant"):
            options = [o.strip() for o in str(var.get("query", "")).split(",") if o.strip()]
            if options:
                variables[name] = options[0]
                notes.append(f"{name}={options[0]} (first option)")
            continue
        query = var.get("query")
        query = query.get("query") if isinstance(query, dict) else query
        match = re.fullmatch(r"\s*label_values\((?:(.*),\s*)?(\w+)\)\s*", query or "")
        if not match:
            raise RuntimeError(f"variable {name}: cannot evaluate query {query!r}")
        selector, label = match.group(1), match.group(2)
        params = {"start": str(time.time() - 3600)}
        if selector:
            params["match[]"] = substitute(selector, variables)
        values = prom.get(f"/api/v1/label/{label}/values", **params)
        if not values:
            raise RuntimeError(f"variable {name}: {query} returned no value")
        variables[name] = sorted(values)[0]
        notes.append(f"{name}={variables[name]} (from {substitute(query, variables)}"
                     + (f", first of {len(values)}" if len(values) > 1 else "") + ")")
    return variables, notes


# ------------------------------------------------------------------ live checks
class Check:
    """One condition, retried until it holds or the deadline passes."""

    def __init__(self, title, attempt):
        self.title, self.attempt = title, attempt
        self.ok, self.detail = False, "not tried"


def metric_check(prom, name, kind, labels, selector, pods, window):
    def attempt():
        names = [name + s for s in HISTOGRAM_SUFFIXES] if kind == "histogram" else [name]
        details = []
        for series_name in names:
            series = prom.get("/api/v1/series", **{"match[]": f"{series_name}{{{selector}}}",
                                                 "start": str(time.time() - window)})
            if not series:
                return False, f"no series {series_name}{{{selector}}}"
            need = SCRAPE_LABELS + labels + (["le"] if series_name.endswith("_bucket") else [])
            lacking = sorted({label for s in series for label in need if not s.get(label)})
            if lacking:
                return False, f"{series_name}: series without {lacking}"
            seen = {s["pod"] for s in series}
            if not pods() <= seen:
                return False, f"{series_name}: no series from pods {sorted(pods() - seen)}"
            if series_name == names[0]:
                values = {label: sorted({s[label] for s in series}) for label in labels}
                details.append(f"{len(series)} series from {len(seen)} pods"
                               + "".join(f", {label}: {','.join(v)}" for label, v in values.items()))
        metadata = prom.get("/api/v1/metadata", metric=name).get(name, [])
        types = sorted({m["type"] for m in metadata})
        if types != [kind]:
            return False, f"type {types or 'unknown'} in the scrape metadata, documented {kind}"
        return True, "; ".join(details) + f"; type {kind}"
    return attempt


def absent_check(prom, name, selector, pods, window, setting):
    """No series of `name`, from targets that were scraped (their payment_build_info is there)."""
    def attempt():
        start = str(time.time() - window)
        scraped = {s["pod"] for s in prom.get("/api/v1/series", **{"match[]": f"payment_build_info{{{selector}}}", "start": start})}
        if not pods() or not pods() <= scraped:
            return False, f"pods {sorted(pods() - scraped) or 'none'} not scraped yet"
        series = prom.get("/api/v1/series", **{"match[]": f"{name}{{{selector}}}", "start": start})
        if series:
            return False, f"{len(series)} series from a server without {setting}"
        return True, f"none from {len(scraped)} pods without {setting} (a flag of this script checks them with it)"
    return attempt


def query_check(prom, expr, window, step, nonzero):
    def attempt():
        now = time.time()
        result = prom.get("/api/v1/query_range", query=expr, start=str(now - window), end=str(now), step=step)
        with_data = [s for s in result["result"] if finite(s["values"])]
        if not with_data:
            return False, (f"{len(result['result'])} series, none with a finite value" if result["result"]
                           else "no series")
        top = max(max(finite(s["values"])) for s in with_data)
        if nonzero and top == 0:
            return False, f"{len(with_data)} series, all 0 (this query should see traffic)"
        return True, f"{len(with_data)} series, max {top:.4g}"
    return attempt


def expect_check(prom, expr):
    def attempt():
        result = prom.get("/api/v1/query", query=expr)["result"]
        values = [float(s["value"][1]) for s in result]
        good = [v for v in values if v != 0 and not math.isnan(v) and not math.isinf(v)]
        if not good:
            return False, f"{len(result)} series, none nonzero" if result else "no series"
        return True, f"{len(result)} series, max {max(good):.4g}"
    return attempt


def run_checks(checks, deadline):
    pending = list(checks)
    while True:
        for check in pending:
            try:
                check.ok, check.detail = check.attempt()
            except (RuntimeError, OSError, ValueError) as error:
                check.ok, check.detail = False, f"query failed: {error}"
        pending = [c for c in pending if not c.ok]
        if not pending or time.time() >= deadline:
            break
        time.sleep(1)
    for check in checks:
        report(check.ok, f"{check.title}: {check.detail}" + ("" if check.ok else " (at the deadline)"))


def live(args):
    prom = Prometheus(args.url)
    deadline = time.time() + args.deadline
    selector = f'namespace="{args.namespace}", service="{args.service}"'
    state = {"pods": set()}

    def targets():
        result = prom.get("/api/v1/query", query=f"up{{{selector}}}")["result"]
        state["pods"] = {s["metric"].get("pod", "") for s in result}
        down = sorted(s["metric"].get("pod", "?") for s in result if s["value"][1] != "1")
        if len(result) < args.targets or down:
            return False, f"{len(result)} targets, {args.targets} wanted, down: {down or 'none'}"
        return True, f"{len(result)} targets up: {', '.join(sorted(state['pods']))}"

    checks = [Check(f"targets of {args.namespace}/{args.service}", targets)]
    for name, (kind, labels) in METRICS.items():
        shown = f"{name}{{{','.join(labels)}}}" if labels else name
        setting = ("API_KEYS_FILE" if name in AUTH_ONLY and not args.auth
                   else "PROCESSOR_URL" if name in PROCESSOR_ONLY and not args.processor else None)
        if setting:
            checks.append(Check(f"metric {shown} absent",
                                absent_check(prom, name, selector, lambda: state["pods"], args.window, setting)))
            continue
        checks.append(Check(f"metric {shown} ({kind})",
                            metric_check(prom, name, kind, labels, selector, lambda: state["pods"], args.window)))
    print(f"== metrics the docs promise, on {args.url}", flush=True)
    run_checks(checks, deadline)
    if args.expect:
        print("== what the traffic did, as Prometheus sees it", flush=True)
        run_checks([Check(f"expected data: {expr}", expect_check(prom, expr)) for expr in args.expect], deadline)

    dashboard = json.load(open(args.dashboard, encoding="utf-8"))
    builtins = {"__rate_interval": args.rate_interval, "__interval": args.step, "__interval_ms": "1000",
                "__range": f"{int(args.window)}s", "__range_s": str(int(args.window)),
                "__range_ms": str(int(args.window * 1000))}
    overrides = dict(v.split("=", 1) for v in args.var)
    variables, error = None, None
    while variables is None:
        try:
            variables, notes = resolve_variables(prom, dashboard, overrides, builtins)
        except (RuntimeError, OSError) as failure:
            error = failure
            if time.time() >= deadline:
                break
            time.sleep(1)
    print(f"== dashboard {os.path.relpath(args.dashboard)}", flush=True)
    report(variables is not None, "template variables: " + (", ".join(notes) if variables else f"{error}"))
    if variables is None:
        return
    allow_zero = set(args.allow_zero)
    checks = []
    for panel in panels(dashboard):
        for target in panel.get("targets", []):
            if not target.get("expr"):
                continue
            ref = f"{panel.get('id')}/{target.get('refId')}"
            expr = substitute(target["expr"], variables)
            title = f"panel {ref} \"{panel.get('title')}\" ({target.get('legendFormat', '')})"
            left = unresolved(expr)
            if left:
                report(False, f"{title}: unresolved variables {left} in {expr}")
                continue
            nonzero = args.nonzero and ref not in allow_zero
            checks.append(Check(title, query_check(prom, expr, args.window, args.step, nonzero)))
    run_checks(checks, deadline)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("url", nargs="?", help="Prometheus base URL, e.g. http://127.0.0.1:9090")
    parser.add_argument("--check-docs", action="store_true", help="compare METRICS with the docs, offline")
    parser.add_argument("--root", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."),
                        help="repository root (README.md, docs/)")
    parser.add_argument("--design", help="DESIGN.md, whose \"Metrics (contract names)\" section is checked too")
    parser.add_argument("--dashboard", help="Grafana dashboard JSON (default: the chart's)")
    parser.add_argument("--namespace", default="payments")
    parser.add_argument("--service", default="payments-payment-api")
    parser.add_argument("--targets", type=int, default=1, help="targets that must be up")
    parser.add_argument("--auth", action="store_true",
                        help="the targets run with API_KEYS_FILE: the key-file metrics must be there (else: absent)")
    parser.add_argument("--processor", action="store_true",
                        help="the targets run with PROCESSOR_URL: the processor metrics must be there (else: absent)")
    parser.add_argument("--var", action="append", default=[], help="NAME=VALUE for a template variable")
    parser.add_argument("--rate-interval", default="1m", help="$__rate_interval")
    parser.add_argument("--step", default="5s", help="query_range step and $__interval")
    parser.add_argument("--window", type=float, default=300, help="seconds of history a query may find data in")
    parser.add_argument("--deadline", type=float, default=90, help="seconds to retry before failing")
    parser.add_argument("--nonzero", action="store_true", help="a query's data must not be all 0")
    parser.add_argument("--allow-zero", action="append", default=[], help="PANEL/REF exempt from --nonzero")
    parser.add_argument("--expect", action="append", default=[], metavar="PROMQL",
                        help="an instant query that must return a nonzero value (retried like the rest)")
    args = parser.parse_args()
    args.root = os.path.normpath(args.root)
    args.dashboard = args.dashboard or os.path.join(args.root, "helm/payment-api/dashboards/payment-api.json")
    if args.check_docs:
        check_docs(args.root, args.design)
        check_query_metrics([args.dashboard, os.path.join(args.root, "helm/payment-api/templates/prometheusrule.yaml")])
    elif args.url:
        live(args)
    else:
        parser.error("give a Prometheus URL, or --check-docs")
    print(f"{passed} passed, {failed} failed")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
