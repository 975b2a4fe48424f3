"""The I/O floor: each case's unavoidable round trips, with raw drivers and nothing else.

A bare Django app (no middleware, no ORM) on the service's own database and Redis,
answering the same URLs in the same shapes. Per request it does only this:

- status: one pipelined Redis INCR+EXPIRE (the per-IP counter), one indexed SELECT;
- verify: decode and check one HS256 JWT;
- me: decode the JWT, one indexed SELECT;
- refresh: one UPDATE ... RETURNING of the session row (autocommit), one JWT encode;
- send: one pipelined Redis round trip (per-IP and global counters), one
  INSERT ... ON CONFLICT DO UPDATE ... RETURNING, one HMAC;
- code login: one Redis round trip, one statement that consumes the code and upserts
  the user and the session, one JWT encode.

What no real service can go below on this machine, next to the constant-JSON floor.
"""

import json
import os
import secrets
import time
import uuid

import jwt
import psycopg
import redis
from django.conf import settings
from django.core.wsgi import get_wsgi_application
from django.http import JsonResponse
from django.urls import path, re_path
from django.utils.crypto import salted_hmac

settings.configure(
    DEBUG=False,
    SECRET_KEY=os.environ["SECRET_KEY"],
    ALLOWED_HOSTS=["*"],
    ROOT_URLCONF=__name__,
    MIDDLEWARE=[],
    INSTALLED_APPS=[],
    USE_TZ=True,
)
KEY = os.environ["SECRET_KEY"]
_db, _redis = None, None


def db():
    global _db
    if _db is None:  # one connection per worker, made after gunicorn forks
        _db = psycopg.connect(os.environ["DATABASE_URL"], autocommit=True)
    return _db


def cache():
    global _redis
    if _redis is None:
        _redis = redis.Redis.from_url(os.environ["REDIS_URL"])
    return _redis


def count(*keys):
    pipeline = cache().pipeline(transaction=False)
    for key in keys:
        pipeline.incr(key)
        pipeline.expire(key, 3600)
    pipeline.execute()


def e164(number):  # the cases send Iranian numbers, national or already E.164
    return number if number.startswith("+") else "+98" + number[1:]


def access_token(user_id, phone, session_id):
    now = int(time.time())
    claims = {"sub": str(user_id), "phoneNumber": phone, "sid": session_id, "iat": now}
    return jwt.encode({**claims, "exp": now + 300, "jti": secrets.token_hex(16)}, KEY, "HS256")


def claims(token):
    return jwt.decode(token, KEY, algorithms=["HS256"])


def status_of(number):
    count("rl:status:127.0.0.1")
    row = (
        db()
        .execute("SELECT password FROM accounts_user WHERE phone_number = %s", [e164(number)])
        .fetchone()
    )
    return row is not None, row is not None and not row[0].startswith("!")


def status(request, phone_number):
    exists, has_password = status_of(phone_number)
    if not exists:
        return JsonResponse({"detail": "No account.", "code": "NOT_FOUND"}, status=404)
    return JsonResponse({"password": has_password})


def verify(request):
    claims(json.loads(request.body)["token"])
    return JsonResponse({})


def refresh(request):
    session_id, generation, _ = json.loads(request.body)["refresh"].split(".")
    user_id, _expires = (
        db()
        .execute(
            "UPDATE accounts_session SET generation = generation + 1, last_refreshed_at = now() "
            "WHERE id = %s AND generation = %s AND revoked_at IS NULL AND expires_at > now() "
            "RETURNING user_id, expires_at",
            [uuid.UUID(session_id), int(generation)],
        )
        .fetchone()
    )
    new = f"{session_id}.{int(generation) + 1}.{'0' * 43}"
    return JsonResponse({"access": access_token(user_id, "", session_id), "refresh": new})


