"""Backing services failing under a running server: clear errors within the timeouts,
never a hang or a 500, and recovery when the service returns.

Each test starts its own Redis or PostgreSQL on a spare port and stops that one; the
machine's shared servers are never touched.
"""

from __future__ import annotations

import glob
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager

import pytest

from tests.servers import (
    ROOT,
    OwnRedis,
    Server,
    base_env,
    codes_sent,
    free_port,
    migrate,
    shared_database,
)

# An outage must be answered within this, given REDIS_TIMEOUT=1 / a 2 s connect timeout.
pytestmark = pytest.mark.processes


HANG_BOUND = 10


def timed(call):
    started = time.monotonic()
    result = call()
    return result, time.monotonic() - started


@pytest.fixture
def redis_backed_server(tmp_path):
    redis = OwnRedis()
    try:
        with shared_database(tmp_path) as database_url:
            env = base_env(database_url, tmp_path / "sms", REDIS_URL=redis.url, REDIS_TIMEOUT="1")
            migrate(env)
            server = Server(env, workers=1)
            try:
                yield server, redis
            finally:
                server.stop()
    finally:
        redis.stop()


def test_redis_stopped_fails_closed_and_recovers(redis_backed_server):
    server, redis = redis_backed_server
    assert server.get("/accounts/api/otp/09112223344/")[0] == 200

    redis.stop()
    (status, body, _), elapsed = timed(lambda: server.get("/accounts/api/otp/09120000001/"))
    assert (status, body["code"]) == (503, "SERVICE_UNAVAILABLE")
    assert elapsed < HANG_BOUND
    status, body, _ = server.post(
        "/graphql", {"query": '{ userStatus(phoneNumber: "09112223344") { exists } }'}
    )
    assert status == 200 and body["errors"][0]["extensions"]["code"] == "SERVICE_UNAVAILABLE"
    assert server.get("/healthz")[:2] == (503, {"status": "unavailable", "failing": ["cache"]})
    assert server.get("/livez")[0] == 200

    redis.start()
    deadline = time.monotonic() + HANG_BOUND
    while server.get("/healthz")[0] != 200:
        assert time.monotonic() < deadline, "did not recover after Redis came back"
        time.sleep(0.2)
    assert server.get("/accounts/api/otp/09120000001/")[0] == 200


def test_redis_hanging_is_cut_off_by_the_timeout(redis_backed_server):
    server, redis = redis_backed_server
    assert server.get("/accounts/api/otp/09112223344/")[0] == 200
    redis.process.send_signal(signal.SIGSTOP)  # accepts connections, answers nothing
    try:
        (status, body, _), elapsed = timed(lambda: server.get("/accounts/api/otp/09120000002/"))
        assert (status, body["code"]) == (503, "SERVICE_UNAVAILABLE")
        assert elapsed < HANG_BOUND
    finally:
        redis.process.send_signal(signal.SIGCONT)
    assert server.get("/accounts/api/otp/09120000003/")[0] == 200


@pytest.mark.parametrize(
    ("refuse", "restore"),
    [
        # Full: maxmemory reached under the noeviction policy answers writes with OOM.
        (["CONFIG", "SET", "maxmemory", "1"], ["CONFIG", "SET", "maxmemory", "0"]),
        # A failover left the address on a replica: writes are answered READONLY.
        (["REPLICAOF", "127.0.0.1", "1"], ["REPLICAOF", "NO", "ONE"]),
    ],
    ids=["full", "read-only"],
)
def test_redis_refusing_writes_is_an_outage_and_the_connection_stays_clean(
    redis_backed_server, refuse, restore
):
    server, redis = redis_backed_server
    assert server.get("/accounts/api/otp/09112223344/")[0] == 200
    cli = ["redis-cli", "-p", str(redis.port)]
    subprocess.run([*cli, "CONFIG", "SET", "maxmemory-policy", "noeviction"], check=True)
    subprocess.run([*cli, *refuse], check=True, capture_output=True)
    status, body, _ = server.get("/accounts/api/otp/09120000004/")
    assert (status, body["code"]) == (503, "SERVICE_UNAVAILABLE")
    subprocess.run([*cli, *restore], check=True, capture_output=True)
    # The same worker, the same pooled connection: every answer of the refused trip was
    # read, so the next trip reads its own (a send counted, the cooldown in force).
    assert server.get("/accounts/api/otp/09120000004/")[0] == 200
    status, body, _ = server.get("/accounts/api/otp/09120000004/")
    assert (status, body["code"]) == (429, "RATE_LIMITED")


