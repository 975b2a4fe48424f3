"""The attack drill (`make drill`): SMS pumping, a lockout attempt and real people, all at
once, against gunicorn with PostgreSQL and Redis behind a trusted proxy, with and without
a bot check. Writes what got through to bench/DRILL.md and fails when a target is missed.

Replayed at once, in shuffled order:
- pumping from 500 IPv4 addresses and 200 IPv6 /64s (three addresses each) to random
  numbers in two number ranges; a bot that is asked for a check sends a token that fails;
- a lockout attempt on 20 chosen numbers (18 sends each, from three networks), after
  which each number's owner asks for a code from their own network and logs in;
- 200 returning users and 100 new users, each from their own address: status, a code
  (passing the check when asked), then a login with it.
The bot check's provider is played by a local server: people's tokens pass, bots' fail.

Then two more runs with a bot check, codes routed through a first provider that refuses
every connection, or answers after 12 s, and then the one people read codes from.

Targets: returning users all get a code and log in in every run; new users >= 95% with a
bot check; texts to pumped numbers <= 5% of SMS_MAX_PER_HOUR with a bot check and no
more than the unreserved share without one; no owner locked out with a bot check.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import random
import re
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402

from bench import add_service_arguments  # noqa: E402
from bench.delivery import LoopbackProvider  # noqa: E402
from tests.fake_bot_check import SECRET, SITE_KEY, FakeBotCheck  # noqa: E402
from tests.servers import (  # noqa: E402
    Server,
    base_env,
    free_port,
    manage,
    migrate,
    shared_database,
)

SMS_MAX_PER_HOUR = 1000
RESERVED = 0.5
PUMPED_RANGES = ("+9893577", "+9890144")
SEND = "mutation($p: String!, $t: String) { sendOtp(phoneNumber: $p, challengeToken: $t) { sent } }"
LOGIN = "mutation($p: String!, $w: String!) { tokenAuth(phoneNumber: $p, password: $w) { token } }"
STATUS = "query($p: String!) { userStatus(phoneNumber: $p) { exists } }"


class Inbox:
    """The codes the file SMS backend wrote, by number, read incrementally."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.seen: set[str] = set()
        self.codes: dict[str, list[str]] = {}
        self.lock = threading.Lock()

    def refresh(self) -> None:
        with self.lock:
            if not self.directory.exists():
                return
            # In the order they were written (names start with the time): a number's
            # newest code is the last one read.
            for path in sorted(self.directory.glob("*.txt")):
                if path.name in self.seen:
                    continue
                self.seen.add(path.name)
                to, _, body = path.read_text(encoding="utf-8").partition("\n\n")
                number = to.removeprefix("To: ")
                self.codes.setdefault(number, []).extend(re.findall(r"(?<!\d)\d{6}(?!\d)", body))

    def wait_for(self, number: str, count: int, seconds: float = 20) -> str | None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            self.refresh()
            codes = self.codes.get(number, [])
            if len(codes) >= count:
                return codes[-1]
            time.sleep(0.05)
        return None

    def texts_to(self, predicate) -> int:
        self.refresh()
        return sum(len(codes) for number, codes in self.codes.items() if predicate(number))


@dataclass
class Tally:
    returning_ok: int = 0
    new_ok: int = 0
    owners_ok: int = 0
    owners_locked: list[str] = field(default_factory=list)
    people_challenged: int = 0
    bots_challenged: int = 0
    attack_requests: int = 0
    failures: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, name: str, amount: int = 1) -> None:
        with self.lock:
            setattr(self, name, getattr(self, name) + amount)


class Client:
    """Talks GraphQL to the service as a client at `address` behind the trusted proxy."""

    def __init__(self, http: httpx.Client, address: str) -> None:
        self.http, self.address = http, address

    def graphql(self, query: str, variables: dict) -> dict:
        response = self.http.post(
            "/graphql",
            json={"query": query, "variables": variables},
            headers={"X-Forwarded-For": self.address},
        )
        return response.json()


def code_of(body: dict) -> str | None:
    errors = body.get("errors") or []
    return errors[0].get("extensions", {}).get("code") if errors else None


