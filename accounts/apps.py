from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Accounts"

    def ready(self) -> None:
        from django.conf import settings

        from . import (
            audit,
            checks,  # noqa: F401  (registers the settings checks)
            revocation,
            sessions,
            status_cache,
            webhooks,
        )
        from .models import User

        status_cache.connect(User)  # account changes mark their cached statuses
        revocation.connect()  # ended sessions' access tokens are refused everywhere
        sessions.connect(User)  # a deactivated account's sessions end
        audit.connect()  # security events are stored
        webhooks.connect()  # events go to the outbox with their change (when endpoints are set)

        if settings.METRICS_ENABLED:
            from . import metrics

            metrics.connect()
