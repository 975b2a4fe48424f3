"""A provider's HTTP API played on 127.0.0.1: it reads each POSTed form or JSON body (or a
GET's query) and answers JSON from a function, as the SMS providers and the bot checks
answer."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

# (path, form or JSON body or query, headers) -> (HTTP status, JSON body[, headers])
Answer = Callable[[str, Any, dict[str, str]], tuple]


class FakeApi:
    def __init__(self, answer: Answer) -> None:
        fake = self
        self.connections = 0  # TCP connections accepted: one per request without keep-alive
        self.sockets: list[socket.socket] = []

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as the providers' APIs offer

            def setup(self):
                fake.connections += 1
                fake.sockets.append(self.request)
                super().setup()

            def do_POST(self):  # noqa: N802 (http.server's name)
                length = int(self.headers.get("Content-Length", 0))
                raw = self.rfile.read(length).decode()
                if self.headers.get("Content-Type", "").startswith("application/json"):
                    form = json.loads(raw or "null")  # a JSON body, as it came
                else:
                    form = {k: v[0] for k, v in parse_qs(raw).items()}
                self.answer(form)

            def do_GET(self):  # noqa: N802 (http.server's name)
                query = urlsplit(self.path).query
                self.answer({k: v[0] for k, v in parse_qs(query).items()})

            def answer(self, form):
                status, body, *more = answer(self.path, form, dict(self.headers))
                payload = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                for name, value in (more[0] if more else {}).items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        for connection in self.sockets:  # kept alive: a later server on the port is not this
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
