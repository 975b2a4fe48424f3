"""`make bench`'s delivery part: sending codes through a real HTTP provider on loopback
(`bench/provider.py`, Kavenegar's API), in the shape production runs: gunicorn with
SMS_SEND_IN_BACKGROUND and `manage.py deliver_codes` beside it, PostgreSQL and Redis.

- Send code with the provider answering at once, against the same with the `dummy`
  backend, rotated and paired as `bench/run.py` does (target >= 0.6).
- Status look-ups during a 16-connection send storm, with a provider answering in
  300 ms against the same storm with `dummy` (target >= 0.5); and how long after the
  storm's end the provider had every send the service accepted (target <= 10 s).
- `/livez` during a storm against a provider answering in 12 s: its slowest answer
  (target < 1 s, no timeout).

Writes bench/DELIVERY.md with --write.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import os
import platform
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402

from bench import add_service_arguments  # noqa: E402
from bench.run import SERVICE_ENV, Measure, wrk  # noqa: E402
from tests.servers import Server, free_port, manage, shared_database  # noqa: E402

EXISTING = "09120000001"
# Texts one worker has with the provider at once: with a 300 ms provider, 256 at once
# carry 850 texts a second, the storm's rate (the bench raises every SMS budget, so sends
# come as fast as the web tier takes them).
CONCURRENCY = "256"


class LoopbackProvider:
    def __init__(self, delay: float) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "bench.provider",
                "--port",
                str(self.port),
                "--delay",
                str(delay),
            ],
            cwd=ROOT,
        )
        deadline = time.monotonic() + 10
        while True:
            try:
                self.stats()
                return
            except httpx.HTTPError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def stats(self) -> dict:
        return httpx.get(f"{self.url}/stats", timeout=5).json()

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


class Stack:
    """gunicorn and a delivery worker on a database of their own."""

    def __init__(self, env: dict[str, str], workers: int, couriers: int) -> None:
        self.env = env
        manage(env, "migrate", "--noinput")
        manage(env, "seed_load_data", "--users=1", "--expired-codes=0")
        self.server = Server(env, workers=workers)
        self.couriers = [
            subprocess.Popen([sys.executable, "manage.py", "deliver_codes"], cwd=ROOT, env=env)
            for _ in range(couriers)
        ]

    def waiting(self) -> int:
        import psycopg

        with psycopg.connect(self.env["DATABASE_URL"]) as conn:
            return conn.execute(
                "SELECT count(*) FROM accounts_otpchallenge WHERE queued"
            ).fetchone()[0]

    def drain(self, limit: float = 120) -> None:
        """Wait until the worker has texted every queued send."""
        deadline = time.monotonic() + limit
        while self.waiting() and time.monotonic() < deadline:
            time.sleep(0.2)

    def stop(self) -> None:
        for courier in self.couriers:
            courier.send_signal(signal.SIGTERM)
        for courier in self.couriers:
            with contextlib.suppress(subprocess.TimeoutExpired):
                courier.wait(timeout=40)
            if courier.poll() is None:
                courier.kill()
        self.server.stop()


@contextlib.contextmanager
def stacks(options, tmp: Path, **providers: LoopbackProvider | None):
    """One stack per name: `dummy` (None) or a Kavenegar-compatible loopback provider."""
    started: dict[str, Stack] = {}
    with contextlib.ExitStack() as exits:
        for name, provider in providers.items():
            database_url = exits.enter_context(shared_database(tmp / name))
            env = {
                **{k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "OTP_"))},
                **SERVICE_ENV,
                "DATABASE_URL": database_url,
                "REDIS_URL": options.redis_url,
                "STATIC_ROOT": str(tmp / "static"),
                "SMS_FILE_PATH": str(tmp / "sms"),
                "SMS_SEND_IN_BACKGROUND": "1",
                "SMS_DELIVERY_CONCURRENCY": CONCURRENCY,
                "SMS_BREAKER_FAILURES": "1000",
            }
            if provider is not None:
                env.update(
                    SMS_BACKEND="kavenegar",
                    KAVENEGAR_API_KEY="bench-key",
                    KAVENEGAR_TEMPLATE="login",
                    KAVENEGAR_BASE_URL=provider.url,
                )
            started[name] = Stack(env, options.workers, options.couriers)
            exits.callback(started[name].stop)
        for stack in started.values():  # connections, imports, caches: not measured
            wrk(f"{stack.server.url}/accounts/api/status/{EXISTING}/", 3, 16, None, [])
        yield started


class Numbers:
    def __init__(self) -> None:
        self.base = 0

    def next(self) -> list[str]:
        self.base += 100_000
        return [str(self.base)]


def send_rate(options, tmp: Path, numbers: Numbers) -> dict:
    provider = LoopbackProvider(0.0)
    try:
        with stacks(options, tmp / "rate", dummy=None, http=provider) as started:
            rates: dict[str, list[Measure]] = {"dummy": [], "http": []}
            for rep in range(options.reps):
                for name in ["dummy", "http"] if rep % 2 == 0 else ["http", "dummy"]:
                    url = started[name].server.url + "/accounts/api/otp/"
                    rates[name].append(
                        wrk(url, options.seconds, 16, "new_numbers.lua", numbers.next())
                    )
                    started[name].drain()
            stats = provider.stats()
    finally:
        provider.stop()
    ratios = [h.rps / d.rps for h, d in zip(rates["http"], rates["dummy"], strict=True)]
    return {"rates": rates, "ratio": statistics.median(ratios), "provider": stats}


def during_storm(url: str, storm_url: str, seconds: int, numbers: Numbers, path: str, **kw):
    """Load `path` with `kw` while a 16-connection send storm runs; both measures."""
    storm: dict[str, Measure] = {}

    def run_storm() -> None:
        storm["m"] = wrk(storm_url, seconds, 16, "new_numbers.lua", numbers.next())

    thread = threading.Thread(target=run_storm)
    thread.start()
    time.sleep(0.2)
    measure = wrk(url + path, seconds - 1, kw.get("connections", 4), None, [])
    thread.join()
    return measure, storm["m"], time.time()


def storm_status(options, tmp: Path, numbers: Numbers) -> dict:
    provider = LoopbackProvider(0.3)
    try:
        with stacks(options, tmp / "storm", dummy=None, slow=provider) as started:
            status: dict[str, list[Measure]] = {"dummy": [], "slow": []}
            catch_up: list[float] = []
            for rep in range(options.reps):
                for name in ["dummy", "slow"] if rep % 2 == 0 else ["slow", "dummy"]:
                    stack = started[name]
                    before = provider.stats()["messages"] if name == "slow" else 0
                    measure, storm, ended = during_storm(
                        stack.server.url,
                        stack.server.url + "/accounts/api/otp/",
                        options.storm_seconds,
                        numbers,
                        f"/accounts/api/status/{EXISTING}/",
                    )
                    status[name].append(measure)
                    if name == "slow":
                        accepted = storm.requests - storm.non_2xx
                        catch_up.append(reached_provider(provider, before + accepted, ended))
                    stack.drain()
    finally:
        provider.stop()
    ratios = [s.rps / d.rps for s, d in zip(status["slow"], status["dummy"], strict=True)]
    return {"status": status, "ratio": statistics.median(ratios), "catch_up": catch_up}


def reached_provider(provider: LoopbackProvider, expected: int, ended: float) -> float:
    """Seconds after `ended` the provider's last message of the storm came (inf if never,
    within a minute)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        stats = provider.stats()
        if stats["messages"] >= expected:
            return max(0.0, stats["last_at"] - ended)
        time.sleep(0.1)
    return float("inf")


