"""Webhooks (Standard Webhooks): every event of an account's life reaches a receiver that
checks signatures with the `standardwebhooks` package, written with its change (a
rollback leaves none), delivered by `manage.py db_worker`, retried while the receiver
is down, in order per account, never twice under a new id, and replayable once dead."""

from __future__ import annotations

import base64
import json
import socket
import threading
import time
from collections import Counter, defaultdict
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import jsonschema_rs
import pytest
import time_machine
from django.core.management import call_command
from django.db import transaction
from django.test import Client
from django.utils import timezone
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from accounts.flows.delete_account import erase
from accounts.models import Session, User, WebhookMessage
from accounts.outbound import webhook_delivery
from accounts.sessions import lifecycle
from tests.conftest import last_code
from tests.helpers import OTHER_PHONE, PHONE
from tests.servers import codes_sent, manage, running_server
from tests.test_lifecycle import CHANGE_NUMBER, DELETE_ACCOUNT, NEW_PHONE, REMOVE_PASSWORD

pytestmark = pytest.mark.django_db(transaction=True)

SECRET = "whsec_" + base64.b64encode(b"a webhook signing key, 32 bytes").decode()
SCHEMAS = Path(__file__).resolve().parent.parent / "docs" / "webhooks"
EVENT_TYPES = {
    "user.created",
    "user.deleted",
    "session.revoked",
    "refresh_token.reused",
    "password.changed",
    "password.removed",
    "phone_number.changed",
    "account.locked",
}


class Receiver:
    """An endpoint on 127.0.0.1 that verifies each delivery as a real receiver would
    (the `standardwebhooks` package) and answers 204, or 503 while `down`."""

    def __init__(self) -> None:
        self.down = False
        self.tries: list[str] = []  # the webhook-id of every request, in arrival order
        self.delivered: list[tuple[str, dict]] = []  # (webhook-id, payload) answered 204
        self.refused: list[str] = []  # requests whose signature did not verify
        verifier, receiver = Webhook(SECRET), self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                headers = {name.lower(): value for name, value in self.headers.items()}
                receiver.tries.append(headers.get("webhook-id", ""))
                try:
                    payload = verifier.verify(body, headers)
                except WebhookVerificationError as error:
                    receiver.refused.append(str(error))
                    self.send_response(400)
                else:
                    if receiver.down:
                        self.send_response(503)
                    else:
                        receiver.delivered.append((headers["webhook-id"], payload))
                        self.send_response(204)
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hooks/accounts"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def types(self) -> list[str]:
        return [payload["type"] for _, payload in self.delivered]


@pytest.fixture
def receiver(settings):
    endpoint = Receiver()
    settings.WEBHOOK_ENDPOINTS = [endpoint.url]
    settings.WEBHOOK_SECRET = [SECRET]
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
    yield endpoint
    endpoint.close()


def run_worker() -> None:
    """The background worker, as `manage.py db_worker` runs: every task that is due."""
    call_command("db_worker", "--batch", "--no-startup-delay", "--no-reload", verbosity=0)


def test_every_event_of_an_accounts_life_arrives_signed_and_as_documented(api, receiver, settings):
    settings.PASSWORD_LOCKOUT_THRESHOLD = 2
    settings.JWT_REFRESH_TOKEN_REUSE_GRACE = 0
    first = api.sign_up(PHONE)  # user.created
    user = User.objects.get()
    api.set_password(first["access"], "a long and fine passphrase")  # password.changed
    laptop = api.login(PHONE, "a long and fine passphrase")
    rotated = api.post("/accounts/api/token/refresh/", {"refresh": laptop["refresh"]})
    assert rotated.status_code == 200
    # The old refresh token again: refresh_token.reused, and the session ends.
    replayed = api.post("/accounts/api/token/refresh/", {"refresh": laptop["refresh"]})
    assert replayed.status_code == 401
    for _ in range(2):  # account.locked
        api.post("/accounts/api/token/", {"phone_number": PHONE, "password": "not it at all"})
    removed = api.gql(REMOVE_PASSWORD, {"code": api.new_code(PHONE)}, token=first["access"])
    assert removed.data == {"removePassword": {"removed": True}}, removed.body
    proof = api.new_code(PHONE)
    moved = api.gql(
        CHANGE_NUMBER,
        {"new": NEW_PHONE, "newCode": api.new_code(NEW_PHONE), "code": proof},
        token=first["access"],
    )
    assert moved.data, moved.body
    deleted = api.gql(DELETE_ACCOUNT, {"code": api.new_code(NEW_PHONE)}, token=first["access"])
    assert deleted.data == {"deleteAccount": {"deleted": True}}, deleted.body

    assert receiver.delivered == []  # the worker delivers, not the request
    run_worker()

    assert set(receiver.types()) == EVENT_TYPES
    assert receiver.refused == []
    for message_id, payload in receiver.delivered:
        schema = json.loads((SCHEMAS / f"{payload['type']}.schema.json").read_text())
        jsonschema_rs.validator_for(schema).validate(payload)
        assert payload["data"]["user_id"] == str(user.pk)
        assert message_id.startswith("msg_")
    by_type = {payload["type"]: payload["data"] for _, payload in receiver.delivered}
    assert by_type["user.created"] == {
        "user_id": str(user.pk),
        "phone_number": "+989112223344",
        "method": "code",
    }
    assert by_type["phone_number.changed"]["phone_number"] == "+989125556677"
    assert by_type["phone_number.changed"]["old_phone_number"] == "+98911****344"
    assert by_type["password.changed"]["had_password"] is False
    # In the order they happened: the account's first event first, its deletion last.
    assert receiver.types()[0] == "user.created"
    assert receiver.types()[-1] == "user.deleted"
    # No code, token or password in any body.
    bodies = " ".join(json.dumps(payload) for _, payload in receiver.delivered)
    for secret in (first["access"], first["refresh"], laptop["refresh"], last_code()):
        assert secret not in bodies
    assert "passphrase" not in bodies


