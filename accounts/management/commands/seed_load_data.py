"""Bulk-create users and expired code challenges, to load-test a full database."""

from datetime import timedelta

from django.contrib.auth.hashers import make_password
from django.core.management.base import BaseCommand
from django.db import transaction
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
        parser.add_argument("--batch-size", type=int, default=20_000)

    def handle(self, *args, users, expired_codes, batch_size, **options):
        unusable = make_password(None)
        joined = timezone.now() - timedelta(days=30)
        expired = timezone.now() - timedelta(days=2)
        self._create(
            users,
            batch_size,
            lambda n: User(
                phone_number=f"+{USERS_FROM + n}", password=unusable, date_joined=joined
            ),
        )
        self._create(
            expired_codes,
            batch_size,
            lambda n: OTPChallenge(
                phone_number=f"+{CODES_FROM + n}",
                code_hash="0" * 64,
                sent_at=expired,
                expires_at=expired,
            ),
        )
        self.stdout.write(f"Seeded {users} user(s) and {expired_codes} expired code challenge(s).")

    def _create(self, total, batch_size, build):
        if not total:
            return
        model = type(build(0))
        for start in range(0, total, batch_size):
            rows = [build(n) for n in range(start, min(total, start + batch_size))]
            with transaction.atomic():
                model.objects.bulk_create(rows, ignore_conflicts=True)
