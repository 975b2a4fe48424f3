"""The production deployment of docs/deploying.md, run for real: Debian's nginx with
deploy/nginx.conf in front of two gunicorn instances, PgBouncer in transaction mode,
and what gunicorn logs when a worker is stopped."""

from __future__ import annotations

import http.client
import json
import re
import shutil
import socket
import subprocess
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.helpers import E164, PHONE
from tests.servers import (
    ROOT,
    PgBouncer,
    Server,
    base_env,
    codes_sent,
    empty_shared_redis,
    free_port,
    migrate,
    running_server,
    running_servers,
    shared_database,
    wait_for_port,
)

pytestmark = pytest.mark.processes

NGINX = "/usr/sbin/nginx"
# A client that is not nginx's own address, so the service telling them apart shows.
CLIENT = "127.0.0.5"


class Nginx:
    """deploy/nginx.conf, with only its addresses changed, in front of `upstreams`."""

    def __init__(self, upstreams: list[Server]) -> None:
        if not Path(NGINX).exists():
            pytest.skip("nginx is not installed: run `make system-packages` (as root)")
        self.port = free_port()
        self.directory = Path(tempfile.mkdtemp(prefix="nginx-"))
        config = (ROOT / "deploy" / "nginx.conf").read_text()
        changes = {
            "listen 80 default_server;": f"listen 127.0.0.1:{self.port} default_server;",
            "server 127.0.0.1:8001;": f"server 127.0.0.1:{upstreams[0].port};",
            "server 127.0.0.1:8002;": f"server 127.0.0.1:{upstreams[1].port};",
        }
        for old, new in changes.items():
            assert config.count(old) == 1, old
            config = config.replace(old, new)
        path = self.directory / "nginx.conf"
        path.write_text(config)
        self.log = self.directory / "error.log"
        self.process = subprocess.Popen(
            [
                NGINX,
                "-c",
                str(path),
                "-p",
                str(self.directory),
                "-e",
                str(self.log),
                "-g",
                f"daemon off; pid {self.directory / 'nginx.pid'};",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
        )
        wait_for_port(self.port, self.process, "nginx")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=15)
        shutil.rmtree(self.directory, ignore_errors=True)

    def request(self, method, path, body=None, headers=None, source=CLIENT):
        connection = http.client.HTTPConnection(
            "127.0.0.1", self.port, timeout=30, source_address=(source, 0)
        )
        try:
            payload = json.dumps(body) if body is not None else None
            connection.request(
                method,
                path,
                payload,
                {"Host": "127.0.0.1", "Content-Type": "application/json", **(headers or {})},
            )
            response = connection.getresponse()
            return response.status, json.loads(response.read() or b"null")
        finally:
            connection.close()


@pytest.fixture(scope="module")
def behind_nginx(tmp_path_factory):
    """Two one-worker instances that trust only 127.0.0.1 (nginx), behind nginx."""
    tmp = tmp_path_factory.mktemp("nginx")
    empty_shared_redis()
    with running_servers(
        tmp, count=2, workers=1, TRUSTED_PROXIES="127.0.0.1", TRUSTED_PROXY_COUNT="1"
    ) as started:
        nginx = Nginx(started)
        try:
            yield nginx, started[0].sms_dir
        finally:
            nginx.stop()


def test_stalled_sockets_do_not_hold_up_anyone(behind_nginx):
    nginx, _ = behind_nginx
    stalled = []
    try:
        for i in range(200):
            sock = socket.create_connection(("127.0.0.1", nginx.port), timeout=10)
            if i % 2:  # half a request line and headers
                sock.sendall(b"POST /graphql HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-")
            else:  # the headers, and the first byte of a body that never ends
                sock.sendall(
                    b"POST /graphql HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                    b"Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"
                )
            stalled.append(sock)
        # Every stalled request is in nginx's hands: both workers are free.
        for _ in range(4):
            started = time.monotonic()
            status, body = nginx.request("GET", "/livez")
            assert (status, body) == (200, {"status": "ok"})
            assert time.monotonic() - started < 1.0
        query = "query($p: String!) { userStatus(phoneNumber: $p) { exists } }"
        status, body = nginx.request(
            "POST", "/graphql", {"query": query, "variables": {"p": PHONE}}
        )
        assert status == 200 and body["data"]["userStatus"] == {"exists": False}
    finally:
        for sock in stalled:
            sock.close()


