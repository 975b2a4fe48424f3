"""Use cases of the service. Both doors (GraphQL and REST) call these and nothing else.

Every function takes raw client input as keyword arguments, raises only
`AccountsError` subclasses for anything a client did, and returns plain values.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from graphql_jwt.exceptions import JSONWebTokenError
from graphql_jwt.refresh_token.shortcuts import create_refresh_token
from graphql_jwt.settings import jwt_settings
from graphql_jwt.utils import get_payload, get_user_by_payload
from phonenumber_field.phonenumber import PhoneNumber

from . import otp, sms
from .errors import (
    InvalidCredentials,
    InvalidInput,
    InvalidPassword,
    InvalidPhoneNumber,
    InvalidToken,
    SMSDeliveryFailed,
    Unauthenticated,
)
from .models import RefreshToken, User, hash_refresh_token
from .phone import is_sms_eligible, mask_phone, normalize_phone, to_ascii_digits

logger = logging.getLogger("accounts")

# Longer secrets than this are refused before any hashing or parsing.
MAX_SECRET_LENGTH = 4096


@dataclass(frozen=True)
class UserStatus:
    phone_number: PhoneNumber
    exists: bool
    has_password: bool


@dataclass(frozen=True)
class SentCode:
    phone_number: PhoneNumber
    expires_in: int
    retry_after: int


@dataclass(frozen=True)
class TokenPair:
    user: User
    access: str
    refresh: str
    payload: dict
    refresh_expires_at: int  # Unix time, as django-graphql-jwt's refreshExpiresIn
    created: bool = False


def user_status(*, phone_number: object) -> UserStatus:
    phone = normalize_phone(phone_number)
    user = User.objects.filter(phone_number=phone).only("password").first()
    return UserStatus(
        phone_number=phone,
        exists=user is not None,
        has_password=user is not None and user.has_usable_password(),
    )


def send_otp(*, phone_number: object) -> SentCode:
    """Text a new one-time code to a mobile number in an allowed region."""
    phone = normalize_phone(phone_number)
    if not is_sms_eligible(phone):
        logger.info("send_otp refused: not an eligible mobile number %s", mask_phone(phone))
        raise InvalidPhoneNumber()
    issued = otp.issue(phone)
    body = settings.SMS_OTP_TEMPLATE.format(
        app_name=settings.APP_NAME,
        code=issued.code,
        minutes=max(1, settings.OTP_TTL // 60),
    )
    try:
        sms.send_sms(phone.as_e164, body)
    except Exception as exc:
        otp.withdraw(issued)
        # The exception text may quote the message, so only its type is logged.
        logger.error("SMS delivery failed for %s: %s", mask_phone(phone), type(exc).__name__)
        raise SMSDeliveryFailed() from None
    logger.info("Code sent to %s", mask_phone(phone))
    return SentCode(
        phone_number=phone, expires_in=issued.expires_in, retry_after=issued.retry_after
    )


def login(*, phone_number: object, password: object) -> TokenPair:
    """Log in with a one-time code or a fixed password (both arrive as `password`).

    A code for an unknown number creates the account. Every failure is the same
    `InvalidCredentials`, whatever went wrong.
    """
    phone = normalize_phone(phone_number)
    if not isinstance(password, str) or not password or len(password) > MAX_SECRET_LENGTH:
        raise InvalidCredentials()
    user = User.objects.filter(phone_number=phone).first()
    if user is not None and not user.is_active:
        logger.info("Login refused: inactive account %s", mask_phone(phone))
        raise InvalidCredentials()

    code = to_ascii_digits(password)
    if otp.looks_like_code(code):
        with transaction.atomic():
            outcome = otp.verify(phone, code)
            created = False
            if outcome is otp.Outcome.ACCEPTED:
                user, created = User.objects.get_or_create(
                    phone_number=phone, defaults={"password": make_password(None)}
                )
                _record_login(user)
        if outcome is otp.Outcome.ACCEPTED:
            logger.info("SMS login for %s (created=%s)", mask_phone(phone), created)
            return _issue_tokens(user, created=created)
        if outcome is otp.Outcome.REJECTED:
            logger.info("Login refused: wrong one-time password for %s", mask_phone(phone))
            raise InvalidCredentials()
        # No live code: the digits may still be a fixed password.

    # An unusable password is checked without running the hasher.
    if user is None or not user.has_usable_password() or not user.check_password(password):
        logger.info("Login refused: bad credentials for %s", mask_phone(phone))
        raise InvalidCredentials()
    _record_login(user)
    logger.info("Login with password for %s", mask_phone(phone))
    return _issue_tokens(user)


def refresh(*, refresh_token: object) -> TokenPair:
    """Trade a live refresh token for a new pair; the old refresh token is revoked."""
    raw = _require_token(refresh_token)
    with transaction.atomic():
        current = (
            RefreshToken.objects.select_for_update(of=("self",))
            .select_related("user")
            .filter(token=hash_refresh_token(raw), revoked__isnull=True)
            .first()
        )
        if current is None or current.is_expired() or not current.user.is_active:
            raise InvalidToken()
        current.revoke()
        return _issue_tokens(current.user)


def verify(*, token: object) -> dict:
    """Return the payload of a valid, unexpired access token."""
    return _decode_access_token(_require_token(token))


def revoke(*, refresh_token: object) -> None:
    """Log out: revoke one live refresh token."""
    raw = _require_token(refresh_token)
    revoked = RefreshToken.objects.filter(
        token=hash_refresh_token(raw), revoked__isnull=True
    ).update(revoked=timezone.now())
    if not revoked:
        raise InvalidToken()


def authenticate(*, access_token: str | None) -> User | None:
    """The user an `Authorization: JWT <token>` header names; None without a header."""
    if access_token is None:
        return None
    payload = _decode_access_token(_require_token(access_token))
    user = _user_by_payload(payload)
    if user is None:
        raise InvalidToken()
    return user


def set_password(*, user: User | None, password: object, old_password: object = None) -> TokenPair:
    """Set or change the fixed password; every other session of the user ends.

    Returns a fresh token pair so the caller stays logged in.
    """
    if user is None:
        raise Unauthenticated()
    if not isinstance(password, str) or len(password) > MAX_SECRET_LENGTH:
        raise InvalidInput("password must be a string.")
    if user.has_usable_password():
        if (
            not isinstance(old_password, str)
            or len(old_password) > MAX_SECRET_LENGTH
            or not user.check_password(old_password)
        ):
            logger.info(
                "set_password refused: wrong old password for %s", mask_phone(user.phone_number)
            )
            raise InvalidCredentials("The old password is incorrect.")
    try:
        validate_password(password, user)
    except ValidationError as exc:
        raise InvalidPassword(exc.messages) from None
    with transaction.atomic():
        user.set_password(password)
        user.save(update_fields=["password"])
        RefreshToken.objects.filter(user=user, revoked__isnull=True).update(revoked=timezone.now())
        return _issue_tokens(user)


# --- helpers ----------------------------------------------------------------------


def _require_token(value: object) -> str:
    if not isinstance(value, str) or not value or len(value) > MAX_SECRET_LENGTH:
        raise InvalidToken()
    return value


def _decode_access_token(token: str) -> dict:
    try:
        payload = get_payload(token)
    except JSONWebTokenError:
        raise InvalidToken() from None
    if (
        not isinstance(payload, dict)
        or jwt_settings.JWT_PAYLOAD_GET_USERNAME_HANDLER(payload) is None
    ):
        raise InvalidToken()
    return payload


def _user_by_payload(payload: dict) -> User | None:
    try:
        return get_user_by_payload(payload)
    except JSONWebTokenError:
        return None


def _record_login(user: User) -> None:
    user.last_login = timezone.now()
    User.objects.filter(pk=user.pk).update(last_login=user.last_login)


def _issue_tokens(user: User, *, created: bool = False) -> TokenPair:
    payload = jwt_settings.JWT_PAYLOAD_HANDLER(user)
    return TokenPair(
        user=user,
        access=jwt_settings.JWT_ENCODE_HANDLER(payload),
        refresh=create_refresh_token(user).get_token(),
        payload=payload,
        refresh_expires_at=payload["iat"]
        + int(jwt_settings.JWT_REFRESH_EXPIRATION_DELTA.total_seconds()),
        created=created,
    )
