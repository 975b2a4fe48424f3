"""Every path an attacker has ends at a limit: guessing, pumping, lockouts, proxies, logs."""

import json
import logging
from concurrent.futures import ThreadPoolExecutor

import pytest
import time_machine
from django.db import connection
from django.test import Client
from django.utils import timezone

from accounts.codes import sms
from accounts.models import OTPChallenge, User
from tests.conftest import SEND_OTP, TOKEN_AUTH, Api
from tests.helpers import E164, PHONE

STRONG = "correct horse battery staple"


def client_at(ip: str) -> Client:
    return Client(REMOTE_ADDR=ip)


def fake_ip(i: int) -> str:
    return f"127.1.{i // 250}.{i % 250 + 1}"


def report(capsys, line: str) -> None:
    with capsys.disabled():
        print(f"\n[abuse] {line}")


# --- 1. guessing a code ----------------------------------------------------------------


def _wrong_codes(code: str, count: int) -> list[str]:
    return [f"{(int(code) + i) % 1_000_000:06d}" for i in range(1, count + 1)]


def _guess_rest(i, guess):
    return client_at(fake_ip(i)).post(
        "/accounts/api/token/",
        {"phone_number": PHONE, "password": guess},
        content_type="application/json",
    )


def _guess_graphql(i, guess):
    return client_at(fake_ip(i)).post(
        "/graphql",
        {"query": TOKEN_AUTH, "variables": {"phone": PHONE, "password": guess}},
        content_type="application/json",
    )


def _guess_aliases(i, guess):
    fields = " ".join(
        f'g{n}: tokenAuth(phoneNumber: "{PHONE}", password: "{guess}") {{ token }}'
        for n in range(5)
    )
    return client_at(fake_ip(i)).post(
        "/graphql", {"query": f"mutation {{ {fields} }}"}, content_type="application/json"
    )


def _guess_fragments(i, guess):
    login = f'tokenAuth(phoneNumber: "{PHONE}", password: "{guess}") {{ token }}'
    query = (
        "mutation { ...A ...A ...B } "
        f"fragment A on Mutation {{ {login} }} "
        f"fragment B on Mutation {{ b: {login} }}"
    )
    return client_at(fake_ip(i)).post("/graphql", {"query": query}, content_type="application/json")


def _guess_batched(i, guess):
    entry = {"query": TOKEN_AUTH, "variables": {"phone": PHONE, "password": guess}}
    return client_at(fake_ip(i)).post(
        "/graphql", json.dumps([entry] * 5), content_type="application/json"
    )


@pytest.mark.django_db(transaction=True)
def test_a_thousand_wrong_guesses_through_every_path_evaluate_at_most_five(capsys):
    code = Api(Client()).send_code(PHONE)
    paths = [_guess_rest, _guess_graphql, _guess_aliases, _guess_fragments, _guess_batched]
    guesses = _wrong_codes(code, 1000)

    def attempt(i):
        try:
            return paths[i % len(paths)](i, guesses[i]).status_code
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=16) as pool:
        statuses = list(pool.map(attempt, range(1000)))

    evaluated = OTPChallenge.objects.get().attempts
    assert all(status < 500 for status in statuses)
    assert evaluated == 5
    assert (
        Api(Client())
        .post("/accounts/api/token/", {"phone_number": PHONE, "password": code})
        .status_code
        == 401
    )
    assert User.objects.count() == 0
    refused_by_validation = sum(1 for s in statuses if s == 400)
    report(
        capsys,
        f"1000 wrong guesses: {evaluated} evaluated against the code, "
        f"{refused_by_validation} refused before execution (aliases, fragments, batches), "
        f"0 logins",
    )


