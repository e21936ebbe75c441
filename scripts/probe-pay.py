#!/usr/bin/env python3
"""A steady probe for the failure e2e scripts: one POST /pay every 50 ms, each with a
fresh idempotency key, so every answer says whether a new payment could be taken then.

  probe-pay.py run URL USERS SECONDS OUT.csv    writes "epoch_ms,status,latency_ms" per request;
                                                USERS is comma-separated, used in turn
  probe-pay.py summary OUT.csv EVENT_EPOCH_MS   prints what clients saw around the event

The summary is one line of JSON: requests, non-200 answers by status, the window from
the first "unavailable" answer (no HTTP answer, 502, 503 or 504) to the first success
after the last one (outage_ms), and the time from the event (e.g. a master killed) to
that success (recovered_after_event_ms), and the slowest answer (max_latency_ms).
Other answers, such as the simulated processor's 500s, are counted but are not an
outage. 503 answers without a Retry-After header are counted in missing_retry_after.
"""

UNAVAILABLE = {0, 502, 503, 504}
import json
import sys
import time
import urllib.error
import urllib.request


def run(url, users, seconds, out):
    # Several users share the load so that no user's rate limit answers for the probe.
    users = users.split(",")
    end = time.time() + float(seconds)
    n = 0
    with open(out, "w") as f:
        while time.time() < end:
            n += 1
            user = users[n % len(users)]
            body = json.dumps({"user_id": user, "amount": 1.00, "currency": "USD", "idempotency_key": f"probe-{n}"}).encode()
            request = urllib.request.Request(url + "/pay", data=body, headers={"Content-Type": "application/json"})
            started = time.time()
            retry_after = "-"
            try:
                with urllib.request.urlopen(request, timeout=2) as response:
                    status = response.status
            except urllib.error.HTTPError as error:
                status = error.code
                retry_after = error.headers.get("Retry-After") or "-"
            except Exception:
                status = 0  # refused, reset or timed out: no HTTP answer at all
            latency = int((time.time() - started) * 1000)
            f.write(f"{int(started * 1000)},{status},{latency},{retry_after}\n")
            f.flush()
            time.sleep(max(0.0, 0.05 - (time.time() - started)))


def summary(path, event_ms):
    lines = [line.strip().split(",") for line in open(path) if line.strip()]
    rows = [(int(t), int(s)) for t, s, _, _ in lines]
    result = {"requests": len(rows), "ok": sum(1 for _, s in rows if s == 200), "failed_by_status": {},
              "max_latency_ms": max((int(l) for _, _, l, _ in lines), default=0),
              "missing_retry_after": sum(1 for _, s, _, r in lines if s == "503" and r == "-")}
    for _, status in rows:
        if status != 200:
            result["failed_by_status"][str(status)] = result["failed_by_status"].get(str(status), 0) + 1
    failures = [(t, s) for t, s in rows if s in UNAVAILABLE]
    if failures:
        first, last = failures[0][0], failures[-1][0]
        recovered = next((t for t, s in rows if s == 200 and t > last), None)
        result["outage_ms"] = (recovered - first) if recovered else None
        result["recovered_after_event_ms"] = (recovered - int(event_ms)) if recovered else None
    else:
        result["outage_ms"] = 0
        result["recovered_after_event_ms"] = 0
    print(json.dumps(result, sort_keys=True))


if __name__ == "__main__":
    if len(sys.argv) == 6 and sys.argv[1] == "run":
        run(*sys.argv[2:])
    elif len(sys.argv) == 4 and sys.argv[1] == "summary":
        summary(*sys.argv[2:])
    else:
        sys.exit(__doc__)
