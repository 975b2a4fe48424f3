from django.core.management.base import BaseCommand

from accounts import limits, otp, tokens


class Command(BaseCommand):
    help = (
        "Delete dead one-time-code challenges, expired refresh tokens and closed "
        "rate-limit windows. Safe to run from cron on several instances at once."
    )

    def handle(self, *args, **options):
        challenges = otp.purge()
        refresh_tokens = tokens.purge_refresh_tokens()
        counters = limits.purge()
        self.stdout.write(
            f"Deleted {challenges} code challenge(s), {refresh_tokens} refresh token(s) "
            f"and {counters} rate-limit counter(s)."
        )
