"""`purge_otps`: the former name of `purge_expired`, kept for crontabs that still call
it. Deprecated: it will be removed in 2.0; call `purge_expired` instead."""

import warnings

from backoffice.management.commands.purge_expired import Command as PurgeExpired


class Command(PurgeExpired):
    help = "Deprecated: use purge_expired, which this runs. " + PurgeExpired.help

    def handle(self, *args, **options):
        message = "purge_otps is deprecated and will be removed in 2.0: call purge_expired."
        warnings.warn(message, DeprecationWarning, stacklevel=1)
        self.stderr.write(message)
        super().handle(*args, **options)
