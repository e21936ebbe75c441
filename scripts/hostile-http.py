#!/usr/bin/env python3
"""Socket-level hostile clients against a live payment-api (run by scripts/hostile-e2e.sh).

  hostile-http.py PORT SERVER_PID IDLE_TIMEOUT_SECONDS

Each case prints "ok|FAIL <case>: <what happened>"; the exit code is the number of
failures. Cases: a declared 10 MB body, a streamed 10 MB chunked body (413 without the
server buffering it: its RSS is measured), one huge header, thousands of headers,
a slowloris head (closed after the idle timeout), HTTP/1.0, three pipelined
HTTP/1.1 requests answered in order, and the review's findings of issue 13 (repeated or
joined Idempotency-Key headers, a KELVIN SIGN currency, thousands of distinct members,
wrong methods on known paths).
"""
import json
import socket
import sys
import threading
import time

PORT, PID, IDLE = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
failures = 0


def report(ok, name, detail):
    global failures
    failures += 0 if ok else 1
    print(f"{'ok   ' if ok else 'FAIL '} {name}: {detail}", flush=True)


def connect(timeout=10):
    s = socket.create_connection(("127.0.0.1", PORT), timeout=timeout)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def read_responses(s, count, timeout=10):
    """Reads up to `count` responses (Content-Length framed); returns (responses, closed)."""
    s.settimeout(timeout)
    data, responses, closed = b"", [], False
    while len(responses) < count:
        while b"\r\n\r\n" not in data:
            try:
                chunk = s.recv(65536)
            except (ConnectionResetError, socket.timeout):
                chunk = b""
            if not chunk:
                return responses, True
            data += chunk
        head, _, rest = data.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers = {k.strip().lower(): v.strip() for k, v in (l.split(":", 1) for l in lines[1:] if ":" in l)}
        length = int(headers.get("content-length", "0"))
        while len(rest) < length:
            chunk = s.recv(65536)
            if not chunk:
                closed = True
                break
            rest += chunk
        responses.append((status, headers, rest[:length]))
        data = rest[length:]
    return responses, closed


def closed_by_server(s, timeout):
    """True when the server closes the connection (EOF or reset) within `timeout`."""
    s.settimeout(timeout)
    try:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                return True
    except ConnectionResetError:
        return True
    except socket.timeout:
        return False


