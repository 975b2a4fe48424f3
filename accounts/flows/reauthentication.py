"""A fresh proof for a sensitive change (step-up): a valid access token alone is never
enough. The proof is a code sent to the account's number by `sendOtp` and not used
before, or, where the account has one, its password."""

from __future__ import annotations

from django.utils.translation import gettext as _
from phonenumber_field.phonenumber import PhoneNumber

from accounts.codes import otp
from accounts.errors import InvalidCredentials, StepUpRequired
from accounts.flows.login import counting_failures
from accounts.flows.use_case import MAX_SECRET_LENGTH
from accounts.identity import passwords
from accounts.identity.phone import to_ascii_digits
from accounts.models import User


def require_fresh_proof(user: User, *, code: object, old_password: object, client_ip: str) -> None:
    """Refuse the change unless `code` or `old_password` proves the caller is the
    account's owner now. No proof: `StepUpRequired`. A wrong one: `InvalidCredentials`,
    counted against the per-IP failure budget (and, for a password, the account's
    lockout) as a failed login is."""
    has_code = isinstance(code, str) and code != ""
    has_password = isinstance(old_password, str) and old_password != ""
    if not (has_code or has_password):
        raise StepUpRequired(reason="no code or password given")
    if has_code:
        require_code_of(user.phone_number, code, client_ip=client_ip)
        return
    with counting_failures(client_ip):
        if not user.has_usable_password() or len(str(old_password)) > MAX_SECRET_LENGTH:
            raise InvalidCredentials(_("The old password is incorrect."), reason="no password")
        try:
            passwords.check(user, str(old_password))
        except InvalidCredentials:
            raise InvalidCredentials(
                _("The old password is incorrect."), reason="wrong old password"
            ) from None


def require_code_of(phone: PhoneNumber, code: object, *, client_ip: str) -> None:
    """Refuse unless `code` is the live code `sendOtp` texted to `phone` (which proves
    the caller holds that number now): spent when right, an attempt when wrong."""
    with counting_failures(client_ip):
        digits = to_ascii_digits(code) if isinstance(code, str) else ""
        outcome = otp.Outcome.REJECTED
        if otp.looks_like_code(digits):
            outcome = otp.consume(phone, digits)
        if outcome is not otp.Outcome.ACCEPTED:
            raise InvalidCredentials(reason=f"code {outcome.value}")