def test_a_rolled_back_change_leaves_no_event(receiver):
    user_id = User.objects.create_user(PHONE).pk
    with pytest.raises(RuntimeError), transaction.atomic():
        erase(User.objects.get(pk=user_id))
        raise RuntimeError("something after the deletion failed")
    assert User.objects.filter(pk=user_id).exists()
    assert not WebhookMessage.objects.exists()

    erase(User.objects.get(pk=user_id))
    assert list(WebhookMessage.objects.values_list("event_type", flat=True)) == ["user.deleted"]


def _interleaved_revocations(count: int) -> dict[int, list[str]]:
    """`count` sessions each of two accounts, ended one by one, the accounts taking
    turns; each account's session ids in the order their ends were announced."""
    users = [User.objects.create_user(PHONE), User.objects.create_user(OTHER_PHONE)]
    opened = {
        user.pk: [lifecycle.open_session(user, Session.Method.CODE)[0] for _ in range(count)]
        for user in users
    }
    order: dict[int, list[str]] = defaultdict(list)
    for turn in range(count):
        for user in users:
            session = opened[user.pk][turn]
            lifecycle.end_sessions(Session.objects.filter(pk=session.pk), Session.Reason.ADMIN)
            order[user.pk].append(str(session.pk))
    return order


def test_a_receiver_down_for_hours_gets_every_event_later_in_order(receiver):
    with time_machine.travel(timezone.now(), tick=True) as clock:
        order = _interleaved_revocations(5)
        receiver.down = True
        run_worker()
        # Only each account's oldest event is tried: the rest wait behind it.
        assert len(receiver.tries) == 2
        for _ in range(12):  # retries, backing off, over about three hours
            clock.shift(timedelta(minutes=15))
            run_worker()
        assert WebhookMessage.objects.filter(status="pending").count() == 10
        receiver.down = False
        clock.shift(timedelta(hours=1, minutes=1))
        run_worker()

    assert WebhookMessage.objects.filter(status="delivered").count() == 10
    received: dict[int, list[str]] = defaultdict(list)
    for _, payload in receiver.delivered:
        received[int(payload["data"]["user_id"])].append(payload["data"]["session_id"])
    assert received == order
    # Each event arrived once, under the id its failed tries carried.
    ids = [message_id for message_id, _ in receiver.delivered]
    assert len(set(ids)) == 10
    assert set(receiver.tries) == set(ids)
    first = WebhookMessage.objects.order_by("pk").first()
    assert first is not None and first.attempts > 5


def test_a_dead_letter_is_sent_again_from_the_admin_with_its_own_id(receiver):
    staff = User.objects.create_superuser("09350001122", "an admin passphrase 42")
    with time_machine.travel(timezone.now(), tick=True) as clock:
        user = User.objects.create_user(PHONE)
        erase(user)
        receiver.down = True
        run_worker()
        for _ in range(30):  # a day and more of backed-off retries
            clock.shift(timedelta(hours=1))
            run_worker()
    message = WebhookMessage.objects.get()
    assert message.status == WebhookMessage.Status.DEAD
    assert message.attempts > 10
    assert receiver.delivered == []

    receiver.down = False
    admin = Client()
    admin.force_login(staff)
    page = admin.get("/admin/accounts/webhookmessage/?status__exact=dead")
    assert message.message_id in page.content.decode()
    replayed = admin.post(
        "/admin/accounts/webhookmessage/",
        {"action": "replay", "_selected_action": [message.pk]},
        follow=True,
    )
    assert "Queued 1 delivery(ies) again." in replayed.content.decode()
    run_worker()

    assert [(mid, p["type"]) for mid, p in receiver.delivered] == [
        (message.message_id, "user.deleted")
    ]
    assert WebhookMessage.objects.get().status == WebhookMessage.Status.DELIVERED


