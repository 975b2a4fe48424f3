"""The status cache across processes: a status cached by one server follows every change
made through another server or by an operator, because every change marks the entry.
A row written behind the service's back shows that the answers do come from the cache."""

from __future__ import annotations

import pytest
import redis as redis_py

from tests.servers import OwnRedis, codes_sent, execute_sql, manage, running_servers

PHONE, E164 = "09112223366", "+989112223366"
pytestmark = pytest.mark.processes


STATUS = f"/accounts/api/status/{PHONE}/"
SET_PASSWORD = """
mutation($p: String!, $code: String) { setPassword(password: $p, code: $code) { success } }
"""


def cached_entries(url: str) -> list[bytes]:
    client = redis_py.Redis.from_url(url)
    return [client.get(key) for key in client.keys("status:*")]


def test_a_status_cached_on_one_server_follows_changes_made_elsewhere(tmp_path):
    own_redis = OwnRedis()
    try:
        with running_servers(
            tmp_path,
            count=2,
            REDIS_URL=own_redis.url,
            STATUS_CACHE_SECONDS="3600",  # long enough that staleness would show
            OTP_RESEND_COOLDOWN="0",
        ) as (a, b):
            database_url, env = a.database_url, a.env
            # No account: the answer is cached (the number itself is not in Redis).
            assert a.get(STATUS)[0] == 404
            assert cached_entries(own_redis.url) == [b"0"]
            assert a.get(STATUS)[0] == 404
            assert not any(
                E164.encode() in key for key in redis_py.Redis.from_url(own_redis.url).keys("*")
            )

            # A row written behind the service's back is not seen while the entry
            # lives: the answers come from the cache, on every server.
            account = (
                "INSERT INTO accounts_user (phone_number, password, is_superuser, "
                "is_active, is_staff, date_joined, failed_logins) "
                "VALUES (%s, '!', false, true, false, CURRENT_TIMESTAMP, 0)"
            )
            execute_sql(database_url, account, (E164,))
            assert a.get(STATUS)[0] == 404
            assert b.get(STATUS)[0] == 404
            execute_sql(database_url, "DELETE FROM accounts_user WHERE phone_number = %s", (E164,))

            # Sign-up through the other server.
            assert b.get(f"/accounts/api/otp/{PHONE}/")[0] == 200
            code = codes_sent(tmp_path / "sms", E164)[-1]
            status, tokens, _ = b.post(
                "/accounts/api/token/", {"phone_number": PHONE, "password": code}
            )
            assert status == 200 and tokens["created"] is True
            assert a.get(STATUS)[:2] == (200, {"password": False})
            assert a.get(STATUS)[:2] == (200, {"password": False})

            # setPassword through the other server, with a fresh code as its proof.
            assert b.get(f"/accounts/api/otp/{PHONE}/")[0] == 200
            proof = codes_sent(tmp_path / "sms", E164)[-1]
            variables = {"p": "a long and fine passphrase", "code": proof}
            status, body, _ = b.post(
                "/graphql",
                {"query": SET_PASSWORD, "variables": variables},
                headers={"Authorization": f"JWT {tokens['access']}"},
            )
            assert status == 200 and body["data"]["setPassword"]["success"] is True
            assert a.get(STATUS)[:2] == (200, {"password": True})

            # An operator deactivates, then deletes the account, from a third process.
            manage(
                env,
                "shell",
                "-c",
                "from accounts.models import User; "
                f"u = User.objects.get(phone_number='{E164}'); u.is_active = False; u.save()",
            )
            # A deactivated account still exists (its logins are refused).
            assert a.get(STATUS)[:2] == (200, {"password": True})
            manage(
                env,
                "shell",
                "-c",
                f"from accounts.models import User; User.objects.filter(phone_number='{E164}')"
                ".delete()",
            )
            assert a.get(STATUS)[0] == 404

    finally:
        own_redis.stop()
