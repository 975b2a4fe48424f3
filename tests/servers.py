"""Real server processes for the tests about processes (and the benchmarks): gunicorn on
127.0.0.1 ports, sharing one database (a temporary SQLite file, or a fresh PostgreSQL
database when the run has DATABASE_URL) and, when the run has REDIS_URL, one Redis."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from contextlib import contextmanager
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SECRET_KEY = "process-test-secret-key-0123456789-0123456789"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def shared_database(tmp_path: Path):
    """A DATABASE_URL for a database of its own, dropped afterwards."""
    base = os.environ.get("DATABASE_URL", "")
    if not base.startswith("postgres"):
        yield f"sqlite:///{tmp_path / 'shared.sqlite3'}"
        return
    import psycopg

    name = f"accounts_e2e_{uuid.uuid4().hex[:12]}"
    parts = urllib.parse.urlsplit(base)
    admin_url = parts._replace(path="/postgres").geturl()
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield parts._replace(path=f"/{name}").geturl()
    finally:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def base_env(database_url: str, sms_dir: Path, **overrides: str) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DJANGO_", "OTP_", "SMS_", "GRAPHQL_", "REDIS_", "DATABASE_"))
    }
    env.update(
        DJANGO_SETTINGS_MODULE="project.settings",
        SECRET_KEY=SECRET_KEY,
        DEBUG="0",
        ALLOWED_HOSTS="127.0.0.1,localhost",
        DATABASE_URL=database_url,
        SMS_BACKEND="file",
        SMS_FILE_PATH=str(sms_dir),
        LOG_LEVEL="WARNING",
    )
    if os.environ.get("REDIS_URL"):
        env["REDIS_URL"] = os.environ["REDIS_URL"]
    env.update(overrides)
    return env


def manage(env: dict[str, str], *arguments: str) -> None:
    """Run a management command in its own process, with the servers' environment."""
    subprocess.run(
        [sys.executable, "manage.py", *arguments, "-v0"],
        cwd=ROOT,
        env=env,
        check=True,
        timeout=120,
    )


def migrate(env: dict[str, str]) -> None:
    manage(env, "migrate", "--noinput")


def empty_shared_redis() -> None:
    """Start from no counters in the run's Redis, when it has one."""
    if os.environ.get("REDIS_URL"):
        import redis

        redis.Redis.from_url(os.environ["REDIS_URL"]).flushdb()


class Server:
    def __init__(self, env: dict[str, str], workers: int = 2, app: str = "project.wsgi") -> None:
        self.env = env
        self.sms_dir = Path(env["SMS_FILE_PATH"])
        self.database_url = env["DATABASE_URL"]
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = dict(env, GUNICORN_BIND=f"127.0.0.1:{self.port}", WEB_CONCURRENCY=str(workers))
        # The server's log goes to a file: a pipe nobody reads would fill and block it.
        self.log = tempfile.TemporaryFile()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "--config", "gunicorn.conf.py", app],
            cwd=ROOT,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                self.log.seek(0)
                raise RuntimeError(f"server exited: {self.log.read().decode()}")
            try:
                if self.get("/livez")[0] == 200:
                    return
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError("server did not start within 30 s")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()

    def log_text(self) -> str:
        self.log.seek(0)
        return self.log.read().decode(errors="replace")

    def request(self, method: str, path: str, body: dict | None = None, headers=None):
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(
            self.url + path,
            data=data,
            method=method,
            headers={"Content-Type": "application/json", **(headers or {})},
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, json.loads(response.read() or b"null"), response.headers
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read() or b"null"), error.headers

    def get(self, path: str, **kwargs):
        return self.request("GET", path, **kwargs)

    def post(self, path: str, body: dict, **kwargs):
        return self.request("POST", path, body, **kwargs)


@contextmanager
def servers(env: dict[str, str], count: int = 2, workers: int = 2):
    started: list[Server] = []
    try:
        for _ in range(count):
            started.append(Server(env, workers=workers))
        yield started
    finally:
        for server in started:
            server.stop()


