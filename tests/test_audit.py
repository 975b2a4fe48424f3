"""The stored audit trail: every security event a row (time, event, account, masked
number, client network, session, outcome), batched so a request pays no round trip for
it, read-only in the admin, and purged after AUDIT_RETENTION_DAYS."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import AuditEvent, Session, User
from accounts.outbound import audit
from tests.helpers import PHONE
from tests.servers import codes_sent, fetch_sql, running_server

Kind = AuditEvent.Kind

# Rows come from events announced when a transaction commits: tests commit.
pytestmark = pytest.mark.django_db(transaction=True)


def trail() -> list[tuple[str, str]]:
    return list(AuditEvent.objects.order_by("pk").values_list("event", "outcome"))


def test_a_code_login_and_what_follows_are_each_a_row(api, settings):
    settings.PASSWORD_LOCKOUT_THRESHOLD = 2
    code = api.send_code(PHONE)
    tokens = api.login(PHONE, code)
    user = User.objects.get()
    api.set_password(tokens["access"], "a long and fine passphrase")
    for _ in range(2):
        api.post("/accounts/api/token/", {"phone_number": PHONE, "password": "not it"})
    api.post("/accounts/api/token/blacklist/", {"refresh": tokens["refresh"]})

    events = trail()
    for expected in [
        (Kind.CODE_SENT, "ok"),
        (Kind.SIGNED_UP, "ok"),
        (Kind.LOGGED_IN, "ok"),
        (Kind.PASSWORD_SET, "ok"),
        (Kind.LOGIN_FAILED, "INVALID_CREDENTIALS"),
        (Kind.ACCOUNT_LOCKED, "ok"),
        (Kind.SESSION_REVOKED, "logout"),
    ]:
        assert expected in events, (expected, events)
    login = AuditEvent.objects.get(event=Kind.LOGGED_IN)
    assert login.account_id == user.pk
    assert login.phone_number == "+98911****344"
    assert login.client_network == "127.0.0.1"
    assert login.session_id == Session.objects.get(user=user).pk
    assert login.detail == "code"
    failed = AuditEvent.objects.filter(event=Kind.LOGIN_FAILED).first()
    assert failed is not None and failed.phone_number == "+98911****344"
    assert failed.detail == "password"
    # Nothing secret is written: no code, token or password in any column.
    everything = " ".join(str(row) for row in AuditEvent.objects.values_list())
    for secret in (code, tokens["access"], tokens["refresh"], "passphrase", "+989112223344"):
        assert secret not in everything


def test_an_ipv6_client_is_recorded_by_its_64(api):
    api.client.defaults["REMOTE_ADDR"] = "2001:db8:1:2:aaaa:bbbb:cccc:dddd"
    api.post("/accounts/api/token/", {"phone_number": PHONE, "password": "123456"})
    failed = AuditEvent.objects.get(event=Kind.LOGIN_FAILED)
    assert failed.client_network == "2001:db8:1:2::/64"


def test_a_refused_send_is_a_row_with_its_reason(api, settings):
    settings.OTP_SENDS_PER_IP_PER_HOUR = 1
    api.send_code(PHONE)
    refused = api.get("/accounts/api/otp/09123334455/")
    assert refused.status_code == 429
    row = AuditEvent.objects.get(event=Kind.CODE_REFUSED)
    assert row.outcome.startswith("refused")
    assert row.phone_number == "+98912****455"


def test_batched_rows_cost_the_request_no_statement_and_are_written_soon(api, settings):
    settings.AUDIT_FLUSH_SECONDS = 0.2
    code = api.send_code(PHONE)
    with CaptureQueriesContext(connection) as queries:
        api.login(PHONE, code)
    assert not [q for q in queries.captured_queries if "accounts_auditevent" in q["sql"]]
    # The process's writer thread writes them within a flush interval or so.
    deadline = time.monotonic() + 10
    while AuditEvent.objects.filter(event=Kind.LOGGED_IN).count() == 0:
        assert time.monotonic() < deadline, "the batch was never written"
        time.sleep(0.05)
    assert (Kind.SIGNED_UP, "ok") in trail()
    audit.flush()


def test_purge_expired_deletes_events_past_retention(db, settings):
    settings.AUDIT_RETENTION_DAYS = 90
    audit.record(Kind.LOGIN_FAILED, outcome="INVALID_CREDENTIALS")
    old = AuditEvent.objects.create(event=Kind.LOGGED_IN, at=timezone.now() - timedelta(days=91))
    call_command("purge_expired", verbosity=0)
    assert not AuditEvent.objects.filter(pk=old.pk).exists()
    assert trail() == [(Kind.LOGIN_FAILED, "INVALID_CREDENTIALS")]


@pytest.fixture
def staff_client(db):
    staff = User.objects.create_superuser("09350001122", "an admin passphrase 42")
    client = Client()
    client.force_login(staff)
    client.staff = staff  # type: ignore[attr-defined]
    return client


def test_the_admin_reads_filters_and_searches_the_trail_but_cannot_change_it(api, staff_client):
    api.sign_up(PHONE)
    api.post("/accounts/api/token/", {"phone_number": "09123334455", "password": "nope"})
    row = AuditEvent.objects.get(event=Kind.LOGGED_IN)

    listing = staff_client.get("/admin/accounts/auditevent/?event__exact=login_failed")
    assert listing.status_code == 200
    assert "+98912****455" in listing.content.decode()
    assert "+98911****344" not in listing.content.decode()
    found = staff_client.get("/admin/accounts/auditevent/", {"q": "۰۹۱۱ ۲۲۲ ۳۳۴۴"})
    assert found.context["cl"].result_count == 3  # code sent, signed up, logged in

    assert staff_client.get("/admin/accounts/auditevent/add/").status_code == 403
    deleted = staff_client.post(f"/admin/accounts/auditevent/{row.pk}/delete/", {"post": "yes"})
    assert deleted.status_code == 403
    changed = staff_client.post(
        f"/admin/accounts/auditevent/{row.pk}/change/", {"outcome": "edited"}
    )
    assert changed.status_code == 403
    assert AuditEvent.objects.get(pk=row.pk).outcome == "ok"


def test_an_admins_change_is_in_the_trail_with_who_made_it(api, staff_client):
    api.sign_up(PHONE)
    user = User.objects.get(phone_number="+989112223344")
    page = staff_client.get(f"/admin/accounts/user/{user.pk}/change/")
    form = page.context["adminform"].form
    data = {name: value for name, value in form.initial.items() if value is not None}
    data.update(phone_number="+989112223344", is_active="", groups=[], user_permissions=[])
    data["date_joined_0"], data["date_joined_1"] = "2026-01-01", "00:00:00"
    saved = staff_client.post(f"/admin/accounts/user/{user.pk}/change/", data)
    assert saved.status_code == 302, saved.content.decode()[:2000]

    row = AuditEvent.objects.get(event=Kind.ADMIN_ACTION)
    assert row.account_id == staff_client.staff.pk
    assert row.outcome == "changed"
    assert row.detail.startswith(f"changed accounts.user {user.pk}")
    assert row.detail.endswith("(Is active)")
    assert row.client_network == "127.0.0.1"
    # Deactivation ended the account's session: that is in the trail too.
    assert AuditEvent.objects.filter(event=Kind.SESSION_REVOKED, account_id=user.pk).exists()


QUERY = "SELECT event FROM accounts_auditevent ORDER BY id"


@pytest.mark.processes
def test_a_gunicorn_worker_that_stops_writes_the_rows_it_holds(tmp_path):
    """Under gunicorn, rows wait in the worker for its next batch (here, ten minutes
    away); a worker that is stopped writes them as it exits."""
    with running_server(tmp_path, workers=1, AUDIT_FLUSH_SECONDS="600") as server:
        assert server.get(f"/accounts/api/otp/{PHONE}/")[0] == 200
        (code,) = codes_sent(server.sms_dir, "+989112223344")
        answer = server.post("/accounts/api/token/", {"phone_number": PHONE, "password": code})
        assert answer[0] == 200
        server.post("/accounts/api/token/", {"phone_number": PHONE, "password": "wrong!"})
        assert fetch_sql(server.database_url, QUERY) == []  # held for the next batch
        server.stop()  # SIGTERM: the worker exits and writes what it holds
        events = [row[0] for row in fetch_sql(server.database_url, QUERY)]
    assert events == ["code_sent", "signed_up", "logged_in", "login_failed"]
