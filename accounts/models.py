from __future__ import annotations

import hashlib
import secrets
import uuid
from typing import ClassVar

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.db import models
from django.utils import timezone
from graphql_jwt.settings import jwt_settings
from phonenumber_field.modelfields import PhoneNumberField


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def create_user(self, phone_number, password=None, **extra_fields) -> User:
        user = self.model(phone_number=phone_number, **extra_fields)
        user.set_password(password)  # None leaves an unusable password
        user.save(using=self._db)
        return user

    def create_superuser(self, phone_number, password=None, **extra_fields) -> User:
        extra_fields.update(is_staff=True, is_superuser=True)
        return self.create_user(phone_number, password, **extra_fields)


class User(AbstractBaseUser, PermissionsMixin):
    """A person, known by one mobile number in E.164 form."""

    phone_number = PhoneNumberField(unique=True, help_text="E.164, e.g. +989112223344")
    is_active = models.BooleanField(default=True)
    is_staff = models.BooleanField(default=False)
    date_joined = models.DateTimeField(default=timezone.now)
    # Fixed-password guessing: counted per account, reset by any successful login.
    failed_logins = models.PositiveIntegerField(default=0, editable=False)
    locked_until = models.DateTimeField(null=True, blank=True, editable=False)

    objects: ClassVar[UserManager] = UserManager()

    USERNAME_FIELD = "phone_number"
    REQUIRED_FIELDS: ClassVar[list[str]] = []

    class Meta:
        verbose_name = "user"
        verbose_name_plural = "users"

    def __str__(self) -> str:
        return str(self.phone_number)


class OTPChallenge(models.Model):
    """The live one-time code of one phone number, and its counters.

    One row per number: sending a new code overwrites the row, which kills the old
    code. Every change is a conditional update or runs under a row lock, so the
    rules hold across threads, processes and machines. The code itself is never
    stored, only its keyed hash.
    """

    phone_number = PhoneNumberField(unique=True)
    code_hash = models.CharField(max_length=64, blank=True, editable=False)
    sent_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(db_index=True)
    attempts = models.PositiveIntegerField(default=0)
    used_at = models.DateTimeField(null=True, blank=True)
    # Unix times of the codes sent in the last hour, for the per-number hourly cap.
    recent_sends = models.JSONField(default=list, blank=True)
    # A send a delivery worker has still to text (SMS_SEND_IN_BACKGROUND): the row is
    # the queue entry, written with the send itself. `language` is its text's language;
    # a worker that took it holds it until `claimed_until`, then another may.
    queued = models.BooleanField(db_default=False, editable=False)
    language = models.CharField(max_length=16, blank=True, db_default="", editable=False)
    claimed_until = models.DateTimeField(null=True, blank=True, editable=False)
    # What a queued send was counted in (`limits.Count.charge`s: the client's, the
    # others, the new numbers' budget), given back when no provider could text it. NULL
    # for a send texted in its request (its request gives back) and older rows.
    charges = models.JSONField(null=True, blank=True, editable=False)

    class Meta:
        verbose_name = "OTP challenge"
        verbose_name_plural = "OTP challenges"
        indexes = [
            # The delivery queue, oldest first; it holds only the waiting sends.
            models.Index(fields=["sent_at"], condition=models.Q(queued=True), name="otp_queue"),
        ]

    def __str__(self) -> str:
        from accounts.identity.phone import mask_phone

        return mask_phone(self.phone_number)


def hash_refresh_token(token: str) -> str:
    """Refresh tokens are 256 random bits: a plain SHA-256 is enough to store them."""
    return hashlib.sha256(token.encode()).hexdigest()


