"""Claims of the product's own in access tokens, through JWT_CLAIMS_HOOK."""

import jwt
import pytest
from django.core import checks

from accounts.models import User
from accounts.sessions import claims
from tests.helpers import PHONE

VERIFY = "mutation($t: String!) { verifyToken(token: $t) { payload { sub claims } } }"


@pytest.fixture
def role_hook(settings):
    settings.JWT_CLAIMS_HOOK = "tests.claims_hooks.role"
    settings.JWT_CUSTOM_CLAIMS = ["role", "loginMethod"]


def unverified(token: str) -> dict:
    return jwt.decode(token, options={"verify_signature": False})


def test_a_hook_adds_a_role_to_every_access_token(api, role_hook):
    tokens = api.sign_up(PHONE)
    assert unverified(tokens["access"])["role"] == "member"
    assert unverified(tokens["access"])["loginMethod"] == "code"
    result = api.gql(VERIFY, {"t": tokens["access"]})
    assert result.data["verifyToken"]["payload"]["claims"] == {
        "role": "member",
        "loginMethod": "code",
    }
    rest = api.post("/accounts/api/token/verify/", {"token": tokens["access"]})
    assert rest.status_code == 200
    # A refreshed token asks the hook again: what it says now is what the token says.
    User.objects.filter(phone_number="+989112223344").update(is_staff=True)
    refreshed = api.post("/accounts/api/token/refresh/", {"refresh": tokens["refresh"]}).json()
    assert unverified(refreshed["access"])["role"] == "staff"


def test_without_a_hook_the_claims_are_empty(api):
    tokens = api.sign_up(PHONE)
    assert "role" not in unverified(tokens["access"])
    result = api.gql(VERIFY, {"t": tokens["access"]})
    assert result.data["verifyToken"]["payload"]["claims"] == {}


def test_a_hook_cannot_change_the_services_own_claims(api, settings, caplog):
    settings.JWT_CLAIMS_HOOK = "tests.claims_hooks.overreaching"
    settings.JWT_CUSTOM_CLAIMS = ["role", "tenant"]
    tokens = api.sign_up(PHONE)
    payload = unverified(tokens["access"])
    assert payload["role"] == "member" and payload["sub"] != "0" and "tenant" not in payload
    assert "'sub', which JWT_CUSTOM_CLAIMS does not name" in caplog.text
    assert "'tenant' that is not JSON" in caplog.text


@pytest.mark.parametrize(
    ("hook", "names", "problem"),
    [
        ("tests.claims_hooks.role", ["role", "sub"], "the service's own claims: sub"),
        ("tests.claims_hooks.role", [], "names no claim"),
        ("tests.claims_hooks.missing", ["role"], "cannot be imported"),
        ("", ["exp"], "the service's own claims: exp"),
    ],
)
def test_the_system_check_refuses_a_bad_hook_at_start_up(settings, hook, names, problem):
    settings.JWT_CLAIMS_HOOK = hook
    settings.JWT_CUSTOM_CLAIMS = names
    errors = [e for e in checks.run_checks() if e.id == "accounts.E014"]
    assert errors and any(problem in e.msg for e in errors), errors


def test_the_reserved_names_are_every_claim_the_service_sets(api):
    payload = unverified(api.sign_up(PHONE)["access"])
    assert set(payload) <= claims.RESERVED
