from django.core.management.base import BaseCommand

from accounts.abuse import limits
from accounts.codes import otp
from accounts.outbound import audit, webhook_delivery, webhooks
from accounts.sessions import lifecycle


class Command(BaseCommand):
    help = (
        "Delete dead one-time-code challenges, expired sessions, closed rate-limit "
        "windows, audit events past AUDIT_RETENTION_DAYS and finished webhook deliveries "
        "past WEBHOOK_RETENTION_DAYS; queue a webhook delivery run if one is due. Safe to "
        "run from cron on several instances at once."
    )

    def handle(self, *args, **options):
        challenges = otp.purge()
        expired_sessions = lifecycle.purge()
        counters = limits.purge()
        audit_events = audit.purge()
        deliveries = webhooks.purge()
        webhook_delivery.sweep()
        self.stdout.write(
            f"Deleted {challenges} code challenge(s), {expired_sessions} expired session(s), "
            f"{counters} rate-limit counter(s), {audit_events} audit event(s) and "
            f"{deliveries} webhook delivery(ies)."
        )
