"""One-time codes: issue, verify and prune, with every change atomic in the database."""

from __future__ import annotations

import enum
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.crypto import constant_time_compare, salted_hmac
from phonenumber_field.phonenumber import PhoneNumber

from .errors import RateLimited
from .models import OTPChallenge

_HMAC_SALT = "accounts.otp.code"
# Rows removed per send by the inline prune; `purge_otps` removes the rest.
PRUNE_BATCH = 100


class Outcome(enum.Enum):
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    NO_LIVE_CODE = "no_live_code"


@dataclass(frozen=True)
class IssuedCode:
    phone_number: PhoneNumber
    code: str
    code_hash: str
    expires_in: int
    retry_after: int


def generate_code() -> str:
    length = settings.OTP_LENGTH
    return f"{secrets.randbelow(10**length):0{length}d}"


def looks_like_code(value: str) -> bool:
    return len(value) == settings.OTP_LENGTH and value.isascii() and value.isdigit()


def hash_code(phone_number: PhoneNumber, code: str) -> str:
    """Keyed hash of a code, bound to its number (HMAC-SHA256 under SECRET_KEY)."""
    message = f"{phone_number.as_e164}:{code}"
    return salted_hmac(_HMAC_SALT, message, algorithm="sha256").hexdigest()


def _seconds_until(moment: datetime, now: datetime) -> int:
    return max(1, int((moment - now).total_seconds() + 0.999))


def issue(phone_number: PhoneNumber) -> IssuedCode:
    """Create a new code for the number, killing any previous one.

    Raises `RateLimited` while the previous code is inside its resend cooldown. The
    check and the write are one conditional statement, so concurrent requests for
    one number issue exactly one code.
    """
    now = timezone.now()
    cooldown = timedelta(seconds=settings.OTP_RESEND_COOLDOWN)
    code = generate_code()
    fields = {
        "code_hash": hash_code(phone_number, code),
        "sent_at": now,
        "expires_at": now + timedelta(seconds=settings.OTP_TTL),
        "attempts": 0,
        "used_at": None,
    }
    rows = OTPChallenge.objects.filter(phone_number=phone_number)
    if not rows.filter(sent_at__lte=now - cooldown).update(**fields):
        last_sent = rows.values_list("sent_at", flat=True).first()
        if last_sent is not None:
            raise RateLimited(retry_after=_seconds_until(last_sent + cooldown, now))
        try:
            with transaction.atomic():
                OTPChallenge.objects.create(phone_number=phone_number, **fields)
        except IntegrityError:
            # Another request created the row between our two statements.
            raise RateLimited(retry_after=settings.OTP_RESEND_COOLDOWN) from None
    _prune(now)
    return IssuedCode(
        phone_number=phone_number,
        code=code,
        code_hash=fields["code_hash"],
        expires_in=settings.OTP_TTL,
        retry_after=settings.OTP_RESEND_COOLDOWN,
    )


def withdraw(issued: IssuedCode) -> None:
    """Undo `issue` after the SMS could not be sent: no code, no cooldown."""
    OTPChallenge.objects.filter(
        phone_number=issued.phone_number, code_hash=issued.code_hash
    ).delete()


def verify(phone_number: PhoneNumber, code: str) -> Outcome:
    """Check a code against the number's live challenge, under a row lock.

    A wrong code counts an attempt; the code dies at `OTP_MAX_ATTEMPTS`. A right
    code is consumed. Call inside `transaction.atomic()` to make further writes
    (creating the user) part of the same unit; the attempt count is written either
    way, so the caller must not raise inside that block after a rejection.
    """
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
            .only("pk", "code_hash")
            .first()
        )
        if challenge is None:
            return Outcome.NO_LIVE_CODE
        if constant_time_compare(challenge.code_hash, hash_code(phone_number, code)):
            OTPChallenge.objects.filter(pk=challenge.pk).update(used_at=now)
            return Outcome.ACCEPTED
        OTPChallenge.objects.filter(pk=challenge.pk).update(attempts=F("attempts") + 1)
        return Outcome.REJECTED


def _delete_dead(now: datetime, limit: int) -> tuple[int, int]:
    """Delete up to `limit` challenges past retention; return (found, deleted)."""
    cutoff = now - timedelta(seconds=settings.OTP_RETENTION)
    # A row must outlive its cooldown, whatever the retention says.
    cutoff = min(cutoff, now - timedelta(seconds=settings.OTP_RESEND_COOLDOWN))
    dead = OTPChallenge.objects.filter(expires_at__lt=cutoff)
    pks = list(dead.values_list("pk", flat=True)[:limit])
    if not pks:
        return 0, 0
    # Filtering again keeps a row that was re-issued since it was read.
    deleted, _ = dead.filter(pk__in=pks).delete()
    return len(pks), deleted


def _prune(now: datetime) -> None:
    _delete_dead(now, PRUNE_BATCH)


def purge(batch_size: int = 10_000) -> int:
    """Delete every dead challenge past its retention; safe to run concurrently."""
    now = timezone.now()
    total = 0
    while True:
        found, deleted = _delete_dead(now, batch_size)
        total += deleted
        if found < batch_size:
            return total