def livez_under_stall(options, tmp: Path, numbers: Numbers) -> dict:
    provider = LoopbackProvider(12.0)
    try:
        with stacks(options, tmp / "stall", stalled=provider) as started:
            stack = started["stalled"]
            url = stack.server.url
            command = ["wrk", "-t1", "-c1", f"-d{options.storm_seconds - 1}s", "--latency"]
            command += ["--timeout", "1s", url + "/livez"]
            storm: dict[str, Measure] = {}
            thread = threading.Thread(
                target=lambda: storm.setdefault(
                    "m",
                    wrk(
                        url + "/accounts/api/otp/",
                        options.storm_seconds,
                        16,
                        "new_numbers.lua",
                        numbers.next(),
                    ),
                )
            )
            thread.start()
            time.sleep(0.2)
            out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
            thread.join()
    finally:
        provider.stop()
    value, unit = re.search(r"Latency\s+\S+\s+\S+\s+([\d.]+)(us|ms|s)", out).groups()
    slowest = float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]
    timeouts = re.search(r"timeout (\d+)", out)
    return {
        "slowest_ms": slowest,
        "timeouts": int(timeouts.group(1)) if timeouts else 0,
        "requests": int(re.search(r"(\d+) requests in", out).group(1)),
        "storm": storm["m"],
    }