class PgBouncer:
    """Debian's PgBouncer in transaction mode in front of the run's PostgreSQL, on a
    127.0.0.1 port of its own, until `stop`."""

    def __init__(self, database_url: str) -> None:
        binary = shutil.which("pgbouncer") or "/usr/sbin/pgbouncer"
        if not Path(binary).exists():
            pytest.skip("PgBouncer is not installed: run `make system-packages` (as root)")
        parts = urllib.parse.urlsplit(database_url)
        self.port = free_port()
        # PgBouncer refuses to run as root: it switches to the postgres user, who must be
        # able to read its files.
        self.directory = Path(tempfile.mkdtemp(prefix="pgbouncer-"))
        self.directory.chmod(0o755)
        users = self.directory / "users.txt"
        users.write_text(f'"{parts.username or "postgres"}" ""\n')
        config = self.directory / "pgbouncer.ini"
        config.write_text(
            "[databases]\n"
            f"* = host={parts.hostname or '127.0.0.1'} port={parts.port or 5432}\n"
            "[pgbouncer]\n"
            f"listen_addr = 127.0.0.1\nlisten_port = {self.port}\nunix_socket_dir =\n"
            f"auth_type = trust\nauth_file = {users}\n"
            "pool_mode = transaction\nmax_client_conn = 1000\ndefault_pool_size = 20\n"
            "ignore_startup_parameters = extra_float_digits\n"
        )
        for path in (users, config):
            path.chmod(0o644)
        command = [binary, str(config)]
        if os.geteuid() == 0:
            command[1:1] = ["-u", "postgres"]
        self.log = tempfile.TemporaryFile()
        self.process = subprocess.Popen(command, stdout=self.log, stderr=subprocess.STDOUT)
        self.url = lambda name: parts._replace(
            netloc=f"{parts.username or 'postgres'}@127.0.0.1:{self.port}", path=f"/{name}"
        ).geturl()
        wait_for_port(self.port, self.process, "PgBouncer")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=15)
        self.log.close()
        shutil.rmtree(self.directory, ignore_errors=True)


def wait_for_port(port: int, process: subprocess.Popen, what: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited with {process.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"{what} did not listen within 30 s")


@contextmanager
def pooled(database_url: str, env: dict[str, str]):
    """`env` with its database reached through PgBouncer in transaction mode (when the
    run asks for it with TEST_PGBOUNCER=1 and the database is PostgreSQL): prepared
    statements off, as docs/deploying.md says for PgBouncer before 1.21."""
    if not (os.environ.get("TEST_PGBOUNCER") and database_url.startswith("postgres")):
        yield env
        return
    bouncer = PgBouncer(database_url)
    try:
        name = urllib.parse.urlsplit(database_url).path.lstrip("/")
        yield dict(env, DATABASE_URL=bouncer.url(name), DATABASE_PREPARED_STATEMENTS="0")
    finally:
        bouncer.stop()


@contextmanager
def running_servers(tmp_path: Path, *, count: int = 1, workers: int = 1, setup=(), **overrides):
    """`count` gunicorn instances on a fresh, migrated database of their own (and the
    run's Redis), with `base_env` and `overrides` as their environment; `setup` holds
    management commands (tuples of arguments) to run before they start. With
    TEST_PGBOUNCER=1 on PostgreSQL, they reach it through PgBouncer."""
    with (
        shared_database(tmp_path) as database_url,
        pooled(database_url, base_env(database_url, tmp_path / "sms", **overrides)) as env,
    ):
        migrate(env)
        for command in setup:
            manage(env, *command)
        with servers(env, count=count, workers=workers) as started:
            yield started


@contextmanager
def running_server(tmp_path: Path, *, workers: int = 1, setup=(), **overrides):
    """One instance, as `running_servers` starts them."""
    with running_servers(tmp_path, workers=workers, setup=setup, **overrides) as (server,):
        yield server


def execute_sql(database_url: str, statement: str, params=()) -> None:
    """Run one statement on a server's database from outside the service."""
    if database_url.startswith("sqlite"):
        import sqlite3

        with sqlite3.connect(database_url.removeprefix("sqlite:///")) as conn:
            conn.execute(statement.replace("%s", "?"), params)
    else:
        import psycopg

        with psycopg.connect(database_url) as conn:
            conn.execute(statement, params)


def fetch_sql(database_url: str, query: str, params=()) -> list[tuple]:
    """The rows of one query on a server's database, read from outside the service."""
    if database_url.startswith("sqlite"):
        import sqlite3

        with sqlite3.connect(database_url.removeprefix("sqlite:///")) as conn:
            return conn.execute(query.replace("%s", "?"), params).fetchall()
    import psycopg

    with psycopg.connect(database_url) as conn:
        return conn.execute(query, params).fetchall()


def codes_sent(sms_dir: Path, e164: str) -> list[str]:
    """The codes texted to one number, oldest first, read from the file backend."""
    found = []
    for path in sorted(sms_dir.glob("*.txt")):
        text = path.read_text(encoding="utf-8")
        to, _, body = text.partition("\n\n")
        if to == f"To: {e164}":
            found.extend(re.findall(r"(?<!\d)\d{6}(?!\d)", body))
    return found


class OwnRedis:
    def __init__(self) -> None:
        if not shutil.which("redis-server"):
            pytest.skip("redis-server is not installed, so no Redis can be started and stopped")
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.start()

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            stdout=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while (
            subprocess.run(
                ["redis-cli", "-p", str(self.port), "ping"], capture_output=True, check=False
            ).stdout.strip()
            != b"PONG"
        ):
            if time.monotonic() > deadline:
                raise RuntimeError("own redis-server did not start")
            time.sleep(0.05)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGCONT)
            self.process.kill()
            self.process.wait()
