"""Debian's Chromium for the tests about what a browser does, driven by Playwright
(never a browser download of its own)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"


def chromium() -> str:
    """Debian's Chromium, installed here when missing (as root, from Debian's packages)."""
    if not Path(CHROMIUM).exists():
        if os.geteuid() != 0 or not shutil.which("apt-get"):
            pytest.skip(
                "Chromium is not installed and cannot be installed (needs root and apt-get)"
            )
        for command in (
            ["apt-get", "update", "-qq"],
            ["apt-get", "install", "-y", "-qq", "chromium"],
        ):
            try:
                result = subprocess.run(
                    command,
                    capture_output=True,
                    check=False,
                    timeout=900,
                    env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
                )
            except subprocess.TimeoutExpired:
                pytest.skip(f"Chromium could not be installed: {' '.join(command)} timed out")
            if result.returncode != 0:
                pytest.skip(f"Chromium could not be installed: {result.stderr.decode()[-300:]}")
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
