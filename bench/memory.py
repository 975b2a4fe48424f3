"""A worker's memory after GraphQL documents nobody sent before, each as large as the
caps let it be: valid ones, ones the standard rules refuse, ones that do not parse, and
ones too long to read. Target: its RSS stays within 100 MiB of what it was after
start-up (the cache of checked documents is bound in bytes, GRAPHQL_DOCUMENT_CACHE_BYTES).
"""

from __future__ import annotations

import http.client
import json
from collections.abc import Callable
from dataclasses import dataclass

from tests.servers import Server

DOCUMENTS = 10_000
TARGET_MIB = 100
LENGTH = 8192  # GRAPHQL_MAX_DOCUMENT_LENGTH's default


def padded(i: int) -> str:  # valid; a comment fills it
    body = f'{{ userStatus(phoneNumber: "09112223344") {{ exists }} }} #{i} '
    return body + "x" * (LENGTH - len(body))


def long_value(i: int) -> str:  # valid; a value the syntax tree copies out of the text
    body = '{ userStatus(phoneNumber: "") { exists } }'
    return body.replace('""', f'"{i}-' + "9" * (LENGTH - len(body) - len(str(i)) - 1) + '"')


def unknown_fields(i: int) -> str:  # refused by the standard rules, 20 long messages
    name = "n" * (LENGTH // 24)
    return "{" + "".join(f" {name}{i}x{j}" for j in range(20)) + " }"


def syntax_error(i: int) -> str:  # refused by the parser
    return f"{{ me {i} " + "x" * (LENGTH - 20)


def too_long(i: int) -> str:  # refused before it is read
    return f"# {i}\n{{ __typename }}" + " " * (60 * 1024)


KINDS: list[Callable[[int], str]] = [padded, long_value, unknown_fields, syntax_error, too_long]


@dataclass
class Memory:
    started_mib: float
    after_mib: float
    documents: int

    @property
    def growth_mib(self) -> float:
        return self.after_mib - self.started_mib

    def line(self) -> str:
        verdict = "met" if self.growth_mib <= TARGET_MIB else "NOT met"
        kinds = ", ".join(kind.__name__.replace("_", " ") for kind in KINDS)
        return (
            f"A worker's RSS after {self.documents:,} distinct GraphQL documents as large as "
            f"the caps allow ({kinds}, in turn): {self.started_mib:.0f} MiB after start-up, "
            f"{self.after_mib:.0f} MiB after, {self.growth_mib:+.0f} MiB (target: within "
            f"{TARGET_MIB} MiB, {verdict})."
        )


def rss_mib(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for {pid}")


def worker_of(server: Server) -> int:
    pid = server.process.pid
    with open(f"/proc/{pid}/task/{pid}/children") as children:
        (worker,) = children.read().split()
    return int(worker)


def post(port: int, query: str) -> int:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request(
            "POST", "/graphql", json.dumps({"query": query}), {"Content-Type": "application/json"}
        )
        response = connection.getresponse()
        response.read()
        return response.status
    finally:
        connection.close()


def measure(env: dict[str, str], documents: int = DOCUMENTS) -> Memory:
    server = Server(env, workers=1)
    try:
        for i in range(50):  # whatever the first requests load, loaded
            post(server.port, "{ __typename }" if i % 2 else padded(-i))
        worker = worker_of(server)
        started = rss_mib(worker)
        for i in range(documents):
            status = post(server.port, KINDS[i % len(KINDS)](i))
            assert status in (200, 400, 413), status
        assert worker_of(server) == worker, "the worker was replaced during the run"
        return Memory(started, rss_mib(worker), documents)
    finally:
        server.stop()
