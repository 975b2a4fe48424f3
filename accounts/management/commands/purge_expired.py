from django.core.management.base import BaseCommand

from accounts import limits, otp, sessions


class Command(BaseCommand):
    help = (
        "Delete dead one-time-code challenges, expired sessions and closed "
        "rate-limit windows. Safe to run from cron on several instances at once."
    )

    def handle(self, *args, **options):
        challenges = otp.purge()
        expired_sessions = sessions.purge()
        counters = limits.purge()
        self.stdout.write(
            f"Deleted {challenges} code challenge(s), {expired_sessions} expired session(s) "
            f"and {counters} rate-limit counter(s)."
        )
