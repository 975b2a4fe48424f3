"""An ended session's access tokens are refused at once, on every door that accepts an
access token, whatever ended it; on another instance, within a second."""

import os
import time

import pytest
from django.test import Client

from accounts.models import Session, User
from tests.doors import sign_up
from tests.helpers import E164, PHONE

ME = "{ me { phoneNumber } }"
VERIFY = "mutation($t: String!) { verifyToken(token: $t) { payload { sub } } }"
SESSIONS = "{ sessions { id } }"
REVOKE_OTHERS = "mutation { revokeOtherSessions { revokedCount } }"
PASSWORD = "a long and fine passphrase"

# Real commits: a session's end is shared once its transaction commits.
pytestmark = pytest.mark.django_db(transaction=True)


def refused_everywhere(api, access):
    assert api.gql(ME, token=access).error_codes == ["INVALID_TOKEN"]
    assert api.gql(SESSIONS, token=access).error_codes == ["INVALID_TOKEN"]
    assert api.gql(REVOKE_OTHERS, token=access).error_codes == ["INVALID_TOKEN"]
    assert api.gql(VERIFY, {"t": access}).error_codes == ["INVALID_TOKEN"]
    rest = api.post("/accounts/api/token/verify/", {"token": access})
    assert rest.status_code == 401 and rest.json()["code"] == "token_not_valid"


def test_a_logged_out_sessions_access_token_is_refused_on_either_door(door):
    tokens = sign_up(door, PHONE)
    assert door.verify(tokens["access"]).code is None
    assert door.log_out(tokens["refresh"]).code is None
    assert door.verify(tokens["access"]).code == "INVALID_TOKEN"


def end_by_revoke_others(api, victim, owner):
    api.gql(REVOKE_OTHERS, token=owner["access"])


def end_by_reuse(api, victim, owner, settings):
    settings.JWT_REFRESH_TOKEN_REUSE_GRACE = 0
    api.post("/accounts/api/token/refresh/", {"refresh": victim["refresh"]})
    api.post("/accounts/api/token/refresh/", {"refresh": victim["refresh"]})


def end_by_set_password(api, victim, owner):
    api.set_password(owner["access"], PASSWORD)


def end_by_deletion(api, victim, owner):
    code = api.new_code(PHONE)
    delete = "mutation($c: String) { deleteAccount(code: $c) { deleted } }"
    assert api.gql(delete, {"c": code}, token=owner["access"]).data


def end_by_admin_deactivation(api, victim, owner):
    staff = User.objects.create_superuser("09350001122", "an admin passphrase 42")
    admin = Client()
    admin.force_login(staff)
    user = User.objects.get(phone_number=E164)
    admin.post(f"/admin/accounts/user/{user.pk}/change/", {"phone_number": E164, "_save": "Save"})
    assert User.objects.get(pk=user.pk).is_active is False


def end_by_deactivation_anywhere(api, victim, owner):
    user = User.objects.get(phone_number=E164)
    user.is_active = False
    user.save()


def end_by_admin_revoke(api, victim, owner):
    staff = User.objects.create_superuser("09350001122", "an admin passphrase 42")
    admin = Client()
    admin.force_login(staff)
    pks = list(Session.objects.values_list("pk", flat=True))
    admin.post("/admin/accounts/session/", {"action": "revoke", "_selected_action": pks})


@pytest.mark.parametrize(
    "end",
    [
        end_by_revoke_others,
        end_by_reuse,
        end_by_set_password,
        end_by_deletion,
        end_by_admin_deactivation,
        end_by_deactivation_anywhere,
        end_by_admin_revoke,
    ],
)
def test_whatever_ends_a_session_stops_its_access_tokens(api, settings, end):
    victim = api.sign_up(PHONE)  # the stolen laptop's session
    owner = api.login(PHONE, api.new_code(PHONE))
    assert api.gql(ME, token=victim["access"]).data == {"me": {"phoneNumber": E164}}
    if end is end_by_reuse:
        end(api, victim, owner, settings)
    else:
        end(api, victim, owner)
    refused_everywhere(api, victim["access"])


@pytest.mark.processes
def test_a_session_ended_on_one_instance_is_refused_on_the_other_within_a_second(tmp_path):
    from tests.servers import codes_sent, running_servers

    if not os.environ.get("REDIS_URL"):
        pytest.skip("instances share ended sessions through Redis; runs in the Redis leg")
    with running_servers(tmp_path, count=2) as (a, b):
        assert a.get(f"/accounts/api/otp/{PHONE}/")[0] == 200
        code = codes_sent(a.sms_dir, E164)[-1]
        _, tokens, _ = a.post("/accounts/api/token/", {"phone_number": PHONE, "password": code})
        verify = {"token": tokens["access"]}
        assert b.post("/accounts/api/token/verify/", verify)[0] == 200  # b knows the token
        assert a.post("/accounts/api/token/blacklist/", {"refresh": tokens["refresh"]})[0] == 200
        ended = time.monotonic()
        while b.post("/accounts/api/token/verify/", verify)[0] == 200:
            assert time.monotonic() - ended < 1.0, "still accepted on the other instance"
            time.sleep(0.05)
        assert b.post("/accounts/api/token/verify/", verify)[0] == 401


def test_ended_sessions_are_forgotten_once_their_tokens_cannot_be_valid(settings, db):
    import time_machine

    from accounts.outbound import events
    from accounts.sessions import revocation

    settings.REDIS_URL = ""
    with time_machine.travel(time.time(), tick=False) as clock:
        events.session_revoked.send(sender=None, user_id=1, session_id="a", reason="logout")
        assert revocation.is_ended("a")
        clock.shift(revocation.window() + 1)
        events.session_revoked.send(sender=None, user_id=1, session_id="b", reason="logout")
        assert "a" not in revocation._ended and revocation.is_ended("b")


def test_an_instance_whose_clock_runs_ahead_hides_no_other_instances_ended_session():
    """Entries are scored by the clock of the instance that ended the session: one
    scored a minute ahead must not move this worker's reading past the others'."""
    from accounts.sessions import revocation
    from project import redis_client

    if not os.environ.get("REDIS_URL"):
        pytest.skip("instances share ended sessions through Redis; runs in the Redis leg")
    redis = redis_client.client()
    redis.zadd(revocation.KEY, {"clock-ahead": time.time() + 60})
    read_by_the_poller("clock-ahead")
    redis.zadd(revocation.KEY, {"clock-right": time.time()})
    read_by_the_poller("clock-right")
    redis.zrem(revocation.KEY, "clock-ahead", "clock-right")


def read_by_the_poller(session_id: str) -> None:
    from accounts.sessions import revocation

    deadline = time.monotonic() + 10  # the poller reads four times a second
    while not revocation.is_ended(session_id):
        assert time.monotonic() < deadline, f"{session_id}: never read"
        time.sleep(0.05)
