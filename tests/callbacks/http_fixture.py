"""A tiny real HTTP server on 127.0.0.1 for recording downloads and their faults,
and for standing in for whatever an operator points a vendor account at.

Routes are set per test: path -> callable(handler) or a Reply.  Every request is
recorded (path, Host header) so tests can check what actually went out.
"""

import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

WAV = b"RIFF" + (36 + 800).to_bytes(4, "little") + b"WAVEfmt " + bytes(24) + b"data" + bytes(800)


@dataclass
class Reply:
    status: int = 200
    body: bytes = WAV
    headers: dict = field(default_factory=lambda: {"Content-Type": "audio/wav"})
    delay: float = 0.0
    omit_length: bool = False  # HTTP/1.0 close-delimited body: the size is unknown up front
    trickle: float = 0.0  # seconds between 64 KiB pieces of the body: a slow but live sender


class Server:
    def __init__(self):
        self.routes: dict = {}
        self.requests: list[tuple[str, str]] = []
        routes, seen = self.routes, self.requests

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                seen.append((self.path, self.headers.get("Host", "")))
                route = routes.get(self.path.split("?")[0]) or routes.get("*")  # "*": any path
                route = route or Reply(404, b"nope", {})
                if callable(route):
                    route = route()
                if route.delay:
                    time.sleep(route.delay)
                try:
                    self.send_response(route.status)
                    for name, value in route.headers.items():
                        self.send_header(name, value)
                    if "Content-Length" not in route.headers and not route.omit_length:
                        self.send_header("Content-Length", str(len(route.body)))
                    self.end_headers()
                    if not route.trickle:
                        self.wfile.write(route.body)
                    for start in range(0, len(route.body), 65536) if route.trickle else ():
                        self.wfile.write(route.body[start : start + 65536])
                        self.wfile.flush()
                        time.sleep(route.trickle)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            do_POST = do_PUT = do_DELETE = do_GET

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.host = f"127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str) -> str:
        return f"http://{self.host}{path}"

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()
