"""Text the codes that sends queued (SMS_SEND_IN_BACKGROUND), until stopped.

Run one or more beside the web processes; each has SMS_DELIVERY_CONCURRENCY texts with
the provider at once. SIGTERM or SIGINT lets the texts under way finish and be recorded,
then exits. A lost database or Redis is waited out, never an exit (`codes.courier`).
"""

from __future__ import annotations

import signal

from django.core.management.base import BaseCommand

from accounts.codes.courier import Courier


class Command(BaseCommand):
    help = (
        "Text the codes queued by SMS_SEND_IN_BACKGROUND, SMS_DELIVERY_CONCURRENCY at once, "
        "until SIGTERM; --batch: until no send waits."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--concurrency",
            type=int,
            default=None,
            help="Texts at once (default: SMS_DELIVERY_CONCURRENCY).",
        )
        parser.add_argument(
            "--batch", action="store_true", help="Exit once no send waits and none is under way."
        )

    def handle(self, *args, concurrency: int | None, batch: bool, **options):
        courier = Courier(concurrency)
        for number in (signal.SIGTERM, signal.SIGINT):
            signal.signal(number, lambda *_: courier.stop())
        courier.run(batch=batch)
