"""Sends queued as django-tasks work by releases before `manage.py deliver_codes`
(`codes.courier`): `manage.py db_worker` still texts them after an upgrade. New sends
are queued on their own rows instead.

Only the number and the reservation's time were queued; the worker makes the code, so
no code is ever stored in the task table.
"""

from __future__ import annotations

import logging
from datetime import datetime

from django.conf import settings
from django.utils import translation
from django_tasks import task

from accounts.codes import delivery, otp
from accounts.errors import SMSDeliveryFailed
from accounts.identity.phone import mask_phone, normalize_phone

logger = logging.getLogger("accounts")


@task()
def deliver_code(phone_number: str, reserved_at: str, language: str) -> None:
    reservation = otp.Reservation(
        phone_number=normalize_phone(phone_number),
        sent_at=datetime.fromisoformat(reserved_at),
        expires_in=settings.OTP_TTL,
        retry_after=settings.OTP_RESEND_COOLDOWN,
    )
    with translation.override(language):
        try:
            delivery.text_reserved_code(reservation)
        except SMSDeliveryFailed as failure:
            otp.withdraw(reservation)
            logger.error(
                "Background SMS delivery failed for %s: %s",
                mask_phone(reservation.phone_number),
                failure.reason,
            )
            raise