def test_a_burst_of_a_thousand_events_is_all_delivered(receiver):
    users = [User.objects.create_user(f"+98912{index:07d}") for index in range(100)]
    Session.objects.bulk_create(
        Session(user=user, method=Session.Method.CODE, expires_at=timezone.now() + timedelta(1))
        for user in users
        for _ in range(10)
    )
    assert lifecycle.end_sessions(Session.objects.all(), Session.Reason.ADMIN) == 1000
    assert WebhookMessage.objects.count() == 1000

    run_worker()

    assert receiver.refused == []
    ids = Counter(message_id for message_id, _ in receiver.delivered)
    assert len(ids) == 1000 and max(ids.values()) == 1
    assert set(ids) == set(WebhookMessage.objects.values_list("message_id", flat=True))
    assert not WebhookMessage.objects.exclude(status="delivered").exists()


def test_retries_back_off_for_at_least_a_day_by_default():
    tries = webhook_delivery.schedule()
    gaps = [later - earlier for earlier, later in zip(tries, tries[1:], strict=False)]
    assert tries[0] == timedelta(0)
    assert tries[-1] >= timedelta(hours=24)
    assert gaps[0] == timedelta(seconds=5)
    assert all(b == min(2 * a, timedelta(hours=1)) for a, b in zip(gaps, gaps[1:], strict=False))


def test_no_outbox_and_no_queue_while_webhooks_are_off(api):
    api.sign_up(PHONE)
    assert not WebhookMessage.objects.exists()


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"WEBHOOK_SECRET": []}, "WEBHOOK_SECRET must be set"),
        ({"WEBHOOK_SECRET": ["not-a-secret"]}, "each secret is whsec_"),
        ({"WEBHOOK_ENDPOINTS": ["ftp://example.com/"]}, "is not an http(s) URL"),
        ({"WEBHOOK_MAX_RETRY_DELAY": 1}, "WEBHOOK_MAX_RETRY_DELAY must be at least"),
    ],
)
def test_webhook_settings_that_cannot_work_stop_start_up(settings, overrides, message):
    from project.checks import check_webhooks

    settings.WEBHOOK_ENDPOINTS = ["https://hooks.example.com/accounts"]
    settings.WEBHOOK_SECRET = [SECRET]
    for name, value in overrides.items():
        setattr(settings, name, value)
    problems = check_webhooks(None)
    assert [problem.id for problem in problems] == ["accounts.E015"]
    assert message in problems[0].msg


@pytest.mark.processes
def test_gunicorn_writes_and_a_db_worker_process_delivers(tmp_path):
    """In production's shape: gunicorn writes the event with the sign-up; `manage.py
    db_worker`, a process of its own, delivers it."""
    endpoint = Receiver()
    try:
        with running_server(
            tmp_path, WEBHOOK_ENDPOINTS=endpoint.url, WEBHOOK_SECRET=SECRET
        ) as server:
            assert server.get(f"/accounts/api/otp/{PHONE}/")[0] == 200
            (code,) = codes_sent(server.sms_dir, "+989112223344")
            login = server.post("/accounts/api/token/", {"phone_number": PHONE, "password": code})
            assert login[0] == 200
            assert endpoint.delivered == []
            manage(server.env, "db_worker", "--batch", "--no-startup-delay", "--no-reload")
    finally:
        endpoint.close()
    assert endpoint.refused == []
    assert endpoint.types() == ["user.created"]
    assert endpoint.delivered[0][1]["data"]["phone_number"] == "+989112223344"


class Dribbler:
    """A receiver that reads the request, then answers one byte every half second: each
    byte comes well within any read timeout, the whole answer only after minutes."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}/hooks/accounts"
        self.stopped = threading.Event()
        self.accepted = 0  # connections taken
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while not self.stopped.is_set():
            try:
                connection, _ = self.listener.accept()
            except OSError:
                return
            self.accepted += 1
            with connection:
                connection.recv(65536)
                for byte in b"HTTP/1.1 204 No Content\r\nX-Slow: " + b"x" * 500:
                    if self.stopped.wait(0.5):
                        return
                    try:
                        connection.sendall(bytes([byte]))
                    except OSError:
                        break  # the service hung up: serve the next try

    def close(self) -> None:
        self.stopped.set()
        self.listener.close()


def test_a_receiver_that_answers_a_byte_at_a_time_is_cut_off_at_the_deadline(api, settings):
    endpoint = Dribbler()
    settings.WEBHOOK_ENDPOINTS = [endpoint.url]
    settings.WEBHOOK_SECRET = [SECRET]
    settings.WEBHOOK_TIMEOUT = 1  # each byte comes within it; the answer would take minutes
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
    try:
        api.sign_up(PHONE)
        started = time.monotonic()
        run = webhook_delivery.deliver_due()
        took = time.monotonic() - started
    finally:
        endpoint.close()
    assert (run.delivered, run.failed) == (0, 1)
    message = WebhookMessage.objects.get()
    assert (message.status, message.last_result) == ("pending", "deadline passed")
    assert took < 30  # cut off at its deadline, not after the receiver's minutes