def test_one_network_gets_five_codes_a_number_and_every_network_ten(api):
    """Without a bot check, each client network has its own share of a number's hour
    (OTP_MAX_SENDS_PER_HOUR), so nobody locks the owner out from elsewhere; the number
    gets at most OTP_MAX_SENDS_PER_HOUR_HARD codes in any sliding hour."""
    attacker, owner = {"REMOTE_ADDR": "198.51.100.7"}, {"REMOTE_ADDR": "203.0.113.9"}
    # A network's share is counted in fixed hours: start at the top of one, so the ten
    # minutes below never cross into the next, whenever the suite runs.
    top_of_the_hour = timezone.now().replace(minute=0, second=0, microsecond=0)
    with time_machine.travel(top_of_the_hour, tick=False) as clock:
        for _ in range(5):
            assert api.get(f"/accounts/api/otp/{PHONE}/", **attacker).status_code == 200
            clock.shift(61)
        refused = api.get(f"/accounts/api/otp/{PHONE}/", **attacker)
        assert refused.status_code == 429 and refused.json()["code"] == "RATE_LIMITED"
        # The owner, on another network, still gets codes.
        for _ in range(5):
            assert api.get(f"/accounts/api/otp/{PHONE}/", **owner).status_code == 200
            clock.shift(61)
        third = {"REMOTE_ADDR": "192.0.2.1"}
        ceiling = api.get(f"/accounts/api/otp/{PHONE}/", **third)
        assert ceiling.status_code == 429
        # The first code of the hour was sent 10 * 61 s ago.
        assert ceiling.json()["retry_after"] == 3600 - 10 * 61
        clock.shift(3600 - 10 * 61)
        assert api.get(f"/accounts/api/otp/{PHONE}/", **third).status_code == 200
    assert len(sms.outbox) == 11


def test_an_hour_of_guessing_one_number_evaluates_at_most_50_guesses(api, capsys, settings):
    settings.LOGIN_FAILURES_PER_IP_PER_HOUR = 10_000
    evaluated = codes = 0
    with time_machine.travel(timezone.now(), tick=False) as clock:
        for _minute in range(60):
            if api.get(f"/accounts/api/otp/{PHONE}/").status_code == 200:
                codes += 1
            real = sms.outbox[-1].body if sms.outbox else ""
            for guess in range(10):
                candidate = f"{guess:06d}"
                if candidate in real:
                    continue
                api.post("/accounts/api/token/", {"phone_number": PHONE, "password": candidate})
            challenge = OTPChallenge.objects.get()
            evaluated += challenge.attempts
            OTPChallenge.objects.filter(pk=challenge.pk).update(attempts=0, used_at=timezone.now())
            clock.shift(60)
    # One network's share is counted in fixed hours, so one client may get a second share
    # when an hour turns; the number's hard ceiling holds over any sliding hour.
    assert codes <= settings.OTP_MAX_SENDS_PER_HOUR_HARD == 10
    assert evaluated <= 5 * settings.OTP_MAX_SENDS_PER_HOUR_HARD
    report(
        capsys, f"one hour against one number: {codes} codes sent, {evaluated} guesses evaluated"
    )


# --- 2. fixed-password guessing --------------------------------------------------------


@pytest.fixture
def with_password(api):
    api.sign_up(PHONE)
    user = User.objects.get()
    user.set_password(STRONG)
    user.save()
    return user


def _password_login(api, password, ip="127.0.0.1"):
    return api.client.post(
        "/accounts/api/token/",
        {"phone_number": PHONE, "password": password},
        content_type="application/json",
        REMOTE_ADDR=ip,
    )


def test_ten_failures_lock_the_account_and_the_lock_hides_the_answer(api, with_password):
    with time_machine.travel(timezone.now(), tick=False) as clock:
        for i in range(10):
            assert _password_login(api, f"wrong {i}", fake_ip(i)).status_code == 401
        locked = _password_login(api, STRONG, fake_ip(20))
        assert locked.status_code == 429
        assert locked.json()["code"] == "RATE_LIMITED"
        assert locked.json()["retry_after"] == 900
        assert _password_login(api, "wrong again", fake_ip(21)).json() == locked.json()
        result = api.gql(TOKEN_AUTH, {"phone": PHONE, "password": STRONG})
        assert result.error_codes == ["RATE_LIMITED"]

        clock.shift(900)
        assert _password_login(api, "wrong 11", fake_ip(22)).status_code == 401
        doubled = _password_login(api, STRONG, fake_ip(23))
        assert doubled.json()["retry_after"] == 1800

        # A one-time code still works while the password is locked, and resets the count.
        assert api.login(PHONE, api.new_code(PHONE))["access"]
        assert _password_login(api, STRONG).status_code == 200


