"""The e2e fixtures: a sample lake, the dashboards served on it, and Debian's Chromium driving them.

Chromium comes from the system (``/usr/bin/chromium``, or ``$TRACELAKE_CHROMIUM``), never from a
Playwright download; ``make test`` installs it where it is missing. Without it these tests fail
and say what to install: they are part of the suite, not an option.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from tests.helpers import SAMPLE, Lake

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]


def free_port() -> int:
    """A TCP port nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def chromium_path() -> str:
    """The system Chromium; fails (not skips) with what to install when there is none."""
    path = os.environ.get("TRACELAKE_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(path).exists():
        pytest.fail("the browser tests need Chromium: apt-get install -y chromium "
                    "fonts-dejavu-core (make test does it when run as root), or set "
                    "TRACELAKE_CHROMIUM to a Chromium binary", pytrace=False)
    return path


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """Headless Chromium for the whole session."""
    executable = chromium_path()
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``tracelake dashboard`` on a freshly built sample lake; yields the base URL."""
    root = tmp_path_factory.mktemp("e2e")
    lake = Lake(root / "lake")
    lake.ingest(SAMPLE, exclude=["bad/*"])
    yield from serve(root, lake)


def serve(root: Path, lake: Lake) -> Iterator[str]:
    """Serve the dashboards on ``lake`` until the generator is closed; yields the base URL."""
    port = free_port()
    log = (root / "dashboard.log").open("w")
    proc = subprocess.Popen([sys.executable, "-m", "tracelake.cli", "dashboard", "--lake",
                             str(lake.paths.root), "--port", str(port), "--address",
                             "127.0.0.1"], stdout=log, stderr=subprocess.STDOUT, cwd=root)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                    if r.read() == b"ok":
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the dashboards did not start: "
                                   + (root / "dashboard.log").read_text()[-2000:])
            time.sleep(0.3)
        yield url
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A fresh browser tab (its own session of the app), downloads allowed."""
    context = browser.new_context(viewport={"width": 1440, "height": 1100}, accept_downloads=True)
    tab = context.new_page()
    tab.set_default_timeout(30_000)
    yield tab
    context.close()
