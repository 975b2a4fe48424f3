"""Debian's Chromium for the tests about what a browser does, driven by Playwright
(never a browser download of its own); `make system-packages` installs it."""

from __future__ import annotations

from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"


def chromium() -> str:
    """Debian's Chromium; the test is skipped, saying how to install it, without it."""
    if not Path(CHROMIUM).exists():
        pytest.skip("Chromium is not installed: run `make system-packages` (as root)")
    return CHROMIUM


def launch(playwright, executable: str):
    """Headless, and quiet: no connection to anything but the pages a test opens."""
    return playwright.chromium.launch(
        executable_path=executable,
        args=[
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
        ],
    )
