"""`make bench`: every endpoint of the service against two floors.

The floor (`bench/floor.py`) answers with constant JSON; the I/O floor
(`bench/io_floor.py`) does only each case's unavoidable round trips with raw drivers.
All three run under gunicorn (the repository's gunicorn.conf.py, DEBUG off, the same
number of sync workers) on 127.0.0.1; wrk loads them in turn, rotating their order over
several repetitions, and the table reports medians and app/floor and app/io-floor
ratios. The service runs on PostgreSQL and Redis as in production; limits are raised
through environment variables only. A scale run repeats the data-dependent cases after
seeding 1,000,000 users and 1,000,000 expired code rows.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import add_service_arguments  # noqa: E402
from bench import memory as document_memory  # noqa: E402
from tests.servers import Server, manage, shared_database  # noqa: E402

LUA = ROOT / "bench" / "lua"
RAISED = "1000000000"
SERVICE_ENV = {
    "DJANGO_SETTINGS_MODULE": "project.settings",
    "SECRET_KEY": "benchmark-secret-key-0123456789-0123456789-0123456789",
    "DEBUG": "0",
    "ALLOWED_HOSTS": "127.0.0.1",
    "SMS_BACKEND": "dummy",
    "LOG_LEVEL": "ERROR",
    # Limits raised for the run, through settings only.
    "OTP_TTL": "3600",
    "OTP_RESEND_COOLDOWN": "0",
    "OTP_MAX_SENDS_PER_HOUR": RAISED,
    "OTP_MAX_SENDS_PER_HOUR_HARD": RAISED,
    # The cases text numbers counted up in a few ranges and verify few of them: the
    # range counters run on every send and login, their throttle never trips.
    "OTP_RANGE_MIN_SENDS": RAISED,
    "OTP_SENDS_PER_IP_PER_HOUR": RAISED,
    "STATUS_LOOKUPS_PER_IP_PER_HOUR": RAISED,
    "LOGIN_FAILURES_PER_IP_PER_HOUR": RAISED,
    "SMS_MAX_PER_HOUR": RAISED,
    "JWT_ACCESS_TOKEN_LIFETIME": "7200",
}
EXISTING = "09120000001"  # an account without a password
WARM_UP = 3  # seconds of look-ups each server answers before the first case
MISSING = "09390000001"  # never an account
ARGON2_USER = "09120000010"
PBKDF2_USER = "09120000011"
PASSWORD = "correct horse battery staple"


@dataclass
class Measure:
    rps: float
    p50: float  # ms
    p99: float  # ms
    requests: int
    non_2xx: int  # and socket errors


@dataclass
class Case:
    name: str
    path: str
    script: str | None = None
    args: Callable[[Bench, int], list[str]] = lambda bench, rep: []
    target: str = ""
    expected_status: int = 200
    server: str = "app"
    io_target: str = ""
    io_floor: bool = True  # False where the I/O floor has no such path (password hashing)
    app: list[Measure] = field(default_factory=list)
    floor: list[Measure] = field(default_factory=list)
    io: list[Measure] = field(default_factory=list)

    def ratio(self) -> float:
        return paired(self.app, self.floor)

    def io_ratio(self) -> float | None:
        return paired(self.app, self.io) if self.io else None


def paired(ours: list[Measure], theirs: list[Measure]) -> float:
    """The median of the rotations' ratios: a rotation measures every side back to back,
    so a change in the machine's speed between rotations (a noisy neighbour) cancels."""
    return statistics.median(a.rps / b.rps for a, b in zip(ours, theirs, strict=True))


def median(measures: list[Measure], attribute: str) -> float:
    return statistics.median(getattr(m, attribute) for m in measures)


UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def wrk(url: str, seconds: int, connections: int, script: str | None, args: list[str]) -> Measure:
    command = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", "--timeout", "10s"]
    if script:
        command += ["-s", str(LUA / script)]
    command.append(url)
    if args:
        command += ["--", *args]
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout

    def latency(percent: str) -> float:
        value, unit = re.search(rf"^\s+{percent}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M).groups()
        return float(value) * UNITS[unit]

    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    socket_errors = re.search(r"Socket errors: (.*)", out)
    failures = int(non_2xx.group(1)) if non_2xx else 0
    if socket_errors:
        failures += sum(int(n) for n in re.findall(r"\d+", socket_errors.group(1)))
    return Measure(
        rps=float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
        p50=latency("50"),
        p99=latency("99"),
        requests=int(re.search(r"(\d+) requests in", out).group(1)),
        non_2xx=failures,
    )


class Bench:
    def __init__(self, options, database_url: str, workdir: Path) -> None:
        self.options = options
        self.workdir = workdir
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "OTP_"))},
            **SERVICE_ENV,
            "DATABASE_URL": database_url,
            "REDIS_URL": options.redis_url,
            "SMS_FILE_PATH": str(workdir / "sms"),
            "STATIC_ROOT": str(workdir / "static"),
        }
        self.files = 0
        self.last_rps: dict[tuple[str, str], float] = {}  # (case, side): requests/s
        self.side = "app"  # which server the data being prepared is for
        self.pool: int | None = None  # the size of the last pool prepared for a run
        self.margin = 1.0  # grows when a run outruns its pool

    def prepare(self, kind: str, count: int, arg: str = "", **env: str) -> Path:
        self.files += 1
        out = self.workdir / f"{kind}-{self.files}.txt"
        subprocess.run(
            [sys.executable, "-m", "bench.prepare", kind, str(count), str(out), arg],
            cwd=ROOT,
            env={**self.env, "SMS_BACKEND": "file", **env},
            check=True,
        )
        return out

    def pool_size(self, case: str) -> int:
        """Enough prepared requests for one run of the current side at 1.5 times its
        last measured rate (before its first run, the fastest rate seen, at least
        3000/s), so that no run reaches the end of its pool. The constant floor's pool
        is a token one."""
        if self.side == "floor":
            return 200  # the constant floor reads nothing from its requests
        own = self.last_rps.get((case, self.side))
        rate = own or max([3000.0, *(r for (c, _), r in self.last_rps.items() if c == case)])
        self.pool = int(rate * self.options.seconds * 1.5 * self.margin) + 200
        return self.pool


# --- the cases -------------------------------------------------------------------------

STATUS_QUERY = "query($p: String!) { userStatus(phoneNumber: $p) { exists hasPassword } }"
VERIFY_MUTATION = "mutation($t: String!) { verifyToken(token: $t) { payload { sub exp } } }"
ME_QUERY = "{ me { phoneNumber hasPassword dateJoined lastLogin } }"


# The dearest documents a client can have parsed and validated within every default
# cap (GRAPHQL_MAX_TOKENS, 64, bounds them all; tests/test_documents.py checks that the
# standard rules run over them): of the shapes tried (fragment fan-in and chains, many
# operations, variables, directives, object and list values, nesting), inline fragments
# the rules compare pairwise, and a list where a string belongs, whose error prints it.
INLINE_FRAGMENTS = "{" + " ... on Query { __typename }" * 10 + " }"
LIST_ARGUMENT = "{ userStatus(phoneNumber: [" + ", ".join(['"1"'] * 52) + "]) { exists } }"


def distinct(document: str) -> Callable[[Bench, int], list[str]]:
    return lambda bench, rep: [json.dumps(document)[1:-1]]


def graphql_body(query: str, **variables: str) -> str:
    return json.dumps({"query": query, "variables": variables})


def access_token(bench: Bench) -> str:
    if not hasattr(bench, "_access"):
        bench._access = bench.prepare("access", 1, EXISTING).read_text().strip()
    return bench._access


def refresh_pool(bench: Bench, rep: int) -> list[str]:
    pool = bench.prepare("refresh", bench.pool_size("refresh"), EXISTING)
    return [str(pool), '{"refresh": "%s"}']


ROTATIONS = 10_000_000
ROTATED_SESSIONS = 10_000  # ROTATIONS spread over this many sessions


