from __future__ import annotations

from django.contrib.auth.backends import ModelBackend

from .errors import InvalidPhoneNumber
from .phone import normalize_phone


class PhoneNumberBackend(ModelBackend):
    """Password login for the admin site: any written form of the number works.

    The API does not come through here; it logs in with `accounts.services.login`.
    """

    def authenticate(self, request, username=None, password=None, **kwargs):
        try:
            phone = normalize_phone(username)
        except InvalidPhoneNumber:
            return None
        return super().authenticate(request, username=phone.as_e164, password=password, **kwargs)
