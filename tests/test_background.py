"""SMS_SEND_IN_BACKGROUND: sendOtp answers at once and a worker texts the code. Only the
number is queued (the worker makes the code), and a failed send frees the cooldown."""

import json
from datetime import datetime
from io import StringIO

import pytest
from django.core.management import call_command
from django_tasks_db.models import DBTaskResult

from accounts.codes import sms
from accounts.models import OTPChallenge
from tests.conftest import last_code

# The worker takes its own transactions, as it does in production: no test transaction.
from tests.helpers import PHONE

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def background(settings):
    settings.SMS_SEND_IN_BACKGROUND = True
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}


def run_worker():
    call_command("db_worker", batch=True, stdout=StringIO(), stderr=StringIO())


def test_the_request_only_queues_and_the_worker_texts_the_code(api, background):
    response = api.get(f"/accounts/api/otp/{PHONE}/", HTTP_ACCEPT_LANGUAGE="fa")
    assert response.status_code == 200
    assert sms.outbox == []
    assert OTPChallenge.objects.get().code_hash == ""  # no code exists yet
    [queued] = DBTaskResult.objects.all()
    number, reserved_at, language = queued.args_kwargs["args"]
    assert (number, language, queued.args_kwargs["kwargs"]) == ("+989112223344", "fa", {})
    assert datetime.fromisoformat(reserved_at)

    run_worker()
    assert len(sms.outbox) == 1
    assert "کد ورود" in sms.outbox[0].body  # the request's language
    code = last_code()
    done = DBTaskResult.objects.get()
    assert done.status == "SUCCESSFUL"
    assert code not in json.dumps(list(DBTaskResult.objects.values()), default=str)
    assert api.login(PHONE, code)["created"] is True


def test_the_cooldown_still_answers_at_once(api, background):
    assert api.get(f"/accounts/api/otp/{PHONE}/").status_code == 200
    assert api.get(f"/accounts/api/otp/{PHONE}/").status_code == 429
    assert DBTaskResult.objects.count() == 1


def test_a_failed_background_send_is_recorded_and_frees_the_cooldown(api, background, settings):
    settings.SMS_BACKEND = "tests.test_otp.ExplodingBackend"
    assert api.get(f"/accounts/api/otp/{PHONE}/").status_code == 200
    run_worker()
    assert DBTaskResult.objects.get().status == "FAILED"  # visible in the admin
    settings.SMS_BACKEND = "locmem"
    assert api.get(f"/accounts/api/otp/{PHONE}/").status_code == 200
    run_worker()
    assert api.login(PHONE, last_code())["access"]


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
