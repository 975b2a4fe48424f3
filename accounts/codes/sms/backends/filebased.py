"""Writes each message to its own file in `SMS_FILE_PATH`."""

from __future__ import annotations

import os
import uuid
from datetime import UTC, datetime
from pathlib import Path

from django.conf import settings

from accounts.codes.sms.backends.base import BaseSMSBackend, SMSMessage


class SMSBackend(BaseSMSBackend):
    def __init__(self, *, file_path: str | None = None, **kwargs) -> None:
        super().__init__(**kwargs)
        self.directory = Path(file_path or settings.SMS_FILE_PATH)

    def send(self, message: SMSMessage) -> None:
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S-%f")
        path = self.directory / f"{stamp}-{uuid.uuid4().hex}.txt"
        content = f"To: {message.to}\n\n{message.body}\n"
        # Written under a temporary name and renamed, so readers never see half a file.
        partial = path.with_suffix(".part")
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(content)
        os.replace(partial, path)
