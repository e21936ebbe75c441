#!/usr/bin/env python3
"""An OTLP/HTTP receiver that keeps nothing, for `make bench`'s tracing-on runs: it reads
each export request to its end and answers 200 with an empty ExportTraceServiceResponse
(zero bytes is that message in protobuf), counting requests and bytes. It decodes
nothing: decoding in Python would take a core from the two the servers share, and the
server's cost is what is measured (e2e/tracing.sh decodes what the server sends).

    otlp-sink.py --port-file FILE     listens on a free loopback port, written to FILE
    GET /stats                        {"requests": N, "bytes": N}
"""
import argparse
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

parser = argparse.ArgumentParser()
parser.add_argument("--port-file", required=True)
args = parser.parse_args()

lock = threading.Lock()
stats = {"requests": 0, "bytes": 0}


class Sink(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        remaining = length
        while remaining > 0:
            chunk = self.rfile.read(min(remaining, 1 << 16))
            if not chunk:
                break
            remaining -= len(chunk)
        with lock:
            stats["requests"] += 1
            stats["bytes"] += length - remaining
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_GET(self):
        with lock:
            body = json.dumps(stats).encode()
        self.send_response(200 if self.path == "/stats" else 404)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_):
        pass


server = ThreadingHTTPServer(("127.0.0.1", 0), Sink)
with open(args.port_file, "w") as f:
    f.write(f"{server.server_address[1]}\n")
server.serve_forever()
