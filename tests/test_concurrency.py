"""Races with real threads and real connections: the database decides, once."""

import io

import pytest
from django.test import Client

from accounts.codes import sms
from accounts.models import OTPChallenge, RefreshToken, Session, User
from tests.conftest import Api
from tests.helpers import OTHER_PHONE, PHONE, race

THREADS = 50

pytestmark = pytest.mark.django_db(transaction=True)


def login(password):
    return Client().post(
        "/accounts/api/token/",
        {"phone_number": PHONE, "password": password},
        content_type="application/json",
    )


def test_one_code_many_simultaneous_logins_exactly_one_success():
    code = Api(Client()).send_code(PHONE)
    statuses = [r.status_code for r in race(lambda i: login(code))]
    assert statuses.count(200) == 1
    assert statuses.count(401) == THREADS - 1
    assert User.objects.count() == 1
    assert Session.objects.count() == 1


def test_many_simultaneous_sends_text_exactly_once():
    statuses = race(lambda i: Client().get(f"/accounts/api/otp/{PHONE}/").status_code)
    assert statuses.count(200) == 1
    assert statuses.count(429) == THREADS - 1
    assert len(sms.outbox) == 1


def test_parallel_wrong_guesses_cannot_pass_the_attempt_cap():
    code = Api(Client()).send_code(PHONE)
    wrong = [f"{(int(code) + i) % 1_000_000:06d}" for i in range(1, THREADS + 1)]
    statuses = [r.status_code for r in race(lambda i: login(wrong[i]))]
    assert statuses == [401] * THREADS
    assert OTPChallenge.objects.get().attempts == 5
    assert login(code).status_code == 401


def test_simultaneous_refreshes_of_one_token_mint_one_child():
    tokens = Api(Client()).sign_up(PHONE)

    def refresh(i):
        return Client().post(
            "/accounts/api/token/refresh/",
            {"refresh": tokens["refresh"]},
            content_type="application/json",
        )

    responses = race(refresh)
    assert {r.status_code for r in responses} == {200}
    assert len({r.json()["refresh"] for r in responses}) == 1
    session = Session.objects.get()
    assert session.generation == 2 and session.revoked_at is None


def test_purge_runs_safely_on_several_instances_at_once():
    from datetime import timedelta

    from django.core.management import call_command
    from django.utils import timezone

    from accounts.models import RateCounter

    old = timezone.now() - timedelta(days=2)
    OTPChallenge.objects.bulk_create(
        OTPChallenge(phone_number=f"+98912{i:07d}", expires_at=old) for i in range(3000)
    )
    user = User.objects.create_user("09350001122")
    RefreshToken.objects.bulk_create(
        RefreshToken(user=user, token=f"{i:064x}", expires_at=old) for i in range(1000)
    )
    Session.objects.bulk_create(
        Session(user=user, method="code", created_at=old, expires_at=old) for i in range(1000)
    )
    RateCounter.objects.bulk_create(
        RateCounter(key=f"{i:064x}", window_end=1, count=1) for i in range(500)
    )
    live_code = Api(Client()).send_code(PHONE)
    live = Api(Client()).login(PHONE, live_code)

    race(lambda i: call_command("purge_expired", stdout=io.StringIO()), count=4)

    assert list(OTPChallenge.objects.values_list("phone_number", flat=True)) == ["+989112223344"]
    assert RefreshToken.objects.count() == 0
    assert Session.objects.count() == 1
    assert (
        Client()
        .post(
            "/accounts/api/token/refresh/",
            {"refresh": live["refresh"]},
            content_type="application/json",
        )
        .status_code
        == 200
    )


def test_two_accounts_racing_for_one_new_number_end_with_one_owner():
    from tests.test_lifecycle import CHANGE_NUMBER, NEW_E164, NEW_PHONE

    api = Api(Client())
    callers = []
    for phone in (PHONE, OTHER_PHONE):
        access = api.sign_up(phone)["access"]
        callers.append((access, api.new_code(phone)))
    new_code = api.send_code(NEW_PHONE)

    def change(i):
        access, own_code = callers[i]
        variables = {"new": NEW_PHONE, "newCode": new_code, "code": own_code}
        return Api(Client()).gql(CHANGE_NUMBER, variables, token=access)

    answers = race(change, count=2)
    assert sorted(bool(a.errors) for a in answers) == [False, True]
    assert User.objects.filter(phone_number=NEW_E164).count() == 1
    assert User.objects.count() == 2


def test_a_deletion_racing_a_refresh_leaves_no_live_token():
    from tests.test_lifecycle import DELETE_ACCOUNT

    api = Api(Client())
    tokens = api.sign_up(PHONE)
    code = api.new_code(PHONE)

    def act(i):
        client = Api(Client())
        if i == 0:
            return client.gql(DELETE_ACCOUNT, {"code": code}, token=tokens["access"])
        return client.post("/accounts/api/token/refresh/", {"refresh": tokens["refresh"]})

    deleted, refreshed = race(act, count=2)
    assert deleted.data == {"deleteAccount": {"deleted": True}}
    assert User.objects.count() == 0 and Session.objects.count() == 0
    # Whichever came first, no refresh token of the account works afterwards.
    for refresh in {tokens["refresh"], refreshed.json().get("refresh", tokens["refresh"])}:
        again = api.post("/accounts/api/token/refresh/", {"refresh": refresh})
        assert again.status_code == 401