def rss_kib():
    for line in open(f"/proc/{PID}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return -1


def pay_body(user, key):
    return json.dumps({"user_id": user, "amount": 1.00, "currency": "USD", "idempotency_key": key}).encode()


# 1. A declared 10 MB body: refused from the Content-Length, before the body is read.
s = connect()
s.sendall(b"POST /pay HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: 10485760\r\n\r\n")
(responses, _) = read_responses(s, 1, timeout=5)
report(bool(responses) and responses[0][0] == 413 and b"/problems/body-too-large" in responses[0][2],
       "10 MB body with Content-Length", f"status {responses[0][0] if responses else 'none'} before any body byte was sent")
s.close()

# 2. A streamed 10 MB chunked body: 413 once the limit is passed; the server must not keep it.
before = rss_kib()
s = connect()
s.sendall(b"POST /pay HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n")
sent = [0]


def stream():
    chunk = b"%x\r\n%s\r\n" % (65536, b"x" * 65536)
    try:
        while sent[0] < 10 * 1024 * 1024:
            s.sendall(chunk)
            sent[0] += 65536
        s.sendall(b"0\r\n\r\n")
    except OSError:
        pass  # the server closed the connection: expected


writer = threading.Thread(target=stream, daemon=True)
writer.start()
(responses, _) = read_responses(s, 1, timeout=10)
writer.join(timeout=10)
s.close()
time.sleep(0.2)
grown = rss_kib() - before
report(bool(responses) and responses[0][0] == 413 and grown < 5 * 1024,
       "10 MB chunked body", f"status {responses[0][0] if responses else 'none'} after {sent[0] // 1024} KiB sent; server RSS grew {grown} KiB")

# 3. One huge header (100 KiB) and 4. thousands of headers: refused or closed, never served.
for name, extra in [("one 100 KiB header", b"X-Huge: " + b"a" * 102400 + b"\r\n"),
                    ("5,000 headers", b"".join(b"X-H%d: v\r\n" % i for i in range(5000)))]:
    s = connect()
    try:
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: t\r\n" + extra + b"\r\n")
    except OSError:
        pass
    (responses, closed) = read_responses(s, 1, timeout=5)
    status = responses[0][0] if responses else None
    still_open = not closed and not closed_by_server(s, 2)
    report(status in (None, 400, 431) and not still_open, name,
           f"status {status or 'none'}, connection {'still open' if still_open else 'closed'}")
    s.close()

# 5. Slowloris: a request head trickled one byte per second is cut off by the idle timeout.
s = connect()
start = time.time()
head = b"POST /pay HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nX-Slow: " + b"a" * 200
closed_after = None
for byte in head:
    try:
        s.send(bytes([byte]))
    except OSError:
        closed_after = time.time() - start
        break
    if closed_by_server(s, 1.0):
        closed_after = time.time() - start
        break
s.close()
report(closed_after is not None and closed_after < IDLE + 2, "slowloris (1 byte/s)",
       f"closed after {closed_after:.1f} s (idle timeout {IDLE:.0f} s)" if closed_after else "never closed")

# 6. HTTP/1.0: served, and the connection closed after the response.
s = connect()
body = pay_body("hostile-http10", "k1")
s.sendall(b"POST /pay HTTP/1.0\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
(responses, _) = read_responses(s, 1)
closed = closed_by_server(s, 3)
report(bool(responses) and responses[0][0] == 200 and closed, "HTTP/1.0 POST /pay",
       f"status {responses[0][0] if responses else 'none'}, connection {'closed' if closed else 'left open'}")
s.close()

# 7. Three pipelined HTTP/1.1 requests in one write: answered in order.
s = connect()
body = pay_body("hostile-pipelined", "k1")
request = b"POST /pay HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
s.sendall(request + request + b"GET /ledger/hostile-pipelined HTTP/1.1\r\nHost: t\r\n\r\n")
(responses, _) = read_responses(s, 3)
s.close()
statuses = [r[0] for r in responses]
replayed = len(responses) > 1 and responses[1][1].get("idempotent-replayed") == "true" and responses[1][2] == responses[0][2]
ledger = json.loads(responses[2][2]) if len(responses) > 2 else {}
report(statuses == [200, 200, 200] and replayed and ledger.get("payments") == 1, "3 pipelined requests",
       f"statuses {statuses}, second replayed: {replayed}, ledger payments {ledger.get('payments')}")


# 8–13. The review's findings (issue 13), each over a raw socket: status and problem type,
# then the server still answers on a new connection. hostile-e2e.sh checks Redis after.
def exchange(raw):
    s = connect()
    s.sendall(raw)
    (responses, _) = read_responses(s, 1)
    s.close()
    return responses[0] if responses else (None, {}, b"")


def post(body, headers=b""):
    return (b"POST /pay HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n" + headers
            + b"Content-Length: %d\r\n\r\n" % len(body) + body)


def alive():
    status, _, _ = exchange(b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n")
    return status == 200


unkeyed = b'{"user_id":"hostile-review","amount":1}'
members = b"{" + b",".join(b'"m%d":1' % i for i in range(6000)) + b"}"
review_cases = [
    ("Idempotency-Key header twice", post(unkeyed, b"Idempotency-Key: abc\r\nIdempotency-Key: abc\r\n"), 400, "invalid-idempotency-key", None),
    ("Idempotency-Key bare with a comma", post(unkeyed, b"Idempotency-Key: abc, abc\r\n"), 400, "invalid-idempotency-key", None),
    ("currency with a KELVIN SIGN (raw UTF-8)",
     post('{"user_id":"hostile-review","amount":1,"currency":"\u212aES","idempotency_key":"k"}'.encode()), 400, "unknown-currency", None),
    ("currency with a KELVIN SIGN (JSON escape)",
     post(b'{"user_id":"hostile-review","amount":1,"currency":"\\u212aES","idempotency_key":"k"}'), 400, "unknown-currency", None),
    ("a 54 KiB body of distinct members (MAX_BODY_BYTES 65536)", post(members), 400, "malformed-request", None),
    ("GET /pay", b"GET /pay HTTP/1.1\r\nHost: t\r\n\r\n", 405, "method-not-allowed", "POST"),
    ("DELETE /ledger/u", b"DELETE /ledger/u HTTP/1.1\r\nHost: t\r\n\r\n", 405, "method-not-allowed", "GET, HEAD"),
]
for name, raw, want, problem, allow in review_cases:
    status, headers, body = exchange(raw)
    ok = status == want and f"/problems/{problem}".encode() in body and (allow is None or headers.get("allow") == allow)
    up = alive()
    report(ok and up, name, f"status {status}, type {problem if ok else body[:80]!r}"
           + (f", Allow {headers.get('allow')}" if allow else "") + f", server {'up' if up else 'DOWN'}")

sys.exit(failures)