def rotated_pool(bench: Bench, rep: int) -> list[str]:
    """Refresh tokens of sessions rotated ROTATIONS / ROTATED_SESSIONS times each."""
    each = ROTATIONS // ROTATED_SESSIONS
    if not getattr(bench, "rotations_seeded", False):
        bench.prepare("refresh", ROTATED_SESSIONS, f"{EXISTING}:{each}")
        bench.rotations_seeded = True
    pool = bench.prepare("refresh", bench.pool_size("refresh"), f"{EXISTING}:{each}")
    return [str(pool), '{"refresh": "%s"}']


def me_request(bench: Bench, rep: int) -> list[str]:
    return [graphql_body(ME_QUERY), f"JWT {access_token(bench)}"]


def signup_pool(bench: Bench, rep: int) -> list[str]:
    bench.signup_base = getattr(bench, "signup_base", 9130000000) + 1_000_000
    pool = bench.prepare("codes", bench.pool_size("code login, sign-up"), str(bench.signup_base))
    return [str(pool), '{"phone_number": "%s", "password": "%s"}']


def repeat_pool(bench: Bench, rep: int) -> list[str]:
    """Codes for numbers whose accounts exist (made for this pool)."""
    bench.repeat_base = getattr(bench, "repeat_base", 9360000000) + 1_000_000
    count = bench.pool_size("code login, repeat")
    bench.prepare("accounts", count, str(bench.repeat_base))
    pool = bench.prepare("codes", count, str(bench.repeat_base))
    return [str(pool), '{"phone_number": "%s", "password": "%s"}']


def new_numbers(bench: Bench, rep: int) -> list[str]:
    # 0912 and seven digits: 100,000 new numbers per run keep every one of them valid.
    bench.send_base = getattr(bench, "send_base", 0) + 100_000
    return [str(bench.send_base)]


def password_body(user: str) -> Callable[[Bench, int], list[str]]:
    return lambda bench, rep: [json.dumps({"phone_number": user, "password": PASSWORD})]


def cases() -> list[Case]:
    return [
        Case("/livez through the API middleware", "/livez", target=">= 0.9", io_floor=False),
        Case(
            "REST status (existing)",
            f"/accounts/api/status/{EXISTING}/",
            target=">= 0.6",
            io_target=">= 0.85",
        ),
        Case(
            "REST status (missing)",
            f"/accounts/api/status/{MISSING}/",
            target=">= 0.6",
            io_target=">= 0.85",
            expected_status=404,
        ),
        Case(
            "GraphQL userStatus",
            "/graphql",
            "post.lua",
            lambda bench, rep: [graphql_body(STATUS_QUERY, p=EXISTING)],
            target=">= 0.5",
            io_target=">= 0.70",
        ),
        Case(
            "GraphQL, inline fragments, new each time",
            "/graphql",
            "distinct.lua",
            distinct(INLINE_FRAGMENTS),
            target=">= 0.25x GraphQL userStatus",
            io_floor=False,
        ),
        Case(
            "GraphQL, list for a string, new each time",
            "/graphql",
            "distinct.lua",
            distinct(LIST_ARGUMENT),
            target=">= 0.25x GraphQL userStatus",
            expected_status=400,
            io_floor=False,
        ),
        Case(
            "REST verify",
            "/accounts/api/token/verify/",
            "post.lua",
            lambda bench, rep: [json.dumps({"token": access_token(bench)})],
            target=">= 0.7",
            io_target=">= 0.85",
        ),
        Case(
            "GraphQL verifyToken",
            "/graphql",
            "post.lua",
            lambda bench, rep: [graphql_body(VERIFY_MUTATION, t=access_token(bench))],
            target=">= 0.5",
            io_target=">= 0.65",
        ),
        Case("GraphQL me", "/graphql", "post.lua", me_request, io_target=">= 0.60"),
        Case(
            "refresh",
            "/accounts/api/token/refresh/",
            "pool.lua",
            refresh_pool,
            ">= 0.3",
            io_target=">= 0.75",
        ),
        Case(
            f"refresh after {ROTATIONS:,} rotations",
            "/accounts/api/token/refresh/",
            "pool.lua",
            rotated_pool,
            io_target="within 10% of refresh",
        ),
        Case(
            "send code",
            "/accounts/api/otp/",
            "new_numbers.lua",
            new_numbers,
            ">= 0.3",
            io_target=">= 0.60",
        ),
        Case(
            "code login, sign-up",
            "/accounts/api/token/",
            "pool.lua",
            signup_pool,
            ">= 0.2",
            io_target=">= 0.60",
        ),
        Case(
            "code login, repeat",
            "/accounts/api/token/",
            "pool.lua",
            repeat_pool,
            ">= 0.2",
            io_target=">= 0.60",
        ),
        Case(
            "password login, Argon2id",
            "/accounts/api/token/",
            "post.lua",
            password_body(ARGON2_USER),
            target=">= 4x PBKDF2",
            io_floor=False,
        ),
        Case(
            "password login, PBKDF2",
            "/accounts/api/token/",
            "post.lua",
            password_body(PBKDF2_USER),
            server="pbkdf2",
            io_floor=False,
        ),
    ]


