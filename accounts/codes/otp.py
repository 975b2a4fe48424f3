"""One-time codes: issue, verify and prune, with every change atomic in the database."""

from __future__ import annotations

import enum
import functools
import itertools
import json
import math
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth.hashers import UNUSABLE_PASSWORD_PREFIX
from django.db import transaction
from django.utils import timezone, translation
from django.utils.crypto import constant_time_compare, salted_hmac
from django.utils.translation import gettext as _
from graphql_jwt.settings import jwt_settings
from phonenumber_field.phonenumber import PhoneNumber

from accounts.errors import InvalidPhoneNumber, RateLimited
from accounts.identity.phone import normalize_phone
from accounts.models import OTPChallenge, User
from accounts.sessions.lifecycle import clean_client_ip, clean_user_agent
from accounts.sql import otp_challenge as otp_sql
from accounts.sql import user as user_sql
from accounts.sql.session import LiveSession

_HMAC_SALT = "accounts.otp.code"
HOUR = 3600
# Every PRUNE_EVERY-th send of a process also deletes up to 64 dead rows (`otp_sql.PRUNE`):
# two a send on average, more than the one row a send can add, so the table shrinks while
# codes are sent. In batches, because deleting 64 rows in one statement costs little more
# than deleting two. `purge_expired` removes the rest.
PRUNE_EVERY = 32
_sends = itertools.count()


class Outcome(enum.Enum):
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    NO_LIVE_CODE = "no_live_code"


@dataclass(frozen=True)
class Reservation:
    """A send that passed the cooldown and the hourly cap; its code is not made yet."""

    phone_number: PhoneNumber
    sent_at: datetime  # identifies the reservation in the row
    expires_in: int
    retry_after: int
    has_account: bool = False  # whether the number had an account when it was reserved


@dataclass(frozen=True)
class IssuedCode:
    reservation: Reservation
    code: str


def generate_code() -> str:
    length = settings.OTP_LENGTH
    return f"{secrets.randbelow(10**length):0{length}d}"


def looks_like_code(value: str) -> bool:
    return len(value) == settings.OTP_LENGTH and value.isascii() and value.isdigit()


