from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Accounts"

    def ready(self) -> None:
        from django.conf import settings

        from accounts.abuse import status_cache
        from accounts.models import User
        from accounts.outbound import audit, webhooks
        from accounts.sessions import lifecycle, revocation
        from project import checks  # noqa: F401  (registers the settings' checks)

        status_cache.connect(User)  # account changes mark their cached statuses
        revocation.connect()  # ended sessions' access tokens are refused everywhere
        lifecycle.connect(User)  # a deactivated account's sessions end
        audit.connect()  # security events are stored
        webhooks.connect()  # events go to the outbox with their change (when endpoints are set)

        if settings.METRICS_ENABLED:
            from accounts.outbound import metrics

            metrics.connect()
