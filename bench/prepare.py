"""Makes the data one benchmark case needs, inside the service's own settings.

Run as `python -m bench.prepare KIND COUNT OUT [ARG]` with the service's environment
(the same DATABASE_URL, REDIS_URL and SECRET_KEY as the server under test); writes one
request's data per line to OUT.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path


def main(kind: str, count: int, out: Path, arg: str = "") -> None:
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")
    django.setup()
    from django.conf import settings
    from django.contrib.auth.hashers import make_password
    from django.utils import timezone
    from graphql_jwt.settings import jwt_settings

    from accounts.flows.send_code import send_otp
    from accounts.models import Session, User
    from accounts.sessions import lifecycle

    lines: list[str] = []
    if kind == "user":  # one account, created if missing
        User.objects.get_or_create(phone_number=arg, defaults={"password": make_password(None)})
    elif kind == "access":  # an access token of that account
        user = User.objects.get(phone_number=arg)
        session, _ = lifecycle.open_session(user, Session.Method.CODE)
        payload = jwt_settings.JWT_PAYLOAD_HANDLER(user, session_id=str(session.pk))
        lines.append(jwt_settings.JWT_ENCODE_HANDLER(payload))
    elif kind == "refresh":  # COUNT sessions of that account, each with its refresh token
        phone, _, rotations = arg.partition(":")  # optionally rotated that often already
        user = User.objects.get(phone_number=phone)
        expires_at = timezone.now() + jwt_settings.JWT_REFRESH_EXPIRATION_DELTA
        created = Session.objects.bulk_create(
            Session(
                user=user,
                method=Session.Method.CODE,
                expires_at=expires_at,
                generation=1 + int(rotations or 0),
            )
            for _ in range(count)
        )
        lines.extend(lifecycle.refresh_token(session.pk, session.generation) for session in created)
    elif kind == "accounts":  # COUNT accounts without a password, numbers ARG+i
        start = int(arg)
        User.objects.bulk_create(
            (
                User(phone_number=f"+98{n}", password=make_password(None))
                for n in range(start, start + count)
            ),
            ignore_conflicts=True,
            batch_size=5000,
        )
    elif kind == "codes":  # COUNT codes texted through the file backend to numbers ARG+i
        start = int(arg)
        folder = Path(settings.SMS_FILE_PATH)
        for n in range(start, start + count):
            send_otp(phone_number=f"0{n}", client_ip="127.0.0.1")
        for message in sorted(folder.glob("*.txt")):
            to, _, body = message.read_text(encoding="utf-8").partition("\n\n")
            code = next(word for word in body.split() if word.isdigit() and len(word) == 6)
            lines.append(f"{to.removeprefix('To: ')} {code}")
            message.unlink()
    elif kind == "password":  # the account ARG, its password hashed by PASSWORD_HASHER
        user, _ = User.objects.get_or_create(phone_number=arg)
        user.set_password("correct horse battery staple")
        user.save()
    else:
        raise SystemExit(f"unknown kind {kind}")
    out.write_text("\n".join(lines) + ("\n" if lines else ""), encoding="utf-8")


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), Path(sys.argv[3]), *sys.argv[4:])
