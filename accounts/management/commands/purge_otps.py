from django.core.management.base import BaseCommand

from accounts import otp


class Command(BaseCommand):
    help = "Delete one-time-code challenges that expired longer ago than OTP_RETENTION."

    def handle(self, *args, **options):
        deleted = otp.purge()
        self.stdout.write(f"Deleted {deleted} expired code challenge(s).")