SCALE_CASES = (
    "REST status (existing)",
    "REST status (missing)",
    "send code",
    "code login, sign-up",
    "code login, repeat",
)


def settle(database_url: str) -> None:
    """After a bulk load, do what autovacuum would soon do anyway, before measuring."""
    import psycopg

    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")


def selected(case: Case, only: str | None) -> bool:
    return not only or any(part.strip() in case.name for part in only.split(","))


def run_case(bench: Bench, case: Case, servers: dict[str, Server]) -> None:
    sides = ["app", "floor"] + (["io"] if case.io_floor else [])
    for rep in range(bench.options.reps):
        order = sides[rep % len(sides) :] + sides[: rep % len(sides)]
        for side in order:
            bench.side = side
            server = servers[case.server if side == "app" else side]
            for _attempt in range(3):
                bench.pool = None
                args = case.args(bench, rep)  # every side gets prepared data of its own
                measure = wrk(
                    server.url + case.path,
                    bench.options.seconds,
                    bench.options.connections,
                    case.script,
                    args,
                )
                if bench.pool is None or measure.requests <= bench.pool:
                    break
                # This run was faster than its pool allowed (past the end, the last line
                # repeats and fails): prepare a larger pool, and run the side again.
                bench.margin *= 2
                print(f"  {case.name}: {side} outran its pool; again", file=sys.stderr)
            if side != "app" and case.expected_status == 200 and measure.non_2xx:
                # A floor that refuses does less than the case: the ratio would be void.
                raise SystemExit(f"{side} answered {measure.non_2xx} errors in {case.name}")
            getattr(case, side).append(measure)
            bench.last_rps[case.name.split(" @ ")[0], side] = measure.rps
    io = f", app/io-floor {case.io_ratio():.2f}" if case.io else ""
    print(f"  {case.name}: app/floor {case.ratio():.2f}{io}", file=sys.stderr, flush=True)


def table(rows: list[Case]) -> str:
    lines = [
        "| case | app req/s | floor req/s | I/O floor req/s | app/floor | target | app/io-floor "
        "| target | app p50 ms | app p99 ms | I/O floor p99 ms | p99 app/io-floor "
        "| app non-2xx |",
        "|---|---:|---:|---:|---:|---|---:|---|---:|---:|---:|---:|---:|",
    ]
    for case in rows:
        unexpected = sum(m.non_2xx for m in case.app) if case.expected_status == 200 else 0
        note = str(unexpected)
        if case.expected_status != 200:
            note = f"all {case.expected_status}, as intended"
        io_rps = f"{median(case.io, 'rps'):.0f}" if case.io else "—"
        io_ratio = f"{case.io_ratio():.2f}" if case.io else "—"
        io_p99 = f"{median(case.io, 'p99'):.2f}" if case.io else "—"
        p99_ratio = f"{median(case.app, 'p99') / median(case.io, 'p99'):.1f}" if case.io else "—"
        lines.append(
            f"| {case.name} | {median(case.app, 'rps'):.0f} | {median(case.floor, 'rps'):.0f} "
            f"| {io_rps} | {case.ratio():.2f} | {case.target} | {io_ratio} | {case.io_target} "
            f"| {median(case.app, 'p50'):.2f} | {median(case.app, 'p99'):.2f} | {io_p99} "
            f"| {p99_ratio} | {note} |"
        )
    return "\n".join(lines)