def person_signs_in(client: Client, inbox: Inbox, number: str, tally: Tally, token: str) -> bool:
    """A real person: status, a code (passing the check when asked), the login."""
    client.graphql(STATUS, {"p": number})
    before = len(inbox.codes.get(number, []))
    sent = client.graphql(SEND, {"p": number})
    if code_of(sent) == "CHALLENGE_REQUIRED":
        tally.add("people_challenged")
        sent = client.graphql(SEND, {"p": number, "t": token})
    if code_of(sent) is not None:
        tally.failures.append(f"{number}: {code_of(sent)} on send")
        return False
    code = inbox.wait_for(number, before + 1)
    if code is None:
        tally.failures.append(f"{number}: no text arrived")
        return False
    login = client.graphql(LOGIN, {"p": number, "w": code})
    if code_of(login) is not None:
        tally.failures.append(f"{number}: {code_of(login)} on login")
        return False
    return True


def bot_sends(client: Client, number: str, tally: Tally, serial: int) -> None:
    tally.add("attack_requests")
    sent = client.graphql(SEND, {"p": number})
    if code_of(sent) == "CHALLENGE_REQUIRED":
        tally.add("bots_challenged")
        client.graphql(SEND, {"p": number, "t": f"bot-{serial}"})  # a bot cannot pass


def random_number(prefix: str, rng: random.Random) -> str:
    return prefix + "".join(rng.choice("0123456789") for _ in range(13 - len(prefix)))


@dataclass
class Outcome:
    bot_check: bool
    first_provider: str  # "": one provider; "down" or "slow": it fronts a second
    seconds: float
    tally: Tally
    pumped_texts: int
    lockout_texts: int
    real_texts: int
    range_trips: int

    @property
    def unreserved(self) -> int:
        return int(SMS_MAX_PER_HOUR * (1 - RESERVED))

    def misses(self) -> list[str]:
        t = self.tally
        misses = []
        if t.returning_ok < 200:
            misses.append(f"returning users {t.returning_ok}/200")
        if self.bot_check and t.new_ok < 95:
            misses.append(f"new users {t.new_ok}/100")
        limit = SMS_MAX_PER_HOUR * 0.05 if self.bot_check else self.unreserved
        if self.pumped_texts > limit:
            misses.append(f"texts to pumped numbers {self.pumped_texts} > {limit:g}")
        if self.bot_check and t.owners_locked:
            misses.append(f"owners locked out: {len(t.owners_locked)}")
        return misses


