from __future__ import annotations

from django.contrib.auth.backends import ModelBackend
from django.core.exceptions import PermissionDenied

from accounts.errors import AccountsError, InvalidCredentials, InvalidPhoneNumber
from accounts.flows.login import staff_login
from project.client_input import client_ip


class PhoneNumberBackend(ModelBackend):
    """Django's `authenticate()` (the admin's login): staff log in with any written form
    of their number and their password, through `flows.login.staff_login`, so this door
    shares the API's per-account lockout and per-IP failure budget.

    A refusal that is not a wrong password (a lock, an outage) stops authentication and
    is kept on the request as `accounts_refusal`, so the login form can say why.
    """

    def authenticate(self, request, username=None, password=None, **kwargs):
        try:
            return staff_login(
                phone_number=username,
                password=password,
                client_ip=client_ip(request) if request is not None else "-",
            )
        except (InvalidCredentials, InvalidPhoneNumber):
            return None
        except AccountsError as error:
            if request is not None:
                request.accounts_refusal = error
            raise PermissionDenied(error.code) from None
