"""Phone numbers: every input form is turned into one E.164 value at the door."""

from __future__ import annotations

import re

import phonenumbers
from django.conf import settings
from phonenumber_field.phonenumber import PhoneNumber

from accounts.errors import InvalidPhoneNumber

# Long enough for any written form of a real number with spaces and a prefix.
MAX_INPUT_LENGTH = 40

# Persian (U+06F0..) and Arabic-Indic (U+0660..) digits as typed on Iranian phones.
_DIGITS = str.maketrans("۰۱۲۳۴۵۶۷۸۹٠١٢٣٤٥٦٧٨٩", "0123456789" * 2)
# Separators people type inside a number; anything else is not a phone number.
_SEPARATORS = re.compile(r"[ \-.()\u00a0\u200c\u200e\u200f]")
_SHAPE = re.compile(r"\+?[0-9]{4,20}")

_MOBILE_TYPES = frozenset(
    {phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE}
)


def to_ascii_digits(value: str) -> str:
    """Replace Persian and Arabic-Indic digits with ASCII ones."""
    return value.translate(_DIGITS)


def normalize_phone(raw: object) -> PhoneNumber:
    """Parse any accepted written form of a number into a valid `PhoneNumber`.

    Accepts national (`09112223344`, `9112223344`), international (`+98…`,
    `0098…`, `98…`) forms, separators and Persian/Arabic-Indic digits. Raises
    `InvalidPhoneNumber` for anything that is not a valid number.
    """
    if not isinstance(raw, str) or not raw or len(raw) > MAX_INPUT_LENGTH:
        raise InvalidPhoneNumber()
    compact = _SEPARATORS.sub("", to_ascii_digits(raw.strip()))
    if not _SHAPE.fullmatch(compact):
        raise InvalidPhoneNumber()

    region = settings.PHONE_DEFAULT_REGION
    candidates = [compact]
    if not compact.startswith("+"):
        # `989112223344`: the country code written without its `+` or `00`.
        candidates.append("+" + compact)
    for candidate in candidates:
        try:
            number = PhoneNumber.from_string(candidate, region=region)
        except phonenumbers.NumberParseException:
            continue
        if number.is_valid():
            return number
    raise InvalidPhoneNumber()


def is_sms_eligible(number: PhoneNumber) -> bool:
    """True for a mobile number in one of `OTP_ALLOWED_REGIONS`."""
    region = phonenumbers.region_code_for_number(number)
    return (
        region in settings.OTP_ALLOWED_REGIONS and phonenumbers.number_type(number) in _MOBILE_TYPES
    )


def mask_phone(number: PhoneNumber | str) -> str:
    """`+989123456344` -> `+98912****344`: enough to tell numbers apart in logs."""
    text = number.as_e164 if isinstance(number, PhoneNumber) else str(number)
    if len(text) < 9:
        return "****"
    return f"{text[:6]}****{text[-3:]}"