def test_the_service_sees_the_client_nginx_saw_whatever_it_forges(behind_nginx):
    nginx, sms_dir = behind_nginx
    forged = {"X-Forwarded-For": "203.0.113.9", "X-Real-IP": "203.0.113.9"}
    assert nginx.request("GET", f"/accounts/api/otp/{PHONE}/", headers=forged)[0] == 200
    code = codes_sent(sms_dir, E164)[-1]
    status, tokens = nginx.request(
        "POST", "/accounts/api/token/", {"phone_number": PHONE, "password": code}, forged
    )
    assert status == 200
    auth = {"Authorization": f"JWT {tokens['access']}", **forged}
    status, body = nginx.request("POST", "/graphql", {"query": "{ sessions { clientIp } }"}, auth)
    assert status == 200
    assert body["data"]["sessions"] == [{"clientIp": CLIENT}]


def test_a_worker_timeout_is_one_warning_without_a_traceback(tmp_path):
    with running_server(tmp_path, workers=1, GUNICORN_TIMEOUT="2") as server:
        # Straight to gunicorn, without nginx: the worker waits for the rest of the body.
        sock = socket.create_connection(("127.0.0.1", server.port), timeout=10)
        try:
            sock.sendall(
                b"POST /graphql HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                b"Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"
            )
            deadline = time.monotonic() + 60
            while "WORKER TIMEOUT" not in server.log_text():
                assert time.monotonic() < deadline, server.log_text()
                time.sleep(0.2)
            # The replacement answers (and anything the stopped one wrote is in the log).
            assert server.get("/livez")[0] == 200
        finally:
            sock.close()
        log = server.log_text()
    timeouts = [line for line in log.splitlines() if "WORKER TIMEOUT" in line]
    assert len(timeouts) == 1 and "[WARNING]" in timeouts[0], log
    assert "Traceback" not in log, log
    assert not re.search(r"\[(ERROR|CRITICAL)\]", log), log


@contextmanager
def behind_pgbouncer(tmp_path):
    """Two instances reaching PostgreSQL through PgBouncer in transaction mode, with
    prepared statements off as docs/deploying.md says."""
    with shared_database(tmp_path) as database_url:
        if not database_url.startswith("postgres"):
            pytest.skip("PgBouncer pools PostgreSQL connections: run with DATABASE_URL")
        bouncer = PgBouncer(database_url)
        started: list[Server] = []
        try:
            name = database_url.rsplit("/", 1)[1]
            env = base_env(bouncer.url(name), tmp_path / "sms", DATABASE_PREPARED_STATEMENTS="0")
            migrate(env)
            started = [Server(env, workers=2), Server(env, workers=2)]
            yield started
        finally:
            for server in started:
                server.stop()
            bouncer.stop()


def test_two_instances_behind_pgbouncer_in_transaction_mode(tmp_path):
    empty_shared_redis()
    with behind_pgbouncer(tmp_path) as (a, b):
        assert a.get(f"/accounts/api/otp/{PHONE}/")[0] == 200
        code = codes_sent(a.sms_dir, E164)[-1]
        status, tokens, _ = b.post(
            "/accounts/api/token/", {"phone_number": PHONE, "password": code}
        )
        assert status == 200 and tokens["created"] is True
        # The same statements many times on every pooled connection: none is prepared.
        refresh = tokens["refresh"]
        for i in range(20):
            server = (a, b)[i % 2]
            status, tokens, _ = server.post("/accounts/api/token/refresh/", {"refresh": refresh})
            assert status == 200, tokens
            refresh = tokens["refresh"]
            assert server.get(f"/accounts/api/status/{PHONE}/")[0] == 200
        status, _, _ = a.post("/accounts/api/token/refresh/", {"refresh": refresh})
        assert status == 200
        assert b.get("/healthz")[0] == 200