class Session(models.Model):
    """One login, and the chain of refresh tokens rotated from it, in one row.

    A rotation advances `generation` in place, so storage grows with logins, never with
    refreshes. The refresh token is `<id>.<generation>.<MAC>` (see `accounts.sessions.lifecycle`):
    nothing about it is stored, a token whose generation is behind the row's is a
    replay, and a leaked row mints nothing without the server's key.
    """

    class Method(models.TextChoices):
        CODE = "code", "one-time code"
        PASSWORD = "password", "password"
        LEGACY = "legacy", "refresh token from before sessions"

    class Reason(models.TextChoices):
        LOGOUT = "logout", "logged out"
        REVOKED_BY_USER = "user", "ended by its owner"
        PASSWORD_CHANGED = "password_changed", "password changed"
        REUSE_DETECTED = "reuse_detected", "reuse detected"
        ADMIN = "admin", "revoked by an admin"
        NUMBER_CHANGED = "number_changed", "phone number changed"
        ACCOUNT_DELETED = "account_deleted", "account deleted"

    USER_AGENT_LENGTH = 256

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="sessions"
    )
    method = models.CharField(max_length=16, choices=Method.choices)
    created_at = models.DateTimeField(default=timezone.now)
    last_refreshed_at = models.DateTimeField(null=True, blank=True)
    # Absolute: JWT_REFRESH_TOKEN_LIFETIME after the login, whatever the rotations.
    expires_at = models.DateTimeField(db_index=True)
    generation = models.PositiveBigIntegerField(default=1)
    user_agent = models.CharField(max_length=USER_AGENT_LENGTH, blank=True)
    client_ip = models.CharField(max_length=45, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_reason = models.CharField(max_length=20, choices=Reason.choices, blank=True)

    class Meta:
        indexes = [models.Index(fields=["user", "revoked_at"], name="session_user_live")]

    def __str__(self) -> str:
        return f"session {self.pk} of {self.user_id}"


class RefreshToken(models.Model):
    """A refresh token from before sessions, stored only as its SHA-256.

    Kept so that tokens issued by earlier versions still work until they expire: the
    first refresh with one opens a `Session` in its place (see
    `accounts.sessions.lifecycle.upgrade_legacy`). No new row is written; `purge_expired` deletes
    them as they expire. This model and its path go in 2.0.
    """

    # The columns of django-graphql-jwt's abstract refresh token, which this model was
    # built on; the library's own app (and its table) is not installed.
    id = models.BigAutoField(primary_key=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="legacy_refresh_tokens",
        verbose_name="user",
    )
    token = models.CharField("token", max_length=255, editable=False)
    created = models.DateTimeField("created", auto_now_add=True)
    revoked = models.DateTimeField("revoked", null=True, blank=True)

    # The session's reasons it shares, between its own two, in its migrations' order (the
    # functional form of TextChoices, which django-stubs does not describe).
    Reason = models.TextChoices(  # type: ignore[call-overload]
        "Reason",
        [
            ("ROTATED", ("rotated", "rotated")),
            *(
                (name, (Session.Reason[name].value, Session.Reason[name].label))
                for name in ("LOGOUT", "PASSWORD_CHANGED", "REUSE_DETECTED", "ADMIN")
            ),
            ("UPGRADED", ("upgraded", "replaced by a session")),
        ],
    )

    # Absolute: a rotated token inherits its parent's expiry, so a session ends
    # JWT_REFRESH_TOKEN_LIFETIME after the login that started it.
    expires_at = models.DateTimeField(db_index=True)
    revoked_reason = models.CharField(max_length=20, choices=Reason.choices, blank=True)

    class Meta:
        verbose_name = "refresh token from before sessions"
        verbose_name_plural = "refresh tokens from before sessions"
        constraints = [models.UniqueConstraint(fields=["token"], name="refresh_token_hash_unique")]

    def __str__(self) -> str:
        return f"refresh token #{self.pk} of {self.user_id}"

    def save(self, *args, **kwargs) -> None:
        if not self.token:
            raw = getattr(self, "_cached_token", None) or secrets.token_hex(
                jwt_settings.JWT_REFRESH_TOKEN_N_BYTES
            )
            self._cached_token = raw
            self.token = hash_refresh_token(raw)
        if self.expires_at is None:
            self.expires_at = timezone.now() + jwt_settings.JWT_REFRESH_EXPIRATION_DELTA
        super().save(*args, **kwargs)

    def get_token(self) -> str:
        """The raw token; only known right after creation."""
        return self._cached_token

    def is_expired(self, request=None) -> bool:
        return self.expires_at <= timezone.now()


class RateCounter(models.Model):
    """A fixed-window counter shared by every process (see `accounts.abuse.limits`)."""

    key = models.CharField(max_length=64, unique=True)  # SHA-256 of scope and subject
    window_end = models.BigIntegerField(db_index=True)  # Unix time the window closes
    count = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.count} until {self.window_end}"


