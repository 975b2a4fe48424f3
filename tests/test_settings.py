"""Unsafe configuration fails loudly instead of running."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.checks import run_checks

ROOT = Path(__file__).resolve().parent.parent


def load_settings(code="import project.settings", **env):
    """Import the settings in a fresh process, with `env` and none of ours set."""
    ours = ("SECRET_KEY", "DEBUG", "OTP_WEBOTP_DOMAIN")
    clean = {k: v for k, v in os.environ.items() if k not in ours}
    clean.update(env)
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=clean,
        capture_output=True,
        text=True,
        check=False,
    )


def test_production_without_secret_key_refuses_to_start():
    result = load_settings(DEBUG="0")
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


def test_short_secret_key_refuses_to_start():
    result = load_settings(DEBUG="0", SECRET_KEY="too-short")
    assert result.returncode != 0
    assert "at least 32 bytes" in result.stderr


def test_debug_runs_with_the_development_key():
    assert load_settings(DEBUG="1").returncode == 0


@pytest.mark.parametrize(
    "template",
    [
        "no code here",
        "{code} and again {code}",
        "Code {code}, ref 123456",
        "{unknown} {code}",
    ],
)
def test_bad_sms_template_fails_the_checks(settings, template):
    settings.SMS_OTP_TEMPLATE = template
    ids = {message.id for message in run_checks()}
    assert ids & {"accounts.E003", "accounts.E004"}


def test_default_settings_pass_the_checks():
    assert [m for m in run_checks() if m.is_serious()] == []


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("OTP_LENGTH", 3),
        ("OTP_MAX_ATTEMPTS", 0),
        ("SMS_MAX_PER_HOUR", 0),
        ("OTP_RESEND_COOLDOWN", 7200),
        ("RATE_LIMIT_STORE", "memory"),
        ("TRUSTED_PROXY_COUNT", -1),
        ("TRUSTED_PROXIES", ["10.0.0.0/8", "not-an-address"]),
        ("IPV6_PREFIX_LENGTH", 16),
        ("SMS_RESERVED_FOR_ACCOUNTS", 1.5),
        ("OTP_RANGE_MIN_VERIFIED", -0.1),
        ("OTP_MAX_SENDS_PER_HOUR_HARD", 2),
        ("SMS_MAX_PER_HOUR_BY_REGION", {"IRAN": 5}),
        ("BOT_CHECK_POLICY", "sometimes"),
        ("BOT_CHECK_BACKEND", "no.such.Backend"),
        ("BOT_CHECK_BACKEND", "turnstile"),  # without a secret and a site key
    ],
)
def test_unsafe_limits_fail_the_checks(settings, name, value):
    setattr(settings, name, value)
    assert any(message.is_serious() for message in run_checks())


def test_a_proxy_count_without_listed_proxies_fails_the_checks(settings):
    """X-Forwarded-For is read only from TRUSTED_PROXIES: a count alone would make every
    client look like the proxy, so start-up says what to list."""
    settings.TRUSTED_PROXY_COUNT = 1
    settings.TRUSTED_PROXIES = []
    assert "accounts.E011" in {m.id for m in run_checks() if m.is_serious()}


def test_listed_proxies_default_to_one_hop():
    result = load_settings(
        "import project.settings as s; print(s.TRUSTED_PROXY_COUNT, s.SECURE_PROXY_SSL_HEADER)",
        DEBUG="1",
        TRUSTED_PROXIES="10.0.0.1,fd00::/8",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[0] == "1"


def test_sqlite_is_set_up_for_several_workers(db):
    from django.db import connection

    if connection.vendor != "sqlite":
        pytest.skip("the PostgreSQL leg has no SQLite pragmas to check")
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA journal_mode")
        assert cursor.fetchone()[0] == "wal"
        cursor.execute("PRAGMA synchronous")
        assert cursor.fetchone()[0] == 1  # NORMAL
    assert connection.transaction_mode == "IMMEDIATE"
    assert connection.settings_dict["OPTIONS"]["timeout"] >= 5


@pytest.mark.parametrize(
    ("hosts", "domain"),
    [
        ("auth.example.com,127.0.0.1", "auth.example.com"),
        ("127.0.0.1,localhost,api.example.ir", "api.example.ir"),
        ("127.0.0.1,localhost", ""),
    ],
)
def test_webotp_domain_defaults_to_the_first_host_name(hosts, domain):
    result = load_settings(
        "import project.settings as s; print(repr(s.OTP_WEBOTP_DOMAIN))",
        DEBUG="1",
        ALLOWED_HOSTS=hosts,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == repr(domain)