def session_store(database_url: str) -> str:
    """Rows and on-disk size of the session table."""
    import psycopg

    with psycopg.connect(database_url, autocommit=True) as conn:
        rows = conn.execute("SELECT count(*) FROM accounts_session").fetchone()[0]
        size = conn.execute(
            "SELECT pg_size_pretty(pg_total_relation_size('accounts_session'))"
        ).fetchone()[0]
    return f"{rows:,} rows, {size} with its indexes"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=5, help="length of one wrk run")
    parser.add_argument(
        "--reps", type=int, default=5, help="rotations of app, floor and I/O floor per case"
    )
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn sync workers")
    parser.add_argument("--scale-rows", type=int, default=1_000_000)
    parser.add_argument("--no-scale", action="store_true", help="skip the scale run")
    parser.add_argument("--only", help="run only cases whose names contain one of these (a,b)")
    add_service_arguments(parser)
    parser.add_argument("--write", help="also write the results to this Markdown file")
    options = parser.parse_args()

    import redis

    redis.Redis.from_url(options.redis_url).flushdb()
    os.environ["DATABASE_URL"] = options.database_url  # where shared_database makes its own
    started = datetime.datetime.now(datetime.UTC)
    with tempfile.TemporaryDirectory() as tmp, shared_database(Path(tmp)) as database_url:
        bench = Bench(options, database_url, Path(tmp))
        manage(bench.env, "migrate", "--noinput")
        bench.prepare("user", 1, EXISTING)
        bench.prepare("password", 1, ARGON2_USER)
        bench.prepare("password", 1, PBKDF2_USER, PASSWORD_HASHER="pbkdf2")
        servers = {
            "app": Server(bench.env, workers=options.workers),
            "pbkdf2": Server({**bench.env, "PASSWORD_HASHER": "pbkdf2"}, workers=options.workers),
            "floor": Server(bench.env, workers=options.workers, app="bench.floor:application"),
            "io": Server(bench.env, workers=options.workers, app="bench.io_floor:application"),
        }
        try:
            for name in ("app", "floor", "io"):  # connections, imports, caches: not measured
                wrk(f"{servers[name].url}/accounts/api/status/{EXISTING}/", WARM_UP, 16, None, [])
            chosen = [c for c in cases() if selected(c, options.only)]
            for case in chosen:
                run_case(bench, case, servers)
            sessions_after = session_store(database_url)
            memory = None
            if not options.only or "memory" in options.only:
                print("  memory: new documents as large as the caps allow", file=sys.stderr)
                memory = document_memory.measure(bench.env)
                print(f"  {memory.line()}", file=sys.stderr, flush=True)
            scaled: list[Case] = []
            if not options.no_scale:
                print(f"  seeding {options.scale_rows:,} users and expired codes", file=sys.stderr)
                manage(
                    bench.env,
                    "seed_load_data",
                    f"--users={options.scale_rows}",
                    f"--expired-codes={options.scale_rows}",
                )
                settle(database_url)
                for case in cases():
                    if case.name in SCALE_CASES and selected(case, options.only):
                        case.name += f" @ {options.scale_rows:,} rows"
                        run_case(bench, case, servers)
                        scaled.append(case)
        finally:
            for server in servers.values():
                server.stop()

    report = render(options, chosen, scaled, started, sessions_after, memory)
    print(report)
    if options.write:
        Path(options.write).write_text(report, encoding="utf-8")


