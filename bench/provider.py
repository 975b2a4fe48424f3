"""A Kavenegar-compatible SMS provider on 127.0.0.1, for the bench and the drill: it
answers every verify-lookup after `--delay` seconds (or refuses with `--status`), over
keep-alive connections, and counts what it got. `GET /stats` answers its counts and the
Unix time of the last message it took, as JSON.

    python -m bench.provider --port 9100 --delay 0.3

It is an asyncio server in a process of its own, so it waits for thousands of messages
at once on a few milliseconds of CPU each, as a provider across the internet would.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from urllib.parse import parse_qs

OK = json.dumps({"return": {"status": 200, "message": "تایید شد"}, "entries": []}).encode()


class Provider:
    def __init__(self, delay: float, status: int) -> None:
        self.delay = delay
        self.status = status
        self.messages = 0
        self.connections = 0
        self.last_at = 0.0
        self.first_at = 0.0
        self.numbers: dict[str, str] = {}  # the last code texted to each number

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                method, path, _ = lines[0].split(" ", 2)
                length = 0
                for line in lines[1:]:
                    name, _, value = line.partition(":")
                    if name.lower() == "content-length":
                        length = int(value)
                body = await reader.readexactly(length) if length else b""
                if path.startswith("/stats"):
                    payload, status = self.stats(), 200
                else:
                    await asyncio.sleep(self.delay)
                    payload, status = self.text(body)
                writer.write(
                    f"HTTP/1.1 {status} OK\r\nContent-Type: application/json\r\n"
                    f"Content-Length: {len(payload)}\r\n\r\n".encode()
                    + payload
                )
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, ValueError):
            pass
        finally:
            writer.close()

    def text(self, body: bytes) -> tuple[bytes, int]:
        if self.status != 200:
            refusal = {"return": {"status": self.status, "message": "refused"}, "entries": None}
            return json.dumps(refusal).encode(), self.status
        form = parse_qs(body.decode())
        self.messages += 1
        self.last_at = time.time()
        self.first_at = self.first_at or self.last_at
        if "receptor" in form and "token" in form:
            self.numbers[form["receptor"][0]] = form["token"][0]
        return OK, 200

    def stats(self) -> bytes:
        return json.dumps(
            {
                "messages": self.messages,
                "connections": self.connections,
                "first_at": self.first_at,
                "last_at": self.last_at,
            }
        ).encode()


async def serve(port: int, delay: float, status: int) -> None:
    provider = Provider(delay, status)
    server = await asyncio.start_server(provider.handle, "127.0.0.1", port, backlog=4096)
    async with server:
        await server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--delay", type=float, default=0.0, help="seconds before each answer")
    parser.add_argument("--status", type=int, default=200, help="answer this HTTP status")
    options = parser.parse_args()
    asyncio.run(serve(options.port, options.delay, options.status))


if __name__ == "__main__":
    main()
