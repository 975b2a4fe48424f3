"""Who may read /metrics."""

from __future__ import annotations

import hmac

from django.conf import settings

from accounts.errors import Unauthenticated
from accounts.flows.login import counting_failures
from accounts.flows.use_case import use_case


@use_case(client_ip="client_ip")
def authorize_metrics(*, authorization: str, client_ip: str) -> None:
    """Let a scraper read /metrics: `Authorization: Bearer <METRICS_TOKEN>` when a token
    is set. A wrong token counts against the same per-IP failure budget as logins."""
    token = settings.METRICS_TOKEN
    if not token:
        return
    with counting_failures(client_ip, failure=Unauthenticated):
        # The header as it came on the wire (WSGI decodes headers as latin-1).
        presented = authorization.encode("latin-1", "replace")
        if not hmac.compare_digest(presented, f"Bearer {token}".encode()):
            raise Unauthenticated(reason="no or wrong metrics token")