def test_a_success_resets_the_count(api, with_password):
    for i in range(9):
        assert _password_login(api, f"wrong {i}").status_code == 401
    assert _password_login(api, STRONG).status_code == 200
    for i in range(9):
        assert _password_login(api, f"wrong {i}").status_code == 401
    assert _password_login(api, STRONG).status_code == 200


@pytest.mark.django_db(transaction=True)
def test_parallel_password_guesses_cannot_pass_the_lock(capsys):
    api = Api(Client())
    api.sign_up(PHONE)
    user = User.objects.get()
    user.set_password(STRONG)
    user.save()

    def guess(i):
        try:
            return _password_login(Api(Client()), f"wrong {i}", fake_ip(i)).status_code
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=16) as pool:
        statuses = list(pool.map(guess, range(60)))
    assert statuses.count(401) == 10
    assert statuses.count(429) == 50
    report(capsys, f"60 parallel password guesses: {statuses.count(401)} evaluated, 50 locked out")


def test_login_failures_per_ip_are_capped(api, settings):
    settings.LOGIN_FAILURES_PER_IP_PER_HOUR = 5
    for i in range(5):
        phone = f"0935000{i:04d}"
        response = api.post("/accounts/api/token/", {"phone_number": phone, "password": "x"})
        assert response.status_code == 401
    refused = api.post("/accounts/api/token/", {"phone_number": PHONE, "password": "x"})
    assert refused.status_code == 429
    other_ip = api.client.post(
        "/accounts/api/token/",
        {"phone_number": PHONE, "password": "x"},
        content_type="application/json",
        REMOTE_ADDR="127.0.0.9",
    )
    assert other_ip.status_code == 401


# --- 3. sending codes -------------------------------------------------------------------


def test_sends_per_ip_are_capped_with_a_truthful_retry_after(api):
    with time_machine.travel(timezone.now().replace(minute=10, second=0), tick=False):
        for i in range(20):
            assert api.get(f"/accounts/api/otp/0935000{i:04d}/").status_code == 200
        refused = api.get("/accounts/api/otp/09350009999/")
        assert refused.status_code == 429
        assert refused["Retry-After"] == str(50 * 60)
        assert len(sms.outbox) == 20
        elsewhere = client_at("127.0.0.2").get("/accounts/api/otp/09350009999/")
        assert elsewhere.status_code == 200


def test_status_lookups_per_ip_are_capped(api, settings):
    settings.STATUS_LOOKUPS_PER_IP_PER_HOUR = 3
    for _ in range(3):
        assert api.get(f"/accounts/api/status/{PHONE}/").status_code == 404
    assert api.get(f"/accounts/api/status/{PHONE}/").status_code == 429
    result = api.gql('{ userStatus(phoneNumber: "09112223344") { exists } }')
    assert result.error_codes == ["RATE_LIMITED"]


