"""SMS_SEND_IN_BACKGROUND: sendOtp answers once the send is queued on the number's own
row, and `manage.py deliver_codes` texts it, several at once. Only the number waits (the
worker makes the code); a failed send, or one that waited past its code's lifetime, frees
the cooldown; how long the oldest send has waited is on /readyz and /metrics."""

import threading
from datetime import timedelta
from io import StringIO

import pytest
import time_machine
from django.core.management import call_command
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from accounts.codes import sms
from accounts.codes.courier import Courier
from accounts.codes.sms.backends.base import BaseSMSBackend
from accounts.models import OTPChallenge
from accounts.sql import code_queue
from tests.conftest import last_code
from tests.helpers import OTHER_PHONE, PHONE

# The worker takes its own transactions, as it does in production: no test transaction.
pytestmark = pytest.mark.django_db(transaction=True)
NUMBERS = ["09120000011", "09120000012", "09120000013", "09120000014"]


@pytest.fixture
def background(settings):
    settings.SMS_SEND_IN_BACKGROUND = True


def deliver():
    call_command("deliver_codes", "--batch", stdout=StringIO(), stderr=StringIO())


def send(api, number: str, **extra) -> int:
    return api.get(f"/accounts/api/otp/{number}/", **extra).status_code


def test_the_request_only_queues_and_the_worker_texts_the_code(api, background):
    assert send(api, PHONE, HTTP_ACCEPT_LANGUAGE="fa") == 200
    assert sms.outbox == []
    row = OTPChallenge.objects.get()
    assert (row.code_hash, row.queued, row.language) == ("", True, "fa")  # no code yet

    deliver()
    assert len(sms.outbox) == 1
    assert "کد ورود" in sms.outbox[0].body  # the request's language
    row.refresh_from_db()
    assert (row.queued, row.claimed_until) == (False, None)
    assert api.login(PHONE, last_code())["created"] is True
    assert DBTaskResult.objects.count() == 0  # nothing goes through django-tasks


def test_the_cooldown_still_answers_at_once(api, background):
    assert send(api, PHONE) == 200
    assert send(api, PHONE) == 429
    assert OTPChallenge.objects.filter(queued=True).count() == 1


def test_a_failed_background_send_frees_the_cooldown(api, background, settings):
    settings.SMS_BACKEND = "tests.test_otp.ExplodingBackend"
    assert send(api, PHONE) == 200
    deliver()
    row = OTPChallenge.objects.get()
    assert (row.queued, row.sent_at, row.code_hash) == (False, None, "")
    settings.SMS_BACKEND = "locmem"
    assert send(api, PHONE) == 200
    deliver()
    assert api.login(PHONE, last_code())["access"]


class MeetingBackend(BaseSMSBackend):
    """Every message waits until four are being sent at once."""

    meeting = threading.Barrier(len(NUMBERS))

    def send(self, message):
        self.meeting.wait(timeout=30)
        sms.outbox.append(message)


def test_the_worker_texts_as_many_at_once_as_its_concurrency(api, background, settings):
    settings.SMS_BACKEND = "tests.test_background.MeetingBackend"
    MeetingBackend.meeting.reset()
    for number in NUMBERS:
        assert send(api, number) == 200
    Courier(len(NUMBERS)).run(batch=True)  # one at a time, the first would wait forever
    assert sorted(message.to for message in sms.outbox) == [
        "+98912000001" + digit for digit in "1234"
    ]
    assert not OTPChallenge.objects.filter(queued=True).exists()


def test_a_send_that_waited_past_its_code_s_life_is_not_texted(api, background, settings):
    assert send(api, PHONE) == 200
    with time_machine.travel(timezone.now() + timedelta(seconds=settings.OTP_TTL + 1)):
        deliver()
        assert sms.outbox == []
        assert send(api, PHONE) == 200  # the late send charged no cooldown
    deliver()
    assert api.login(PHONE, last_code())["access"]


def test_sends_a_dead_worker_held_are_texted_when_its_lease_ends(api, background):
    assert send(api, PHONE) == 200
    now = timezone.now()
    [held] = code_queue.claim(10, now=now, lease=now + timedelta(seconds=60))
    deliver()
    assert sms.outbox == []  # still held
    with time_machine.travel(now + timedelta(seconds=61)):
        deliver()
    assert len(sms.outbox) == 1
    assert api.login(PHONE, last_code())["access"]


def test_a_newer_send_replaces_a_held_one(api, background, settings):
    settings.OTP_RESEND_COOLDOWN = 0
    assert send(api, PHONE) == 200
    now = timezone.now()
    [held] = code_queue.claim(10, now=now, lease=now + timedelta(seconds=60))
    assert send(api, PHONE) == 200  # the number's newer send: queued afresh
    assert code_queue.make_codes({held.id: "0" * 64}, lease=held.lease, expires_at=now) == set()
    deliver()
    assert len(sms.outbox) == 1
    assert api.login(PHONE, last_code())["access"]


def test_readyz_and_metrics_say_how_long_sends_wait(api, background, settings):
    settings.SMS_DELIVERY_MAX_WAIT = 5
    settings.METRICS_ENABLED = True
    assert api.get("/readyz").status_code == 200
    assert send(api, PHONE) == 200
    assert send(api, OTHER_PHONE) == 200
    with time_machine.travel(timezone.now() + timedelta(seconds=6)):
        late = api.get("/readyz")
        assert late.status_code == 503
        assert late.json()["failing"] == ["sms_queue"]
        scraped = api.get("/metrics").content.decode()
        [line] = [line for line in scraped.splitlines() if line.startswith("accounts_sms_queue")]
        assert float(line.split()[1]) >= 6
        deliver()
        assert api.get("/readyz").status_code == 200
        scraped = api.get("/metrics").content.decode()
        assert "accounts_sms_queue_oldest_seconds 0.0" in scraped


def test_work_queued_before_the_upgrade_runs_after_it(background):
    """Migration 0007 points work queued under the tasks' old paths at their new homes, so
    a code queued before an upgrade is still texted by the new worker."""
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    executor = MigrationExecutor(connection)
    executor.migrate([("accounts", "0006_outbox_and_audit_trail")])
    try:
        DBTaskResult.objects.create(
            task_path="accounts.webhook_delivery.deliver",
            args_kwargs={"args": [], "kwargs": {}},
            priority=0,
            queue_name="default",
            backend_name="default",
            run_after=None,
        )
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())
    queued = DBTaskResult.objects.get()
    assert queued.task_path == "accounts.outbound.webhook_delivery.deliver"
    assert queued.task.func.__module__ == "accounts.outbound.webhook_delivery"