class WebhookMessage(models.Model):
    """One event for one endpoint, from the outbox to a receiver (see `accounts.webhooks`).

    Written in the transaction that made the change, so a rolled-back change leaves no
    event. `message_id` is the `webhook-id` every try of it carries, at every endpoint;
    `body` is the JSON sent and signed, byte for byte.
    """

    class Status(models.TextChoices):
        PENDING = "pending", "pending"
        DELIVERED = "delivered", "delivered"
        DEAD = "dead", "dead letter"

    message_id = models.CharField(max_length=40, db_index=True, editable=False)
    endpoint = models.CharField(max_length=2048, editable=False)
    event_type = models.CharField(max_length=32, editable=False)
    # Deliveries to one endpoint keep the order of their account's events.
    account_id = models.BigIntegerField(editable=False)
    body = models.TextField(editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    # A failed try after this makes the delivery a dead letter.
    retry_until = models.DateTimeField()
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    # What the last try came back with: "HTTP 503", "ConnectError", ...
    last_result = models.CharField(max_length=100, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    # A worker's claim on the row while it sends it; a crashed worker's lapses.
    claimed_by = models.UUIDField(null=True, blank=True, editable=False)
    claimed_until = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        verbose_name = "webhook delivery"
        verbose_name_plural = "webhook deliveries"
        indexes = [
            models.Index(fields=["status", "next_attempt_at"], name="webhook_due"),
            models.Index(fields=["endpoint", "account_id", "status"], name="webhook_queue"),
        ]

    def __str__(self) -> str:
        return f"{self.event_type} {self.message_id}"


class AuditEvent(models.Model):
    """One security event, kept AUDIT_RETENTION_DAYS (see `accounts.audit`).

    No foreign key: the trail outlives the account it is about. Numbers are masked; no
    code, password or token is ever written here.
    """

    class Kind(models.TextChoices):
        SIGNED_UP = "signed_up", "signed up"
        LOGGED_IN = "logged_in", "logged in"
        LOGIN_FAILED = "login_failed", "login failed"
        ACCOUNT_LOCKED = "account_locked", "account locked"
        CODE_SENT = "code_sent", "code sent"
        CODE_REFUSED = "code_refused", "code not sent"
        REFRESH_TOKEN_REUSED = "refresh_token_reused", "refresh token reused"
        SESSION_REVOKED = "session_revoked", "session revoked"
        PASSWORD_SET = "password_set", "password set"
        PASSWORD_CHANGED = "password_changed", "password changed"
        PASSWORD_REMOVED = "password_removed", "password removed"
        PHONE_NUMBER_CHANGED = "phone_number_changed", "phone number changed"
        ACCOUNT_DELETED = "account_deleted", "account deleted"
        ADMIN_ACTION = "admin_action", "admin action"

    at = models.DateTimeField(default=timezone.now, db_index=True)
    event = models.CharField(max_length=24, choices=Kind.choices)
    # "ok", or why not: the error code, the refusal, the session's end reason.
    outcome = models.CharField(max_length=40, blank=True)
    account_id = models.BigIntegerField(null=True, blank=True)
    phone_number = models.CharField("number (masked)", max_length=32, blank=True)
    # The address limits count the client under: IPv4 itself, IPv6 its /64.
    client_network = models.CharField(max_length=49, blank=True)
    session_id = models.UUIDField(null=True, blank=True)
    # How: the login's method, the admin's change, the SMS backend.
    detail = models.CharField(max_length=200, blank=True)

    class Meta:
        verbose_name = "audit event"
        indexes = [
            models.Index(fields=["account_id", "at"], name="audit_account"),
            models.Index(fields=["event", "at"], name="audit_event"),
        ]

    def __str__(self) -> str:
        return f"{self.event} at {self.at:%Y-%m-%d %H:%M:%S}"