def test_sms_pumping_across_many_numbers_and_ips_stops_at_the_hourly_budget(api, settings, capsys):
    """New numbers may spend the unreserved share of the budget only: pumping from 50
    IPs to 500 new numbers texts 50, and returning users still get the other 50."""
    settings.SMS_MAX_PER_HOUR = 100
    returning = [f"0913000{n:04d}" for n in range(60)]
    User.objects.bulk_create([User(phone_number="+98" + phone[1:]) for phone in returning])
    statuses = []
    for ip in range(50):
        client = client_at(fake_ip(ip))
        for n in range(10):
            phone = f"0912{ip:03d}{n:04d}"
            statuses.append(client.get(f"/accounts/api/otp/{phone}/").status_code)
    assert statuses.count(200) == 50
    assert statuses.count(429) == 450
    assert len(sms.outbox) == 50
    owners = [
        client_at(fake_ip(100 + n // 10)).get(f"/accounts/api/otp/{phone}/").status_code
        for n, phone in enumerate(returning)
    ]
    assert owners == [200] * 50 + [429] * 10  # the whole budget, and not one text more
    live = OTPChallenge.objects.exclude(code_hash="").count()
    assert live == 100  # refused sends leave no live code behind
    report(
        capsys,
        f"pumping 500 new numbers from 50 IPs: 50 SMS sent, 450 refused; "
        f"{owners.count(200)} returning users texted from the reserved share",
    )


def test_sends_refused_before_texting_leave_the_sms_budget_alone(api, settings):
    settings.SMS_MAX_PER_HOUR = 2
    settings.SMS_RESERVED_FOR_ACCOUNTS = 0
    assert api.get("/accounts/api/otp/09120000001/").status_code == 200
    refused = [
        api.get("/accounts/api/otp/09120000001/"),  # the cooldown
        api.get("/accounts/api/otp/02188776655/"),  # a landline
        api.get("/accounts/api/otp/0912/"),  # not a number
    ]
    assert [r.status_code for r in refused] == [429, 400, 400]
    assert refused[0].json()["code"] == "RATE_LIMITED"
    assert api.get("/accounts/api/otp/09120000002/").status_code == 200
    over = api.get("/accounts/api/otp/09120000003/")
    assert over.status_code == 429 and len(sms.outbox) == 2
    # A refusal by the budget itself gives back what it took: the budget stays spent.
    assert api.get("/accounts/api/otp/09120000004/").status_code == 429


# --- 4. client IP -----------------------------------------------------------------------


def test_x_forwarded_for_is_ignored_by_default(api, settings):
    settings.OTP_SENDS_PER_IP_PER_HOUR = 2
    for i in range(2):
        response = api.get(
            f"/accounts/api/otp/0935000{i:04d}/", HTTP_X_FORWARDED_FOR=f"198.51.100.{i}"
        )
        assert response.status_code == 200
    spoofed = api.get("/accounts/api/otp/09350009999/", HTTP_X_FORWARDED_FOR="203.0.113.7")
    assert spoofed.status_code == 429


def test_trusted_proxy_count_picks_the_address_the_proxy_saw(api, settings):
    settings.OTP_SENDS_PER_IP_PER_HOUR = 1
    settings.TRUSTED_PROXIES = ["127.0.0.0/8"]  # the test client's peer
    settings.TRUSTED_PROXY_COUNT = 1
    first = api.get("/accounts/api/otp/09350000001/", HTTP_X_FORWARDED_FOR="1.1.1.1, 198.51.100.1")
    assert first.status_code == 200
    # The client forged the first hop; the proxy's own hop still names the same client.
    again = api.get("/accounts/api/otp/09350000002/", HTTP_X_FORWARDED_FOR="9.9.9.9, 198.51.100.1")
    assert again.status_code == 429
    other = api.get("/accounts/api/otp/09350000003/", HTTP_X_FORWARDED_FOR="198.51.100.2")
    assert other.status_code == 200


def test_x_forwarded_for_from_a_peer_that_is_not_a_listed_proxy_is_ignored(api, settings):
    settings.OTP_SENDS_PER_IP_PER_HOUR = 2
    settings.TRUSTED_PROXIES = ["10.0.0.0/8"]
    settings.TRUSTED_PROXY_COUNT = 1
    for i in range(2):
        forged = {"HTTP_X_FORWARDED_FOR": f"198.51.100.{i}"}
        assert api.get(f"/accounts/api/otp/0935000{i:04d}/", **forged).status_code == 200
    # A new "address" per request from the same socket peer is still the same client.
    forged = {"HTTP_X_FORWARDED_FOR": "203.0.113.7"}
    assert api.get("/accounts/api/otp/09350009999/", **forged).status_code == 429
    # The listed proxy is believed.
    proxied = {"REMOTE_ADDR": "10.1.2.3", "HTTP_X_FORWARDED_FOR": "203.0.113.7"}
    assert api.get("/accounts/api/otp/09350009998/", **proxied).status_code == 200


def test_an_ipv6_line_is_one_client(api, settings):
    """Every address of a /64 is the same client for every per-client limit."""
    settings.OTP_SENDS_PER_IP_PER_HOUR = 3
    settings.STATUS_LOOKUPS_PER_IP_PER_HOUR = 3
    line = [f"2001:db8:1:2::{i:x}" for i in range(1, 41)]
    sent = [
        api.get(f"/accounts/api/otp/0935100{i:04d}/", REMOTE_ADDR=address).status_code
        for i, address in enumerate(line)
    ]
    assert sent == [200] * 3 + [429] * 37
    looked_up = [
        api.get("/accounts/api/status/09351000000/", REMOTE_ADDR=address).status_code
        for address in line[:10]
    ]
    assert looked_up == [404] * 3 + [429] * 7
    # The next /64 is another line; an IPv4 client (mapped or not) counts by its address.
    next_line = {"REMOTE_ADDR": "2001:db8:1:3::1"}
    assert api.get("/accounts/api/otp/09351009999/", **next_line).status_code == 200
    mapped = {"REMOTE_ADDR": "::ffff:192.0.2.1"}
    assert api.get("/accounts/api/otp/09351009998/", **mapped).status_code == 200


def test_a_prefix_length_counts_wider_or_narrower_networks(api, settings):
    settings.OTP_SENDS_PER_IP_PER_HOUR = 1
    settings.IPV6_PREFIX_LENGTH = 48
    assert (
        api.get("/accounts/api/otp/09351000001/", REMOTE_ADDR="2001:db8:1:2::1").status_code == 200
    )
    same_site = {"REMOTE_ADDR": "2001:db8:1:ffff::1"}
    assert api.get("/accounts/api/otp/09351000002/", **same_site).status_code == 429


def test_login_failures_count_an_ipv6_line_once(api, settings):
    settings.LOGIN_FAILURES_PER_IP_PER_HOUR = 2
    codes = [
        api.post(
            "/accounts/api/token/",
            {"phone_number": "09351000001", "password": "wrong-password"},
            REMOTE_ADDR=f"2001:db8:9:9::{i}",
        ).json()["code"]
        for i in range(1, 5)
    ]
    assert codes == ["INVALID_CREDENTIALS"] * 2 + ["RATE_LIMITED"] * 2


# --- 5. GraphQL -------------------------------------------------------------------------


def _codes(api, query):
    return api.gql(query).error_codes


def test_two_sensitive_fields_in_one_document_are_refused(api):
    send = f'sendOtp(phoneNumber: "{PHONE}") {{ sent }}'
    login = f'tokenAuth(phoneNumber: "{PHONE}", password: "1") {{ token }}'
    aliases = f"mutation {{ a: {send} b: {send} }}"
    assert _codes(api, aliases) == ["QUERY_TOO_COMPLEX"]
    inline = f"mutation {{ {send} ... on Mutation {{ x: {login} }} }}"
    assert _codes(api, inline) == ["QUERY_TOO_COMPLEX"]
    two_operations = (
        f'mutation A {{ sendOtp(phoneNumber: "{PHONE}") {{ sent }} }} '
        f'mutation B {{ sendOtp(phoneNumber: "{PHONE}") {{ sent }} }}'
    )
    assert (
        api.client.post(
            "/graphql",
            {"query": two_operations, "operationName": "A"},
            content_type="application/json",
        ).json()["errors"][0]["extensions"]["code"]
        == "QUERY_TOO_COMPLEX"
    )
    assert sms.outbox == []


def test_aliases_are_counted_after_expanding_fragments(api):
    fragment = "fragment F on UserStatus { a: exists b: exists c: hasPassword }"
    spreads = " ".join(f'q{i}: userStatus(phoneNumber: "{PHONE}") {{ ...F }}' for i in range(3))
    # 3 aliased fields, each spreading 3 aliases: 12 aliases, though the text has 6.
    assert _codes(api, f"query {{ {spreads} }} {fragment}") == ["QUERY_TOO_COMPLEX"]
    small = f'query {{ userStatus(phoneNumber: "{PHONE}") {{ ...F }} }} {fragment}'
    assert api.get(f"/accounts/api/otp/{PHONE}/").status_code == 200
    assert _codes(api, small) == []


def test_fragment_fan_out_is_measured_not_executed(api):
    levels = ["fragment F0 on UserStatus { exists hasPassword phoneNumber }"]
    for n in range(1, 12):
        levels.append(f"fragment F{n} on UserStatus {{ ...F{n - 1} ...F{n - 1} }}")
    query = f'query {{ userStatus(phoneNumber: "{PHONE}") {{ ...F11 }} }} ' + " ".join(levels)
    assert _codes(api, query) == ["QUERY_TOO_COMPLEX"]


def test_depth_and_field_caps(api, settings):
    settings.GRAPHQL_MAX_DEPTH = 1
    assert _codes(api, "{ me { phoneNumber } }") == ["QUERY_TOO_COMPLEX"]
    settings.GRAPHQL_MAX_DEPTH = 8
    settings.GRAPHQL_MAX_FIELDS = 3
    assert _codes(api, "{ me { phoneNumber hasPassword dateJoined } }") == ["QUERY_TOO_COMPLEX"]
    assert _codes(api, "{ me { phoneNumber hasPassword } }") == []


def test_standard_validation_still_runs(api):
    assert _codes(api, "{ nope }") == ["GRAPHQL_VALIDATION_FAILED"]
    assert _codes(api, "query { ...F } fragment F on Query { ...F }") == [
        "GRAPHQL_VALIDATION_FAILED"
    ]


def test_batched_requests_are_refused(api):
    entry = {"query": SEND_OTP, "variables": {"phone": PHONE}}
    response = api.client.post(
        "/graphql", json.dumps([entry, entry]), content_type="application/json"
    )
    assert response.status_code == 400
    assert sms.outbox == []


INTROSPECTION = "{ __schema { queryType { name } } }"


def test_introspection_is_off_unless_enabled(api, settings):
    settings.GRAPHQL_INTROSPECTION = False
    assert set(_codes(api, INTROSPECTION)) == {"GRAPHQL_VALIDATION_FAILED"}
    settings.GRAPHQL_INTROSPECTION = True
    assert api.gql(INTROSPECTION).data == {"__schema": {"queryType": {"name": "Query"}}}


def test_graphiql_is_served_only_when_enabled(api, settings):
    settings.GRAPHIQL_ENABLED = False
    page = api.get("/graphql", HTTP_ACCEPT="text/html")
    assert b"graphiql" not in page.content.lower()
    settings.GRAPHIQL_ENABLED = True
    page = api.get("/graphql", HTTP_ACCEPT="text/html")
    assert page.status_code == 200 and b"graphiql" in page.content.lower()


@pytest.mark.parametrize("path", ["/graphql", "/accounts/api/token/"])
def test_oversized_bodies_get_413(api, settings, path):
    body = json.dumps(
        {"query": "{ me { phoneNumber } }", "padding": "x" * settings.MAX_REQUEST_BODY_BYTES}
    )
    response = api.client.post(path, body, content_type="application/json")
    assert response.status_code == 413
    assert "REQUEST_TOO_LARGE" in response.content.decode()


def test_too_many_form_fields_is_a_clean_400(api):
    fields = {f"f{i}": "x" for i in range(200)}
    response = api.post_form("/accounts/api/token/", fields)
    assert response.status_code == 400


# --- 8. logs ----------------------------------------------------------------------------


def test_every_refusal_is_logged_once_with_masked_number_and_ip(api, caplog, with_password):
    caplog.set_level(logging.INFO, logger="accounts")
    code = api.new_code(PHONE)
    caplog.clear()
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    api.client.post(
        "/accounts/api/token/",
        {"phone_number": PHONE, "password": wrong},
        content_type="application/json",
        REMOTE_ADDR="127.0.0.77",
    )
    api.gql(TOKEN_AUTH, {"phone": PHONE, "password": "not the password"})
    api.get(f"/accounts/api/otp/{PHONE}/")  # cooldown
    refusals = [r.getMessage() for r in caplog.records if "refused" in r.getMessage()]
    assert len(refusals) == 3
    assert "wrong one-time password" in refusals[0] and "ip=127.0.0.77" in refusals[0]
    assert "wrong password" in refusals[1]
    assert "cooldown" in refusals[2]
    assert all("+98911****344" in line for line in refusals)
    text = caplog.text
    for secret in (code, wrong, "not the password", STRONG, PHONE, E164):
        assert secret not in text
