"""The project's own settings, with the environment a test run needs.

Values already in the environment win (that is how the PostgreSQL leg picks its
DATABASE_URL); only what is unset gets a test default.
"""

import os
import tempfile

os.environ.setdefault("SECRET_KEY", "test-secret-key-for-the-test-suite-only-0123456789")
os.environ.setdefault("SMS_BACKEND", "locmem")
os.environ.setdefault("ALLOWED_HOSTS", "testserver,127.0.0.1,localhost")
# The suite texts thousands of codes to a few number ranges and types few of them back:
# range throttling is off unless a test (tests/test_pumping.py) turns it on.
os.environ.setdefault("OTP_RANGE_MIN_SENDS", "1000000000")

from project.settings import *  # noqa: E402,F403
from project.settings import DATABASES  # noqa: E402

if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # A file, not shared-cache memory: threads in the race tests then get real,
    # separate connections that queue on the write lock as production workers do.
    DATABASES["default"]["TEST"] = {
        "NAME": os.path.join(tempfile.gettempdir(), f"accounts-test-{os.getpid()}.sqlite3")
    }

# Fast hashing keeps the suite quick; the hasher itself is Django's, not ours.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# Audit rows are written as they happen, so a test reads them at once (the batching
# writer has tests of its own in tests/test_audit.py).
AUDIT_FLUSH_SECONDS = 0
