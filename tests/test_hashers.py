"""Passwords are hashed with Argon2id at OWASP's parameters; old hashes upgrade on login."""

import pytest
from argon2 import extract_parameters
from django.contrib.auth.hashers import make_password

import project.settings as production
from accounts.models import User
from tests.helpers import PHONE

STRONG = "correct horse battery staple"


@pytest.fixture
def production_hashers(settings):
    settings.PASSWORD_HASHERS = production.PASSWORD_HASHERS


def test_new_passwords_use_argon2id_at_owasp_parameters(production_hashers):
    encoded = make_password(STRONG)
    assert encoded.startswith("argon2$argon2id$")
    parameters = extract_parameters(encoded.removeprefix("argon2"))
    assert (parameters.memory_cost, parameters.time_cost, parameters.parallelism) == (
        19 * 1024,
        2,
        1,
    )


def test_pbkdf2_hashes_still_work_and_are_upgraded_on_login(api, production_hashers):
    api.sign_up(PHONE)
    User.objects.update(password=make_password(STRONG, hasher="pbkdf2_sha256"))
    assert api.login(PHONE, STRONG)["access"]
    assert User.objects.get().password.startswith("argon2$argon2id$")
    assert api.login(PHONE, STRONG)["access"]