def relative_target(case: Case, by_name: dict[str, Case]) -> str:
    """`case`'s rate against the case its target names (">= 0.25x GraphQL userStatus")."""
    match = re.fullmatch(r">= ([\d.]+)x (.+)", case.target)
    if not match or match.group(2) not in by_name:
        return ""
    share, other = float(match.group(1)), match.group(2)
    ratio = median(case.app, "rps") / median(by_name[other].app, "rps")
    verdict = "met" if ratio >= share else "NOT met"
    return f"- {case.name}: {ratio:.2f}x {other}'s rate (target >= {share}x, {verdict})."


def render(
    options,
    chosen: list[Case],
    scaled: list[Case],
    started,
    sessions: str,
    memory: document_memory.Memory | None,
) -> str:
    cores = os.cpu_count()
    command = "make bench" if not options.only else " ".join(sys.argv)
    parts = [
        "# Benchmark results",
        "",
        f"- Date: {started:%Y-%m-%d %H:%M} UTC; machine: {cores} cores, {platform.machine()}, "
        f"Python {platform.python_version()}.",
        f"- Command: `{command}` (wrk: 1 thread, {options.connections} connections, "
        f"{options.seconds} s per run, {options.reps} rotations of app, floor and I/O floor "
        f"per case, after {WARM_UP} s of status look-ups on each server; "
        f"gunicorn: {options.workers} sync workers, DEBUG off; PostgreSQL and Redis on "
        "127.0.0.1).",
        "- Ratios are medians of the rotations' own ratios (each rotation measures the "
        "sides back to back, so the machine's drift between rotations cancels): app/floor "
        "against "
        "`bench/floor.py`, a bare Django app answering the same URLs with constant JSON; "
        "app/io-floor against `bench/io_floor.py`, which does only each case's unavoidable "
        "round trips with raw drivers.",
        "- Targets: the service is held to the app/io-floor ones, and to app/floor for "
        "`/livez`. The other app/floor targets are kept for comparison: where the I/O "
        "floor's own rate is below a target's share of the floor's, no service can meet that "
        "target on this machine.",
        "",
        table(chosen),
    ]
    by_name = {c.name: c for c in chosen}
    relative = [relative_target(c, by_name) for c in chosen]
    if any(relative):
        parts += ["", *(line for line in relative if line)]
    plain, rotated = by_name.get("refresh"), by_name.get(f"refresh after {ROTATIONS:,} rotations")
    if plain and rotated:
        parts += [
            "",
            f"Refresh after {ROTATIONS:,} rotations (seeded over {ROTATED_SESSIONS:,} sessions): "
            f"{median(rotated.app, 'rps') / median(plain.app, 'rps') - 1:+.0%} against "
            f"refresh on fresh sessions. Session table after every refresh case: {sessions}.",
        ]
    argon2, pbkdf2 = by_name.get("password login, Argon2id"), by_name.get("password login, PBKDF2")
    if argon2 and pbkdf2:
        parts += [
            "",
            f"Password login: Argon2id (m=19 MiB, t=2, p=1) serves "
            f"{median(argon2.app, 'rps') / median(pbkdf2.app, 'rps'):.1f}x the logins per second "
            "of PBKDF2 at Django 5.2's default 1,000,000 iterations (target: at least 4x).",
        ]
    if memory:
        parts += ["", "## Memory", "", memory.line()]
    if scaled:
        parts += [
            "",
            f"## Scale: after seeding {options.scale_rows:,} users and {options.scale_rows:,} "
            "expired code rows",
            "",
            table(scaled),
            "",
            "| case | app/floor, empty | app/floor, seeded | change |",
            "|---|---:|---:|---:|",
        ]
        for case in scaled:
            base = by_name.get(case.name.split(" @ ")[0])
            if base:
                change = case.ratio() / base.ratio() - 1
                parts.append(
                    f"| {base.name} | {base.ratio():.2f} | {case.ratio():.2f} | {change:+.0%} |"
                )
    return "\n".join(parts) + "\n"


if __name__ == "__main__":
    main()
