from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Accounts"

    def ready(self) -> None:
        from django.conf import settings

        from . import (
            checks,  # noqa: F401  (registers the settings checks)
            revocation,
            sessions,
            status_cache,
        )
        from .models import User

        status_cache.connect(User)  # account changes mark their cached statuses
        revocation.connect()  # ended sessions' access tokens are refused everywhere
        sessions.connect(User)  # a deactivated account's sessions end

        if settings.METRICS_ENABLED:
            from . import metrics

            metrics.connect()
