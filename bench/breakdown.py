"""Where one case's time goes, per request, in the service and in the I/O floor.

    python bench/breakdown.py refresh [--requests 3000] [--seed 1000000] [--top 25]

Makes a database of its own (as `make bench` does), prepares the case's data for each
side, then calls each side's WSGI application in a process of its own, first plainly
(wall and CPU microseconds per request) and then under cProfile. The profile's own time
is spread over the parts in proportion, so the parts add up to the plain wall time.
Parts are by where the code lives, built-ins (socket reads, C hashing) charged to their
callers: PostgreSQL and Redis are their drivers plus the waiting for an answer.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import add_service_arguments  # noqa: E402

PARTS = [  # (part, path fragments), first match wins
    ("PostgreSQL (driver and wait)", ("/psycopg/", "/psycopg_binary/")),
    ("Redis (driver and wait)", ("/redis/",)),
    ("PyJWT", ("/jwt/",)),
    ("GraphQL (graphql-core, graphene)", ("/graphql/", "/graphene/", "/graphene_django/")),
    ("phone numbers", ("/phonenumbers/", "/phonenumber_field/")),
    ("service code", ("/accounts/", "/schema/", "/project/", "/bench/io_floor")),
    ("Django", ("/django/", "/asgiref/", "/corsheaders/")),
    ("JSON", ("/json/",)),
]
OTHER = "other (standard library)"

ME = "{ me { phoneNumber hasPassword dateJoined lastLogin } }"
STATUS = "query($p: String!) { userStatus(phoneNumber: $p) { exists hasPassword } }"
VERIFY = "mutation($t: String!) { verifyToken(token: $t) { payload { sub exp } } }"
EXISTING = "09120000001"
CASES = {  # name: (method, path, body template or None, kind of prepared data)
    "livez": ("GET", "/livez", None, None),
    "status": ("GET", f"/accounts/api/status/{EXISTING}/", None, None),
    "graphql-status": ("POST", "/graphql", {"query": STATUS, "variables": {"p": EXISTING}}, None),
    "verify": ("POST", "/accounts/api/token/verify/", {"token": "{access}"}, "access"),
    "graphql-verify": (
        "POST",
        "/graphql",
        {"query": VERIFY, "variables": {"t": "{access}"}},
        "access",
    ),
    "me": ("POST", "/graphql", {"query": ME}, "access"),
    "refresh": ("POST", "/accounts/api/token/refresh/", {"refresh": "{line}"}, "refresh"),
    "send": ("GET", "/accounts/api/otp/{number}/", None, None),
    "code-login": (
        "POST",
        "/accounts/api/token/",
        {"phone_number": "{line}", "password": "{code}"},
        "codes",
    ),
}


def part_of(filename: str) -> str:
    for part, fragments in PARTS:
        if any(fragment in filename for fragment in fragments):
            return part
    return OTHER


def worker(side: str, case: str, requests: int, data: Path) -> None:
    """Run in a process of its own: call the side's application, print JSON."""
    import importlib

    module = "project.wsgi" if side == "app" else "bench.io_floor"
    application = importlib.import_module(module).application
    method, path, template, kind = CASES[case]
    lines = iter(data.read_text().splitlines()) if kind else None
    access = data.read_text().strip() if kind == "access" else ""
    numbers = iter(range(int(os.environ["PROFILE_SEND_BASE"]), 10**7))

    def call() -> None:
        extra, body, url = {}, b"", path
        if case == "send":
            url = path.format(number=f"0912{next(numbers):07d}")
        if template is not None:
            text = json.dumps(template)
            if kind in ("refresh", "codes"):
                first, _, second = next(lines).partition(" ")
                text = text.replace("{line}", first).replace("{code}", second)
            body = text.replace("{access}", access).encode()
        if case == "me":
            extra["HTTP_AUTHORIZATION"] = f"JWT {access}"
        environ = {
            "REQUEST_METHOD": method,
            "PATH_INFO": url,
            "QUERY_STRING": "",
            "SERVER_NAME": "127.0.0.1",
            "SERVER_PORT": "8000",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "HTTP_HOST": "127.0.0.1",
            "REMOTE_ADDR": "127.0.0.1",
            "CONTENT_TYPE": "application/json",
            "CONTENT_LENGTH": str(len(body)),
            "wsgi.input": io.BytesIO(body),
            "wsgi.url_scheme": "http",
            "wsgi.errors": sys.stderr,
            **extra,
        }
        status = []
        b"".join(application(environ, lambda s, h, e=None: status.append(s)))
        if not status[0].startswith(("200", "404")):
            raise SystemExit(f"{side} {case}: {status[0]}")

    for _ in range(min(200, requests // 10)):  # warm up: connections, caches, prepares
        call()
    started, cpu = time.perf_counter(), time.process_time()
    for _ in range(requests):
        call()
    wall = (time.perf_counter() - started) / requests * 1e6
    cpu = (time.process_time() - cpu) / requests * 1e6
    profile = cProfile.Profile()
    profile.enable()
    for _ in range(requests):
        call()
    profile.disable()
    parts: dict[str, float] = {}
    for (filename, _, _), (_, _, tottime, _, callers) in pstats.Stats(profile).stats.items():
        if filename == "~" and callers:
            # A built-in (a socket read, a C hash): charged to the parts that called it.
            for (caller_file, _, _), (_, _, caller_time, _) in callers.items():
                parts[part_of(caller_file)] = parts.get(part_of(caller_file), 0.0) + caller_time
            continue
        parts[part_of(filename)] = parts.get(part_of(filename), 0.0) + tottime
    total = sum(parts.values())
    if top := int(os.environ.get("PROFILE_TOP", "0")):
        stats = pstats.Stats(profile, stream=sys.stderr)
        print(f"--- {side}: per {requests} requests ---", file=sys.stderr)
        stats.sort_stats(os.environ.get("PROFILE_SORT", "tottime")).print_stats(top)
        if side == "app":  # statements planned anew on every run show custom_plans growing
            from django.db import connection

            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT generic_plans, custom_plans, left(regexp_replace(statement, "
                    "'\\s+', ' ', 'g'), 70) FROM pg_prepared_statements"
                )
                for row in cursor.fetchall():
                    print("prepared: generic {}, custom {}: {}".format(*row), file=sys.stderr)
    print(
        json.dumps(
            {
                "wall": wall,
                "cpu": cpu,
                "parts": {k: v / total * wall for k, v in parts.items()},
            }
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("case", choices=sorted(CASES))
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument(
        "--top", type=int, default=0, help="also print each side's N costliest functions"
    )
    parser.add_argument(
        "--seed", type=int, default=0, help="seed this many users and expired codes first"
    )
    add_service_arguments(parser)
    options = parser.parse_args()

    import redis

    from bench.run import EXISTING as USER
    from bench.run import Bench, settle
    from tests.servers import manage, shared_database

    redis.Redis.from_url(options.redis_url).flushdb()
    os.environ["DATABASE_URL"] = options.database_url
    _, _, _, kind = CASES[options.case]
    count = 2 * options.requests + 300  # a plain pass and a profiled one, after a warm-up
    results = {}
    with tempfile.TemporaryDirectory() as tmp, shared_database(Path(tmp)) as database_url:
        options.seconds = 1
        bench = Bench(options, database_url, Path(tmp))
        manage(bench.env, "migrate", "--noinput")
        if options.seed:
            manage(
                bench.env,
                "seed_load_data",
                f"--users={options.seed}",
                f"--expired-codes={options.seed}",
            )
            settle(database_url)
        bench.prepare("user", 1, USER)
        for n, side in enumerate(("app", "io")):
            if kind == "access":
                data = bench.prepare("access", 1, USER)
            elif kind == "refresh":
                data = bench.prepare("refresh", count, USER)
            elif kind == "codes":
                data = bench.prepare("codes", count, str(9130000000 + n * 1_000_000))
            else:
                data = Path(tmp) / "none"
                data.write_text("")
            env = {
                **bench.env,
                "PROFILE_SEND_BASE": str(1_000_000 + n * 100_000),
                "PROFILE_TOP": str(options.top),
            }
            out = subprocess.run(
                [
                    sys.executable,
                    __file__,
                    "--worker",
                    side,
                    options.case,
                    str(options.requests),
                    str(data),
                ],
                env=env,
                cwd=ROOT,
                stdout=subprocess.PIPE,
                text=True,
                check=True,
            ).stdout
            results[side] = json.loads(out.strip().splitlines()[-1])
    print(render(options.case, results))


def render(case: str, results: dict) -> str:
    app, floor = results["app"], results["io"]
    names = [part for part, _ in PARTS] + [OTHER]
    lines = [
        f"Per request, {case} (microseconds; one process calling the WSGI application):",
        "",
        "| part | service | I/O floor |",
        "|---|---:|---:|",
    ]
    for name in names:
        a, f = app["parts"].get(name, 0.0), floor["parts"].get(name, 0.0)
        if a >= 0.5 or f >= 0.5:
            lines.append(f"| {name} | {a:.0f} | {f:.0f} |")
    lines.append(f"| **wall** | **{app['wall']:.0f}** | **{floor['wall']:.0f}** |")
    lines.append(f"| CPU of the process | {app['cpu']:.0f} | {floor['cpu']:.0f} |")
    return "\n".join(lines)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        worker(sys.argv[2], sys.argv[3], int(sys.argv[4]), Path(sys.argv[5]))
    else:
        main()