def render(options, started, rate: dict, storm: dict, stall: dict) -> str:
    def verdict(ok: bool) -> str:
        return "met" if ok else "NOT met"

    worst = max(storm["catch_up"])
    command = " ".join(["bench/delivery.py", *sys.argv[1:]]) if len(sys.argv) > 1 else "make bench"
    rates = rate["rates"]
    http_rps = statistics.median(m.rps for m in rates["http"])
    dummy_rps = statistics.median(m.rps for m in rates["dummy"])
    lines = [
        "# Delivery benchmark",
        "",
        f"- Date: {started:%Y-%m-%d %H:%M} UTC; machine: {os.cpu_count()} cores, "
        f"{platform.machine()}, Python {platform.python_version()}.",
        f"- Command: `{command}`; "
        f"gunicorn {options.workers} sync workers and {options.couriers} `deliver_codes` "
        f"(SMS_DELIVERY_CONCURRENCY={CONCURRENCY}) per stack, SMS_SEND_IN_BACKGROUND=1, "
        "PostgreSQL and Redis on 127.0.0.1; the provider is `bench/provider.py`, "
        "Kavenegar's API on 127.0.0.1 in a process of its own; wrk, 1 thread.",
        "",
        "| measure | result | target | |",
        "|---|---:|---|---|",
        f"| send code, HTTP provider answering at once / `dummy` ({options.reps} paired runs of "
        f"{options.seconds} s, 16 connections; {http_rps:.0f} vs {dummy_rps:.0f} req/s) "
        f"| {rate['ratio']:.2f} "
        f"| >= 0.6 | {verdict(rate['ratio'] >= 0.6)} |",
        f"| status look-ups during a 16-connection send storm, 300 ms provider / `dummy` "
        f"({options.reps} paired storms of {options.storm_seconds} s, 4 connections of look-ups; "
        f"{statistics.median(m.rps for m in storm['status']['slow']):.0f} vs "
        f"{statistics.median(m.rps for m in storm['status']['dummy']):.0f} req/s) "
        f"| {storm['ratio']:.2f} | >= 0.5 | {verdict(storm['ratio'] >= 0.5)} |",
        f"| every accepted send at the 300 ms provider, seconds after the storm's end "
        f"(worst of {len(storm['catch_up'])}; each: "
        f"{', '.join(f'{c:.1f}' for c in storm['catch_up'])}) | {worst:.1f} | <= 10 "
        f"| {verdict(worst <= 10)} |",
        f"| `/livez` during a send storm, 12 s provider: slowest of {stall['requests']} "
        f"answers, ms ({stall['timeouts']} over 1 s) | {stall['slowest_ms']:.0f} | < 1000 "
        f"| {verdict(stall['slowest_ms'] < 1000 and stall['timeouts'] == 0)} |",
        "",
        f"The provider at once took {rate['provider']['messages']:,} messages over "
        f"{rate['provider']['connections']} TCP connections "
        "(a kept-alive client per delivery thread).",
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--storm-seconds", type=int, default=10)
    parser.add_argument("--reps", type=int, default=4)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn sync workers")
    parser.add_argument(
        "--couriers", type=int, default=os.cpu_count() or 1, help="deliver_codes processes"
    )
    add_service_arguments(parser)
    parser.add_argument("--write")
    options = parser.parse_args()
    import redis

    redis.Redis.from_url(options.redis_url).flushdb()
    os.environ["DATABASE_URL"] = options.database_url
    started = datetime.datetime.now(datetime.UTC)
    numbers = Numbers()
    with tempfile.TemporaryDirectory() as tmp:
        rate = send_rate(options, Path(tmp), numbers)
        print(f"  send code, http/dummy {rate['ratio']:.2f}", file=sys.stderr, flush=True)
        storm = storm_status(options, Path(tmp), numbers)
        print(
            f"  status in storm {storm['ratio']:.2f}, catch-up {storm['catch_up']}",
            file=sys.stderr,
            flush=True,
        )
        stall = livez_under_stall(options, Path(tmp), numbers)
        print(f"  livez slowest {stall['slowest_ms']:.0f} ms", file=sys.stderr, flush=True)
    report = render(options, started, rate, storm, stall)
    print(report)
    if options.write:
        Path(options.write).write_text(report, encoding="utf-8")


if __name__ == "__main__":
    main()
