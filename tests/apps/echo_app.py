"""A small real HTTP app for tests: answers every request with what it saw, as JSON.

Usage: echo_app.py PORT [--prefix /svc/x/] [--delay SECONDS] [--version TEXT]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("port", type=int)
    parser.add_argument("--delay", type=float, default=0.0, help="seconds to wait before listening")
    parser.add_argument("--version", default="1")
    args = parser.parse_args()
    if args.delay:
        time.sleep(args.delay)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            payload = json.dumps({
                "method": self.command, "path": self.path, "pid": os.getpid(), "version": args.version,
                "body_bytes": len(body), "headers": dict(self.headers),
                "env": {k: v for k, v in os.environ.items() if k.startswith(("SVC_", "JUPYTER_SVC", "DEMO_"))},
            }).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _answer

        def log_message(self, fmt: str, *a: object) -> None:
            sys.stdout.write("request " + (fmt % a) + "\n")
            sys.stdout.flush()

    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    print(f"echo app version {args.version} listening on {args.port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