def send(request, phone_number):
    count("rl:send:127.0.0.1", "rl:sms:all")
    phone, code = e164(phone_number), f"{secrets.randbelow(10**6):06d}"
    digest = salted_hmac("accounts.otp.code", f"{phone}:{code}", algorithm="sha256").hexdigest()
    db().execute(
        "INSERT INTO accounts_otpchallenge (phone_number, code_hash, sent_at, expires_at, "
        "attempts, recent_sends) VALUES (%s, %s, now(), now() + interval '2 minutes', 0, '[]') "
        "ON CONFLICT (phone_number) DO UPDATE SET code_hash = EXCLUDED.code_hash, "
        "sent_at = now(), expires_at = EXCLUDED.expires_at, attempts = 0, used_at = NULL "
        "RETURNING id",
        [phone, digest],
    ).fetchone()
    return JsonResponse({"details": "otp sent", "expires_in": 120, "retry_after": 60})


LOGIN = """
WITH used AS (
  UPDATE accounts_otpchallenge SET used_at = now()
  WHERE phone_number = %(phone)s AND code_hash = %(digest)s AND used_at IS NULL
    AND expires_at > now() AND attempts < 5
  RETURNING phone_number
), account AS (
  INSERT INTO accounts_user (phone_number, password, last_login, is_superuser, is_active,
    is_staff, date_joined, failed_logins)
  SELECT phone_number, '!', now(), false, true, false, now(), 0 FROM used
  ON CONFLICT (phone_number) DO UPDATE SET last_login = now(), failed_logins = 0
  RETURNING id, xmax = 0 AS created
)
INSERT INTO accounts_session (id, user_id, method, created_at, expires_at, generation,
  user_agent, client_ip, revoked_reason)
SELECT %(session)s, id, 'code', now(), now() + interval '30 days', 1, '', '', '' FROM account
RETURNING user_id, (SELECT created FROM account)
"""


def login(request):
    body = json.loads(request.body)
    phone, code = e164(body["phone_number"]), body["password"]
    count("rl:login-fail:127.0.0.1")
    digest = salted_hmac("accounts.otp.code", f"{phone}:{code}", algorithm="sha256").hexdigest()
    session = uuid.uuid4()
    row = db().execute(LOGIN, {"phone": phone, "digest": digest, "session": session}).fetchone()
    if row is None:
        return JsonResponse({"detail": "No.", "code": "INVALID_CREDENTIALS"}, status=401)
    access = access_token(row[0], phone, str(session))
    return JsonResponse(
        {"refresh": f"{session.hex}.1.{'0' * 43}", "access": access, "created": row[1]}
    )


def graphql(request):
    body = json.loads(request.body)
    query, variables = body["query"], body.get("variables") or {}
    if "userStatus" in query:
        exists, has_password = status_of(variables["p"])
        data = {"userStatus": {"exists": exists, "hasPassword": has_password}}
    elif "verifyToken" in query:
        payload = claims(variables["t"])
        data = {"verifyToken": {"payload": {"sub": payload["sub"], "exp": payload["exp"]}}}
    else:  # me
        user_id = claims(request.headers["Authorization"].split()[1])["sub"]
        phone, joined, last = (
            db()
            .execute(
                "SELECT phone_number, date_joined, last_login FROM accounts_user "
                "WHERE id = %s AND is_active",
                [int(user_id)],
            )
            .fetchone()
        )
        data = {
            "me": {
                "phoneNumber": phone,
                "hasPassword": False,
                "dateJoined": joined.isoformat(),
                "lastLogin": last and last.isoformat(),
            }
        }
    return JsonResponse({"data": data})


urlpatterns = [
    re_path(r"^accounts/api/status/(?P<phone_number>[^/]+)/?$", status),
    re_path(r"^accounts/api/otp/(?P<phone_number>[^/]+)/?$", send),
    re_path(r"^accounts/api/token/?$", login),
    re_path(r"^accounts/api/token/refresh/?$", refresh),
    re_path(r"^accounts/api/token/verify/?$", verify),
    path("graphql", graphql),
    path("livez", lambda request: JsonResponse({"status": "ok"})),
]

application = get_wsgi_application()
