"""Bulk-create users and expired code challenges, to load-test a full database."""

from datetime import timedelta

from django.contrib.auth.hashers import make_password
from django.core.management.base import BaseCommand
from django.db import connection, transaction
from django.utils import timezone

from accounts.models import OTPChallenge, User

USERS_FROM = 989120000000  # +98912 000 0000 onwards
CODES_FROM = 989350000000  # +98935 000 0000 onwards


class Command(BaseCommand):
    help = (
        "Bulk-create users (+98912…, no password) and expired code challenges (+98935…) "
        "for load tests. Rows that already exist are skipped, so it can be run again."
    )

    def add_arguments(self, parser):
        parser.add_argument("--users", type=int, default=0)
        parser.add_argument("--expired-codes", type=int, default=0)

    def handle(self, *args, users, expired_codes, **options):
        # One INSERT … SELECT over a generated sequence per table: a million rows take
        # seconds, where building a million model instances would take minutes.
        joined = timezone.now() - timedelta(days=30)
        expired = timezone.now() - timedelta(days=2)
        with transaction.atomic():
            self._insert(
                User,
                users,
                USERS_FROM,
                {
                    "password": make_password(None),
                    "is_superuser": False,
                    "is_staff": False,
                    "is_active": True,
                    "date_joined": joined,
                    "failed_logins": 0,
                },
            )
            self._insert(
                OTPChallenge,
                expired_codes,
                CODES_FROM,
                {
                    "code_hash": "",
                    "sent_at": expired,
                    "expires_at": expired,
                    "attempts": 0,
                    "recent_sends": "[]",
                },
            )
        self.stdout.write(f"Seeded {users} user(s) and {expired_codes} expired code challenge(s).")

    def _insert(self, model, count, first_number, constants):
        if count <= 0:
            return
        quote = connection.ops.quote_name
        columns = [quote("phone_number"), *(quote(name) for name in constants)]
        values = ["'+' || CAST(%s + n AS TEXT)", *("%s" for _ in constants)]
        # Only quoted identifiers of our own models go into the text; values are parameters.
        table = quote(model._meta.db_table)
        sql = " ".join(
            [
                "WITH RECURSIVE seq(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM seq WHERE n < %s)",
                f"INSERT INTO {table} ({', '.join(columns)})",
                # SQLite needs a WHERE between INSERT … SELECT and ON CONFLICT.
                f"SELECT {', '.join(values)} FROM seq WHERE 1 = 1",  # noqa: S608
                f"ON CONFLICT ({quote('phone_number')}) DO NOTHING",
            ]
        )
        with connection.cursor() as cursor:
            cursor.execute(sql, [count - 1, first_number, *constants.values()])
