"""A stand-in OTLP/HTTP receiver: answers 200 to every POST (an export) and prints one line per export.

usage: python otlp_receiver.py PORT        (the benchmark mounts this file into a container of the image it
measures; the app, in the same network namespace, exports its traces to http://127.0.0.1:PORT)

Prints "export BYTES PATH" for each export received, so the benchmark can tell that tracing exported spans.
"""

import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Receiver(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        # An empty ExportTraceServiceResponse: a full success.
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()
        print(f"export {len(body)} {self.path}", flush=True)

    def log_message(self, format: str, *args: object) -> None:
        """Only the export lines: no access log."""


ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Receiver).serve_forever()