def message_for(code: str) -> str:
    """The SMS text, in the active language, with the code once, near its end.

    The built-in text ends with the code alone on its last line, or, with
    `OTP_WEBOTP_DOMAIN`, with `@domain #code`, the origin-bound line that the WebOTP
    API reads and that must be last. With `OTP_ANDROID_APP_HASH` the app's hash, which
    Android's SMS Retriever looks for anywhere in the message, goes on the line before
    that one; without WebOTP it is the last line, as older Play services wanted.
    """
    domain = settings.OTP_WEBOTP_DOMAIN
    android_hash = settings.OTP_ANDROID_APP_HASH
    template = settings.SMS_OTP_TEMPLATE
    if not template:
        code_line = "@{domain} #{code}" if domain else "{code}"
        if android_hash and domain:
            code_line = "{android_hash}\n" + code_line
        elif android_hash:
            code_line += "\n{android_hash}"
        template = (
            _("{app_name} login code, valid for {minutes} minutes. Never share it.")
            + "\n\n"
            + code_line
        )
    return template.format(
        app_name=settings.APP_NAME,
        code=code,
        minutes=max(1, settings.OTP_TTL // 60),
        domain=domain,
        android_hash=android_hash,
    )


def fixed_codes() -> dict[str, str]:
    """`OTP_TEST_NUMBERS` as {E.164 number: fixed code}; entries that do not parse are
    left out here and reported by the system checks."""
    return _parse_fixed_codes(tuple(settings.OTP_TEST_NUMBERS), settings.OTP_LENGTH)


@functools.lru_cache(maxsize=4)
def _parse_fixed_codes(entries: tuple[str, ...], length: int) -> dict[str, str]:
    parsed = {}
    for entry in entries:
        number, _, code = entry.rpartition(":")
        try:
            phone = normalize_phone(number)
        except InvalidPhoneNumber:
            continue
        if len(code) == length and code.isascii() and code.isdigit():
            parsed[phone.as_e164] = code
    return parsed


def fixed_code(phone_number: PhoneNumber) -> str | None:
    """The fixed code of a test number (`OTP_TEST_NUMBERS`); None for every other."""
    return fixed_codes().get(phone_number.as_e164)


def hash_code(phone_number: PhoneNumber, code: str) -> str:
    """Keyed hash of a code, bound to its number (HMAC-SHA256 under SECRET_KEY)."""
    message = f"{phone_number.as_e164}:{code}"
    return salted_hmac(_HMAC_SALT, message, algorithm="sha256").hexdigest()


def stamp_of(moment: datetime) -> float:
    """A send's entry in the row's send log: its Unix time to the millisecond."""
    return round(moment.timestamp(), 3)


def reserve(
    phone_number: PhoneNumber,
    *,
    code: str = "",
    per_hour: int = 0,
    charges: dict | None = None,
) -> Reservation:
    """Count a send to the number, or raise `RateLimited`.

    Refused inside the resend cooldown, and when `per_hour` codes (by default
    `OTP_MAX_SENDS_PER_HOUR_HARD`) went to the number in the last (sliding) hour. The
    check and the write are one statement (`otp_sql.reserve`) under the row's lock, so
    concurrent requests reserve one send.
    The previous code dies here; with `code`, that code is made live in the same write
    (see `issue`); without, the send is queued for a delivery worker (`codes.courier`),
    which makes the code and texts it in the current language, and gives back what the
    send was counted in (`charges`) if no provider could text it.
    """
    now = timezone.now()
    stamp = stamp_of(now)
    cooldown = settings.OTP_RESEND_COOLDOWN
    per_hour = per_hour or settings.OTP_MAX_SENDS_PER_HOUR_HARD
    e164 = phone_number.as_e164
    send = functools.partial(
        otp_sql.reserve,
        e164,
        code_hash=hash_code(phone_number, code) if code else "",
        now=now,
        expires_at=now + timedelta(seconds=settings.OTP_TTL) if code else now,
        stamp=stamp,
        hour_ago=stamp - HOUR,
        cooldown_from=max(stamp - HOUR, stamp - cooldown),
        per_hour=per_hour,
        language="" if code else translation.get_language() or "",
        charges=None if code or charges is None else json.dumps(charges),
        prune_before=(
            now - timedelta(seconds=max(settings.OTP_RETENTION, HOUR))
            if next(_sends) % PRUNE_EVERY == 0
            else None
        ),
    )
    for _attempt in range(3):
        reserved = send()
        if reserved is not None:
            recent, has_account = reserved
            break
        _refuse(otp_sql.recent_sends(e164), stamp, per_hour)
    else:  # refused three times, each time by a send that was gone when read
        raise RateLimited(max(cooldown, 1), reason="per-number cooldown", limit="number-cooldown")
    retry_after = cooldown
    if len(recent) >= per_hour:
        retry_after = max(cooldown, math.ceil(recent[-per_hour] + HOUR - stamp))
    return Reservation(phone_number, now, settings.OTP_TTL, retry_after, has_account)


def _refuse(recent: list[float], stamp: float, per_hour: int) -> None:
    """Raise `RateLimited` for the limit that the send log shows in force."""
    cooldown = settings.OTP_RESEND_COOLDOWN
    recent = [t for t in recent if t > stamp - HOUR]
    if recent and recent[-1] + cooldown > stamp:
        raise RateLimited(
            recent[-1] + cooldown - stamp, reason="per-number cooldown", limit="number-cooldown"
        )
    if len(recent) >= per_hour:
        raise RateLimited(
            recent[-per_hour] + HOUR - stamp,
            reason="per-number hourly cap",
            limit="number-hourly",
        )


def make_code(reservation: Reservation) -> IssuedCode | None:
    """Make the reserved code live, unless a newer send replaced the reservation."""
    code = generate_code()
    now = timezone.now()
    made = OTPChallenge.objects.filter(
        phone_number=reservation.phone_number,
        sent_at=reservation.sent_at,
        code_hash="",
    ).update(
        code_hash=hash_code(reservation.phone_number, code),
        expires_at=now + timedelta(seconds=settings.OTP_TTL),
    )
    return IssuedCode(reservation, code) if made else None


def issue(phone_number: PhoneNumber, code: str | None = None, *, per_hour: int = 0) -> IssuedCode:
    """Reserve a send and make its code (`code`, for a test number), in one write."""
    code = code or generate_code()
    return IssuedCode(reserve(phone_number, code=code, per_hour=per_hour), code)


def consume(phone_number: PhoneNumber, code: str) -> Outcome:
    """Use the number's live code as a proof, without logging in: a right code is spent,
    a wrong one counts an attempt (the code dies at `OTP_MAX_ATTEMPTS`)."""
    now = timezone.now()
    with transaction.atomic():
        challenge = (
            OTPChallenge.objects.select_for_update()
            .filter(
                phone_number=phone_number,
                used_at__isnull=True,
                expires_at__gt=now,
                attempts__lt=settings.OTP_MAX_ATTEMPTS,
            )
            .exclude(code_hash="")
            .first()
        )
        if challenge is None:
            return Outcome.NO_LIVE_CODE
        if constant_time_compare(challenge.code_hash, hash_code(phone_number, code)):
            challenge.used_at = now
            challenge.save(update_fields=["used_at"])
            return Outcome.ACCEPTED
        challenge.attempts += 1
        challenge.save(update_fields=["attempts"])
        return Outcome.REJECTED


def withdraw(reservation: Reservation) -> bool:
    """Undo a send that could not go out: its code dies, and neither the cooldown nor
    the hourly cap counts it. False when there was nothing to undo (a newer send
    replaced it, or it was withdrawn already)."""
    with transaction.atomic():
        challenge = (
            OTPChallenge.objects.select_for_update()
            .filter(
                phone_number=reservation.phone_number,
                sent_at=reservation.sent_at,
            )
            .first()
        )
        if challenge is None:
            return False
        stamp = stamp_of(reservation.sent_at)
        challenge.recent_sends = [t for t in challenge.recent_sends if t != stamp]
        challenge.code_hash = ""
        challenge.sent_at = None
        challenge.expires_at = timezone.now()
        challenge.queued, challenge.claimed_until = False, None
        challenge.save()
    return True


@dataclass(frozen=True)
class Login:
    outcome: Outcome
    session: LiveSession | None = None  # opened for an active account, on ACCEPTED
    user: User | None = None
    created: bool = False


def log_in(phone_number: PhoneNumber, code: str, *, user_agent: str, client_ip: str) -> Login:
    """Check a code against the number's live one and, if right, log in: one statement
    on PostgreSQL (`otp_sql.CODE_LOGIN`).

    A wrong code counts an attempt; the code dies at `OTP_MAX_ATTEMPTS`. A right code
    is consumed, creates the account if there is none, records the login and opens a
    session; an inactive account's right code is consumed and opens nothing.
    """
    now = timezone.now()
    session_id = uuid.uuid4()
    expires_at = now + jwt_settings.JWT_REFRESH_EXPIRATION_DELTA
    result = otp_sql.log_in_with_code(
        phone_number.as_e164,
        code_hash=hash_code(phone_number, code),
        now=now,
        max_attempts=settings.OTP_MAX_ATTEMPTS,
        # What make_password(None) makes, without its slower random string.
        unusable_password=UNUSABLE_PASSWORD_PREFIX + secrets.token_hex(20),
        session_id=session_id,
        session_expires_at=expires_at,
        user_agent=clean_user_agent(user_agent),
        client_ip=clean_client_ip(client_ip),
    )
    if result.accepted is None:
        return Login(Outcome.NO_LIVE_CODE)
    if not result.accepted:
        return Login(Outcome.REJECTED)
    if result.account is None:
        return Login(Outcome.ACCEPTED)
    user = user_sql.user_from_row(result.account, phone_number)
    session = LiveSession(session_id, 1, expires_at, user.pk, phone_number.as_e164)
    return Login(Outcome.ACCEPTED, session, user, result.created)


def _dead(now: datetime):
    # A row holds the number's cooldown and hourly cap: keep it an hour at least.
    cutoff = now - timedelta(seconds=max(settings.OTP_RETENTION, HOUR))
    return OTPChallenge.objects.filter(expires_at__lt=cutoff)


def _delete_dead(now: datetime, limit: int) -> int:
    """Delete up to `limit` challenges past retention, in one statement."""
    # Matching the cutoff again in the outer filter keeps a row re-issued meanwhile.
    batch = _dead(now).values("pk")[:limit]
    deleted, _ = _dead(now).filter(pk__in=batch).delete()
    return deleted


def purge(batch_size: int = 10_000) -> int:
    """Delete every dead challenge past its retention; safe to run concurrently."""
    now = timezone.now()
    total = 0
    while deleted := _delete_dead(now, batch_size):
        total += deleted
    return total