def test_database_unreachable_gives_503_and_clean_errors(tmp_path):
    dead = f"postgres://postgres@127.0.0.1:{free_port()}/accounts"
    env = base_env(dead, tmp_path / "sms", DATABASE_CONNECT_TIMEOUT="2")
    env.pop("REDIS_URL", None)
    server = Server(env, workers=1)
    try:
        (status, body, _), elapsed = timed(lambda: server.get("/healthz"))
        assert status == 503 and "database" in body["failing"]
        assert elapsed < HANG_BOUND
        status, body, _ = server.get("/accounts/api/otp/09112223344/")
        assert (status, body["code"]) == (503, "SERVICE_UNAVAILABLE")
        status, body, _ = server.post(
            "/accounts/api/token/", {"phone_number": "09112223344", "password": "123456"}
        )
        assert (status, body["code"]) == (503, "SERVICE_UNAVAILABLE")
        status, body, _ = server.post(
            "/graphql", {"query": '{ userStatus(phoneNumber: "09112223344") { exists } }'}
        )
        assert body["errors"][0]["extensions"]["code"] == "SERVICE_UNAVAILABLE"
        assert server.get("/livez")[0] == 200
    finally:
        server.stop()


@contextmanager
def own_postgres():
    """A throwaway PostgreSQL cluster in a temporary directory, run as the postgres user."""
    binaries = sorted(glob.glob("/usr/lib/postgresql/*/bin"))
    if not binaries or os.geteuid() != 0 or not shutil.which("runuser"):
        pytest.skip("needs PostgreSQL's binaries and root (to run them as postgres)")
    bindir = binaries[-1]
    directory = tempfile.mkdtemp(prefix="accounts-pg-")
    shutil.chown(directory, "postgres", "postgres")
    port = free_port()

    def as_postgres(*command):
        subprocess.run(
            ["runuser", "-u", "postgres", "--", *command],
            check=True,
            capture_output=True,
            timeout=60,
        )

    as_postgres(f"{bindir}/initdb", "-D", f"{directory}/data", "-A", "trust", "-U", "postgres")
    options = f"-p {port} -k {directory} -c listen_addresses=127.0.0.1 -c fsync=off"

    def start():
        as_postgres(
            f"{bindir}/pg_ctl",
            "-D",
            f"{directory}/data",
            "-l",
            f"{directory}/log",
            "-o",
            options,
            "-w",
            "start",
        )

    def stop():
        as_postgres(f"{bindir}/pg_ctl", "-D", f"{directory}/data", "-m", "immediate", "-w", "stop")

    try:
        start()
        yield f"postgres://postgres@127.0.0.1:{port}/postgres", start, stop
    finally:
        subprocess.run(
            [
                "runuser",
                "-u",
                "postgres",
                "--",
                f"{bindir}/pg_ctl",
                "-D",
                f"{directory}/data",
                "-m",
                "immediate",
                "stop",
            ],
            capture_output=True,
            check=False,
        )
        shutil.rmtree(directory, ignore_errors=True)


@pytest.mark.root
def test_postgres_stopped_mid_run_gives_503_and_recovers(tmp_path):
    with own_postgres() as (database_url, start, stop):
        env = base_env(database_url, tmp_path / "sms", DATABASE_CONNECT_TIMEOUT="2")
        env.pop("REDIS_URL", None)
        migrate(env)
        server = Server(env, workers=1)
        try:
            assert server.get("/accounts/api/otp/09112223344/")[0] == 200
            stop()
            (status, body, _), elapsed = timed(lambda: server.get("/accounts/api/otp/09120000001/"))
            assert (status, body["code"]) == (503, "SERVICE_UNAVAILABLE")
            assert elapsed < HANG_BOUND
            assert server.get("/healthz")[0] == 503
            start()
            deadline = time.monotonic() + HANG_BOUND
            while server.get("/healthz")[0] != 200:
                assert time.monotonic() < deadline, "did not recover after PostgreSQL came back"
                time.sleep(0.2)
            assert server.get("/accounts/api/otp/09120000001/")[0] == 200
        finally:
            server.stop()


