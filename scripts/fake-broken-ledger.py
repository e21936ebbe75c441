#!/usr/bin/env python3
"""A payment server double with a broken ledger, for proving that the simulator's
verification can fail: /readyz and /pay always answer 200, /ledger/{user} always says
nothing was charged. Usage: fake-broken-ledger.py PORT"""
import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def answer(self, body):
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        if self.path.startswith("/ledger/"):
            self.answer({"user_id": self.path[len("/ledger/"):], "payments": 0, "totals": {}})
        else:
            self.answer({"status": "ready"})

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.answer({"status": "succeeded"})

    def log_message(self, *args):
        pass


ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
