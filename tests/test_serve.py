"""`make serve`'s shape: supervisord (deploy/supervisord.conf) runs gunicorn, the code
delivery worker and the task worker; a send is texted by the worker, a worker that dies
is started again and texts the next one, and a webhook receiver that holds the task
worker delays no code."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.servers import ROOT, base_env, codes_sent, free_port, migrate, shared_database
from tests.test_webhooks import SECRET, Dribbler

pytestmark = pytest.mark.processes


def call(url: str, method: str = "GET", body: dict | None = None) -> tuple[int, dict]:
    request = urllib.request.Request(
        url,
        data=None if body is None else json.dumps(body).encode(),
        method=method,
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


def children(parent: int, name: str) -> list[int]:
    """The processes `parent` started whose command line holds `name`."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except (OSError, IndexError, ValueError):
            continue  # gone meanwhile
        if ppid == parent and name in command:
            found.append(int(entry.name))
    return found


def wait_for(what: str, check, seconds: float = 60):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if found := check():
            return found
        time.sleep(0.1)
    raise AssertionError(f"not within {seconds} s: {what}")


def test_serve_runs_every_process_and_starts_a_dead_worker_again(tmp_path):
    receiver = Dribbler()  # answers a byte every half second: holds db_worker 120 s a try
    with shared_database(tmp_path) as database_url:
        port = free_port()
        sms_dir = tmp_path / "sms"
        env = base_env(
            database_url,
            sms_dir,
            SMS_SEND_IN_BACKGROUND="1",
            SMS_DELIVERY_POLL_INTERVAL="0.05",
            GUNICORN_BIND=f"127.0.0.1:{port}",
            WEB_CONCURRENCY="1",
            WEBHOOK_ENDPOINTS=receiver.url,
            WEBHOOK_SECRET=SECRET,
            WEBHOOK_TIMEOUT="120",
        )
        migrate(env)
        env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
        log = tempfile.TemporaryFile()
        supervisor = subprocess.Popen(
            [
                str(Path(sys.executable).parent / "supervisord"),
                "--configuration",
                "deploy/supervisord.conf",
                "--pidfile",
                str(tmp_path / "supervisord.pid"),
            ],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        url = f"http://127.0.0.1:{port}"
        try:

            def answers():
                try:
                    return call(url + "/livez")[0] == 200
                except OSError:
                    return False

            wait_for("gunicorn answers", answers)
            [worker] = wait_for(
                "the code worker runs", lambda: children(supervisor.pid, "deliver_codes")
            )
            assert children(supervisor.pid, "db_worker")

            assert call(f"{url}/accounts/api/otp/09112223344/")[0] == 200
            [code] = wait_for("the code is texted", lambda: codes_sent(sms_dir, "+989112223344"))

            os.kill(worker, signal.SIGKILL)
            again = wait_for(
                "the code worker runs again",
                lambda: [pid for pid in children(supervisor.pid, "deliver_codes") if pid != worker],
            )
            assert again
            assert call(f"{url}/accounts/api/otp/09123334455/")[0] == 200
            [other] = wait_for(
                "the next code is texted", lambda: codes_sent(sms_dir, "+989123334455")
            )
            login = call(
                f"{url}/accounts/api/token/",
                "POST",
                {"phone_number": "09123334455", "password": other},
            )
            assert login[0] == 200, login

            # The sign-up's webhook holds the task worker on the slow receiver; the next
            # code goes out all the same, long before that delivery's 120 s are up.
            wait_for("the task worker is held", lambda: receiver.accepted)
            assert call(f"{url}/accounts/api/otp/09120000001/")[0] == 200
            wait_for("a code while a webhook hangs", lambda: codes_sent(sms_dir, "+989120000001"))
            assert receiver.accepted == 1  # still the first try
        finally:
            receiver.close()  # hangs up: db_worker's delivery ends and it can stop
            supervisor.send_signal(signal.SIGTERM)
            try:
                supervisor.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(supervisor.pid, signal.SIGKILL)
                supervisor.wait()
            log.seek(0)
            output = log.read().decode(errors="replace")
            log.close()
        assert supervisor.returncode == 0, output
        assert "Traceback" not in output, output
        assert code not in output and other not in output  # never logged