@pytest.mark.root
def test_the_code_worker_outlives_a_postgres_restart_and_texts_what_waited(tmp_path):
    """`deliver_codes` finds PostgreSQL gone, says so once, keeps running, and texts the
    send that waited once the database is back."""
    with own_postgres() as (database_url, start, stop):
        env = base_env(
            database_url,
            tmp_path / "sms",
            DATABASE_CONNECT_TIMEOUT="2",
            SMS_SEND_IN_BACKGROUND="1",
            SMS_DELIVERY_POLL_INTERVAL="0.05",
        )
        env.pop("REDIS_URL", None)
        migrate(env)
        server = Server(env, workers=1)
        log = tempfile.TemporaryFile()
        worker = subprocess.Popen(
            [sys.executable, "manage.py", "deliver_codes"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )

        def logged() -> str:
            log.seek(0)
            return log.read().decode(errors="replace")

        def wait_for(what, check):
            deadline = time.monotonic() + 60
            while not check():
                assert time.monotonic() < deadline, f"not within 60 s: {what}\n{logged()}"
                time.sleep(0.1)

        try:
            assert server.get("/accounts/api/otp/09112223344/")[0] == 200
            wait_for("the first code", lambda: codes_sent(server.sms_dir, "+989112223344"))
            worker.send_signal(signal.SIGSTOP)  # so that the next send waits for it
            assert server.get("/accounts/api/otp/09120000001/")[0] == 200
            stop()
            worker.send_signal(signal.SIGCONT)
            wait_for("the outage is logged", lambda: "cannot reach a store" in logged())
            start()
            wait_for("the waiting code", lambda: codes_sent(server.sms_dir, "+989120000001"))
            assert worker.poll() is None
            assert "back after" in logged()
            assert logged().count("cannot reach a store") == 1  # once per outage
        finally:
            worker.terminate()
            worker.wait(timeout=60)
            server.stop()
        assert worker.returncode == 0, logged()
        assert "Traceback" not in logged()
        log.close()


def test_the_code_worker_outlives_a_redis_restart_and_texts_what_waited(tmp_path):
    """`deliver_codes` keeps running while its Redis is gone (a breaker it cannot ask
    lets every message through), texts the send that waited, and goes on once Redis is
    back."""
    redis = OwnRedis()
    try:
        with shared_database(tmp_path) as database_url:
            env = base_env(
                database_url,
                tmp_path / "sms",
                REDIS_URL=redis.url,
                REDIS_TIMEOUT="1",
                SMS_SEND_IN_BACKGROUND="1",
                SMS_DELIVERY_POLL_INTERVAL="0.05",
            )
            migrate(env)
            server = Server(env, workers=1)
            log = tempfile.TemporaryFile()
            worker = subprocess.Popen(
                [sys.executable, "manage.py", "deliver_codes"],
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

            def logged() -> str:
                log.seek(0)
                return log.read().decode(errors="replace")

            def wait_for(what, check):
                deadline = time.monotonic() + 60
                while not check():
                    assert time.monotonic() < deadline, f"not within 60 s: {what}\n{logged()}"
                    time.sleep(0.1)

            try:
                assert server.get("/accounts/api/otp/09112223344/")[0] == 200
                wait_for("the first code", lambda: codes_sent(server.sms_dir, "+989112223344"))
                worker.send_signal(signal.SIGSTOP)  # so that the next send waits for it
                assert server.get("/accounts/api/otp/09120000001/")[0] == 200
                redis.stop()
                worker.send_signal(signal.SIGCONT)
                wait_for(
                    "the code that waited", lambda: codes_sent(server.sms_dir, "+989120000001")
                )
                redis.start()
                assert server.get("/accounts/api/otp/09120000002/")[0] == 200
                wait_for("a code after", lambda: codes_sent(server.sms_dir, "+989120000002"))
                assert worker.poll() is None
            finally:
                worker.terminate()
                worker.wait(timeout=60)
                server.stop()
            assert worker.returncode == 0, logged()
            assert "Traceback" not in logged()
            log.close()
    finally:
        redis.stop()


@contextmanager
def dropping_connections(tmp_path, **settings):
    """A one-worker server on PostgreSQL without Redis, and a way to end its database
    connections from the server's side (as a restart or an idle timeout would)."""
    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        pytest.skip("about PostgreSQL connections; runs in the PostgreSQL leg")
    import psycopg

    with shared_database(tmp_path) as database_url:
        env = base_env(database_url, tmp_path / "sms", RATE_LIMIT_STORE="database", **settings)
        env.pop("REDIS_URL", None)
        migrate(env)

        def drop() -> None:
            with psycopg.connect(os.environ["DATABASE_URL"], autocommit=True) as conn:
                conn.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = %s AND pid <> pg_backend_pid()",
                    [database_url.rsplit("/", 1)[1]],
                )

        server = Server(env, workers=1)
        try:
            yield server, drop
        finally:
            server.stop()


STATUS = "/accounts/api/status/09112223344/"


def test_a_connection_dropped_while_idle_is_replaced_without_an_error(tmp_path):
    with dropping_connections(tmp_path, DATABASE_HEALTH_CHECK_AFTER_IDLE="0.5") as (server, drop):
        assert server.get(STATUS)[0] == 404
        drop()
        time.sleep(1)  # idle past the threshold: checked before use, and replaced
        assert server.get(STATUS)[0] == 404


def test_a_connection_dropped_while_in_use_fails_one_request_cleanly(tmp_path):
    with dropping_connections(tmp_path, DATABASE_HEALTH_CHECK_AFTER_IDLE="3600") as (
        server,
        drop,
    ):
        assert server.get(STATUS)[0] == 404
        drop()
        status, body, _ = server.get(STATUS)
        assert (status, body["code"]) == (503, "SERVICE_UNAVAILABLE")
        assert server.get(STATUS)[0] == 404
