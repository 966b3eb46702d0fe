#!/usr/bin/env python3
"""faultproxy: an HTTP proxy that makes a payment gateway fail.

It stands between mspay and a real gateway implementation (in the
end-to-end tests, stripe-stateful-mock) and forwards every request to
--upstream.  A fraction --faults of idempotency keys meets one fault on
its first attempt.  The choice is by arrival, not by chance, so that
every run sees every kind: with --faults 0.2 the 5th, 10th, 15th... new
key meets a fault, the kinds taking turns (drop first):

  500   answered 500 without reaching the gateway (nothing charged)
  429   answered 429 with Retry-After: 0 (nothing charged)
  drop  forwarded (the gateway charges), then the connection is closed
        without an answer: only the idempotency key saves the client
        from charging twice

It prints "faultproxy: listening on 127.0.0.1:PORT" when ready and counts
what it did at GET /_faults.  Standard library only.
"""

import argparse
import http.client
import http.server
import json
import sys
import threading
import urllib.parse

KINDS = ["drop", "500", "429"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--upstream", required=True)
    ap.add_argument("--faults", type=float, default=0.2)
    ap.add_argument("--port", type=int, default=0)
    args = ap.parse_args()
    up = urllib.parse.urlsplit(args.upstream)
    lock = threading.Lock()
    seen = set()
    state = {"keys": 0, "faults": 0}
    counts = {k: 0 for k in KINDS}
    counts["forwarded"] = 0

    def fault_for(key):
        if not key:
            return None
        with lock:
            if key in seen:
                return None
            seen.add(key)
            n = state["keys"]
            state["keys"] = n + 1
            if int((n + 1) * args.faults) == int(n * args.faults):
                return None
            kind = KINDS[state["faults"] % len(KINDS)]
            state["faults"] += 1
            return kind

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *a):
            pass

        def reply(self, status, body, headers=()):
            self.send_response(status)
            for k, v in headers:
                self.send_header(k, v)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def forward(self, method, body):
            conn = http.client.HTTPConnection(up.hostname, up.port, timeout=30)
            headers = {k: v for k, v in self.headers.items()
                       if k.lower() not in ("host", "connection", "content-length")}
            conn.request(method, self.path, body=body, headers=headers)
            r = conn.getresponse()
            data = r.read()
            hdrs = [(k, v) for k, v in r.getheaders()
                    if k.lower() not in ("connection", "content-length",
                                         "transfer-encoding", "content-type")]
            conn.close()
            with lock:
                counts["forwarded"] += 1
            return r.status, data, hdrs

        def do_GET(self):
            if self.path == "/_faults":
                with lock:
                    body = json.dumps(counts).encode()
                return self.reply(200, body)
            status, data, hdrs = self.forward("GET", None)
            self.reply(status, data, hdrs)

        def do_POST(self):
            n = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(n)
            kind = fault_for(self.headers.get("Idempotency-Key"))
            if kind:
                with lock:
                    counts[kind] += 1
            if kind == "500":
                return self.reply(500, b'{"error":{"type":"api_error","message":"injected"}}')
            if kind == "429":
                return self.reply(429, b'{"error":{"type":"rate_limit_error","message":"injected"}}',
                                  [("Retry-After", "0")])
            status, data, hdrs = self.forward("POST", body)
            if kind == "drop":
                self.close_connection = True
                self.connection.shutdown(2)
                return
            self.reply(status, data, hdrs)

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    srv.daemon_threads = True
    print("faultproxy: listening on 127.0.0.1:%d" % srv.server_address[1], flush=True)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    sys.exit(main())