def drill(
    bot_check: bool, database: str, redis_url: str, seed: int, first_provider: str = ""
) -> Outcome:
    """One replay. With `first_provider` ("down": its port refuses connections; "slow":
    it answers after 12 s), codes are routed through a Kavenegar-compatible first
    provider and then the file backend, which people read their codes from."""
    import redis

    redis.Redis.from_url(redis_url).flushdb()
    rng = random.Random(seed)  # noqa: S311 (which numbers a drill picks: no secret)
    provider = FakeBotCheck()
    slow = LoopbackProvider(12.0) if first_provider == "slow" else None
    with tempfile.TemporaryDirectory() as tmp, shared_database(Path(tmp)) as database_url:
        overrides = {
            "REDIS_URL": redis_url,
            "TRUSTED_PROXIES": "127.0.0.1",
            "OTP_RESEND_COOLDOWN": "0",  # the attacker's strongest case
            "SMS_MAX_PER_HOUR": str(SMS_MAX_PER_HOUR),
            "SMS_RESERVED_FOR_ACCOUNTS": str(RESERVED),
            "LOG_LEVEL": "WARNING",
        }
        if bot_check:
            overrides.update(
                BOT_CHECK_BACKEND="turnstile",
                BOT_CHECK_SECRET=SECRET,
                BOT_CHECK_SITE_KEY=SITE_KEY,
                BOT_CHECK_VERIFY_URL=provider.url,
            )
        if first_provider:
            first_url = slow.url if slow else f"http://127.0.0.1:{free_port()}"
            overrides["SMS_PROVIDERS"] = json.dumps(
                {
                    "first": {
                        "backend": "kavenegar",
                        "api_key": "drill",
                        "template": "login",
                        "base_url": first_url,
                    },
                    "second": {"backend": "file", "file_path": str(Path(tmp) / "sms")},
                }
            )
        env = base_env(database_url, Path(tmp) / "sms", **overrides)
        migrate(env)
        returning = [random_number("+98912", rng) for _ in range(200)]
        new = [random_number("+98915", rng) for _ in range(100)]
        owners = [random_number("+98913", rng) for _ in range(20)]
        accounts = returning + owners
        manage(
            env,
            "shell",
            "-c",
            "from accounts.models import User; User.objects.bulk_create("
            f"[User(phone_number=n) for n in {accounts!r}])",
        )
        inbox = Inbox(Path(tmp) / "sms")
        tally = Tally()
        server = Server(env, workers=4)
        tasks = []
        try:
            with httpx.Client(base_url=server.url, timeout=60) as http:
                serial = iter(range(10**9))
                for n in range(500):  # IPv4 pumpers, six sends each
                    address = f"198.18.{n // 250}.{n % 250 + 1}"
                    for _ in range(6):
                        number = random_number(rng.choice(PUMPED_RANGES), rng)
                        tasks.append(("bot", Client(http, address), number, next(serial)))
                for n in range(200):  # IPv6 /64s, three addresses each, six sends each
                    for host in range(1, 4):
                        address = f"2001:db8:{n:x}:1::{host:x}"
                        for _ in range(6):
                            number = random_number(rng.choice(PUMPED_RANGES), rng)
                            tasks.append(("bot", Client(http, address), number, next(serial)))
                for n, number in enumerate(owners):
                    tasks.append(("lockout", http, number, n))
                for n, number in enumerate(returning):
                    address = f"100.64.{n // 250}.{n % 250 + 1}"
                    tasks.append(("returning", Client(http, address), number, n))
                for n, number in enumerate(new):
                    address = f"100.65.{n // 250}.{n % 250 + 1}"
                    tasks.append(("new", Client(http, address), number, n))
                rng.shuffle(tasks)

                def run(task) -> None:
                    kind, client, number, n = task
                    if kind == "bot":
                        bot_sends(client, number, tally, n)
                    elif kind == "lockout":
                        lock_out(client, inbox, number, n, tally)
                    elif person_signs_in(client, inbox, number, tally, f"human-{kind}-{n}"):
                        tally.add("returning_ok" if kind == "returning" else "new_ok")

                started = time.monotonic()
                with ThreadPoolExecutor(max_workers=24) as pool:
                    list(pool.map(run, tasks))
                seconds = time.monotonic() - started
            log = server.log_text()
        finally:
            server.stop()
            provider.close()
            if slow:
                slow.stop()
        pumped = inbox.texts_to(lambda number: number.startswith(PUMPED_RANGES))
        lockout = inbox.texts_to(lambda number: number in owners)
        real = inbox.texts_to(lambda number: number in returning or number in new)
        trips = log.count("tripped:")
    return Outcome(bot_check, first_provider, seconds, tally, pumped, lockout, real, trips)


def lock_out(http: httpx.Client, inbox: Inbox, number: str, n: int, tally: Tally) -> None:
    """18 sends to one number from three networks; then its owner asks for a code."""
    for network in range(3):
        attacker = Client(http, f"198.19.{n}.{network + 1}")
        for attempt in range(6):
            bot_sends(attacker, number, tally, 10**8 + n * 100 + network * 10 + attempt)
    owner = Client(http, f"100.66.0.{n + 1}")
    if person_signs_in(owner, inbox, number, tally, f"human-owner-{n}"):
        tally.add("owners_ok")
    else:
        with tally.lock:
            tally.owners_locked.append(number)


def row(number: int, outcome: Outcome) -> str:
    t = outcome.tally
    misses = outcome.misses()
    first = {"": "—", "down": "refuses connections", "slow": "answers in 12 s"}
    return (
        f"| {number + 1} | {'yes' if outcome.bot_check else 'no'} "
        f"| {first[outcome.first_provider]} "
        f"| {outcome.pumped_texts} ({outcome.pumped_texts / SMS_MAX_PER_HOUR:.1%}) "
        f"| {outcome.lockout_texts} | {t.returning_ok}/200 | {t.new_ok}/100 "
        f"| {t.owners_ok}/20 | {t.people_challenged} / {t.bots_challenged} "
        f"| {outcome.range_trips} | {outcome.seconds:.0f} "
        f"| {'met' if not misses else 'MISSED: ' + '; '.join(misses)} |"
    )


def report(outcomes: list[Outcome]) -> str:
    lines = [
        "# Attack drill",
        "",
        f"`make drill`, {datetime.date.today().isoformat()}: gunicorn (4 sync workers), "
        "PostgreSQL and Redis on one 2-core machine, behind `TRUSTED_PROXIES`; "
        f"`SMS_MAX_PER_HOUR={SMS_MAX_PER_HOUR}`, `SMS_RESERVED_FOR_ACCOUNTS={RESERVED}` "
        f"(unreserved share {int(SMS_MAX_PER_HOUR * (1 - RESERVED))}), "
        "`OTP_RESEND_COOLDOWN=0` (the attacker's strongest case), every other setting its "
        "default. Each run replays at once: 6,600 pumping sends from 500 IPv4 addresses and "
        "200 IPv6 /64s to random numbers in two ranges (`+98 935 77…`, `+98 901 44…`); 360 "
        "sends to lock out 20 chosen numbers (three networks each), then each owner asks for "
        "a code; 200 returning users and 100 new users signing in from their own addresses. "
        "The bot check (Turnstile, played by a local server) passes people's tokens and "
        "fails bots'.",
        "",
        "The last two runs put a first provider in front (Kavenegar's API on 127.0.0.1) "
        "that refuses every connection, or answers after 12 s; the second provider is "
        "the one people read their codes from.",
        "",
        "| run | bot check | first provider | texts to pumped numbers "
        "| texts to lockout targets | returning users in | new users in "
        "| owners in after the lockout attempt | challenges to people / to bots "
        "| range trips | seconds | targets |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    lines += [row(number, outcome) for number, outcome in enumerate(outcomes)]
    lines += [
        "",
        "Targets: returning users 200/200 in every run; new users >= 95/100 with a bot check "
        "(also with the first provider down or slow); "
        f"texts to pumped numbers <= {SMS_MAX_PER_HOUR * 0.05:g} (5%) with a bot check and "
        f"<= {int(SMS_MAX_PER_HOUR * (1 - RESERVED))} (the unreserved share) without; every "
        "owner in after the lockout attempt with a bot check. Without a bot check the "
        "owners' figure is reported, not a target: three networks reach a number's hard "
        "ceiling (`OTP_MAX_SENDS_PER_HOUR_HARD`) before its owner asks.",
        "",
        "Range trips are the service's WARNING lines: one per pumped range, and one more per "
        "range where two lockout targets happen to share a range, whose unverified texts "
        "reach `OTP_RANGE_MIN_SENDS` without a bot check.",
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=2, help="rounds of (without, with) a check")
    parser.add_argument("--write", help="also write the results to this Markdown file")
    add_service_arguments(parser)
    options = parser.parse_args()
    os.environ["DATABASE_URL"] = options.database_url  # where shared_database makes its own
    outcomes = []
    plan = [(bot_check, "") for _ in range(options.runs) for bot_check in (False, True)]
    plan += [(True, "down"), (True, "slow")]
    for n, (bot_check, first) in enumerate(plan):
        outcome = drill(bot_check, options.database_url, options.redis_url, n // 2, first)
        print(row(len(outcomes), outcome), flush=True)
        outcomes.append(outcome)
    text = report(outcomes)
    print(text)
    if options.write:
        Path(options.write).write_text(text, encoding="utf-8")
    failures = [miss for outcome in outcomes for miss in outcome.misses()]
    if failures:
        for outcome in outcomes:
            for failure in outcome.tally.failures[:10]:
                print("  ", "bot check" if outcome.bot_check else "no check", failure)
        sys.exit("drill targets missed: " + "; ".join(failures))


if __name__ == "__main__":
    main()
