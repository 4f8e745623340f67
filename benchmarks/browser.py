"""The dashboards in headless Chromium: time to rendered per page, opened and after its main action.

Used by ``benchmarks/dashboards.py --browser``. The dashboards are served on the sample lake
(``tracelake dashboard``), with, as the same-run baseline, a one-line Streamlit app (``st.write``
and a select box) served by the same Streamlit. Each view is a fresh tab (its own session).

Rendered = the time of the LAST change to the page's DOM before it went quiet (no change and no
running-status widget for ``QUIET`` s); the quiet period itself is not counted. A
MutationObserver installed before the page loads stamps ``performance.now()`` at every change:

* ``open``:   from navigation start to the last change (the page's first render);
* ``action``: from the moment of the user's last input (the option clicked, Enter pressed) to
              the last change after it.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

QUIET = 1.5  # seconds without a DOM change (and no status widget): the page is rendered
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
OBSERVER = """
window.__lastChange = 0;
new MutationObserver(() => { window.__lastChange = performance.now(); })
  .observe(document, {subtree: true, childList: true, attributes: true, characterData: true});
"""
BASELINE_APP = """import streamlit as st

st.write("hello")
st.selectbox("Pick", ["one", "two", "three"], index=None, key="pick")
st.write(st.session_state.get("pick"))
"""


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def served(cmd: list[str], log: Path, env: dict[str, str] | None = None) -> Iterator[str]:
    """Run a Streamlit server (``cmd`` gets ``--port``); yields its URL once healthy."""
    port = _port()
    fh = log.open("w")
    proc = subprocess.Popen([*cmd, str(port)], stdout=fh, stderr=subprocess.STDOUT,
                            env={**os.environ, **(env or {})})
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while True:
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                    if r.read() == b"ok":
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("the server did not start: " + log.read_text()[-2000:])
            time.sleep(0.3)
        yield url
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
        fh.close()


def _quiet(page: Any, limit: float = 120) -> float:
    """Wait until nothing changed for QUIET s and nothing runs; performance.now() of the last change."""
    start = time.monotonic()
    while time.monotonic() - start < limit:
        busy = page.locator("[data-testid=stStatusWidget], [data-testid=stSkeleton]").count()
        now, last = page.evaluate("[performance.now(), window.__lastChange]")
        if not busy and now - last >= QUIET * 1000:
            return float(last)
        time.sleep(0.1)
    raise TimeoutError("the page kept changing")


def _now(page: Any) -> float:
    return float(page.evaluate("performance.now()"))


def pick(label: str, option: str | int) -> Callable[[Any], float]:
    """Choose an option (by its text's start, or its position) in a select box, as a user does;
    returns performance.now() of the click."""
    def act(page: Any) -> float:
        page.get_by_role("combobox", name=label).click()
        options = page.get_by_role("option")
        target = options.nth(option) if isinstance(option, int) else \
            options.filter(has_text=option).first
        target.wait_for()
        t = _now(page)
        target.click()
        return t
    return act


def type_enter(label: str, text: str) -> Callable[[Any], float]:
    """Type into a text box and press Enter."""
    def act(page: Any) -> float:
        box = page.get_by_label(label, exact=True)
        box.fill(text)
        t = _now(page)
        box.press("Enter")
        return t
    return act


def fill_click(label: str, text: str, button: str) -> Callable[[Any], float]:
    """Fill a text area and press a button."""
    def act(page: Any) -> float:
        page.get_by_label(label).fill(text)
        t = _now(page)
        page.get_by_role("button", name=button).click()
        return t
    return act


def toggle(label: str) -> Callable[[Any], float]:
    """Switch a toggle on by clicking its label."""
    def act(page: Any) -> float:
        target = page.get_by_text(label, exact=True)
        target.wait_for()
        t = _now(page)
        target.click()
        return t
    return act


def measure(browser: Any, url: str, action: Callable[[Any], float] | None) -> tuple[float, float | None]:
    """(seconds to the first render, seconds from the action to its render) in a fresh tab."""
    context = browser.new_context(viewport={"width": 1440, "height": 1100})
    try:
        context.add_init_script(OBSERVER)
        page = context.new_page()
        page.set_default_timeout(120_000)
        page.goto(url)
        page.wait_for_selector("[data-testid=stApp]")
        opened = _quiet(page) / 1000
        if action is None:
            return opened, None
        t = action(page)
        return opened, (_quiet(page) - t) / 1000
    finally:
        context.close()


def chromium() -> str:
    path = os.environ.get("TRACELAKE_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(path).exists():
        raise SystemExit("--browser needs Chromium: apt-get install -y chromium fonts-dejavu-core")
    return path


def run(lake: Path, views: list[tuple[str, str, Callable[[Any], float] | None]], work: Path,
        repeat: int) -> list[dict[str, Any]]:
    """Time every view ``repeat`` times (interleaved with the baseline app); medians per view."""
    from playwright.sync_api import sync_playwright

    work.mkdir(parents=True, exist_ok=True)
    (work / "baseline_app.py").write_text(BASELINE_APP)
    streamlit = [sys.executable, "-m", "streamlit", "run", "--server.headless", "true",
                 "--browser.gatherUsageStats", "false", "--server.address", "127.0.0.1"]
    dashboards = Path(__file__).resolve().parents[1] / "dashboards" / "streamlit_app.py"
    base_views = [("baseline", "st.write + select box", pick("Pick", "two"))]
    times: dict[tuple[str, str], list[tuple[float, float | None]]] = {}
    with served([*streamlit, str(dashboards), "--server.port"], work / "dashboards.log",
                {"TRACELAKE_LAKE": str(lake)}) as app, \
            served([*streamlit, str(work / "baseline_app.py"), "--server.port"],
                   work / "baseline.log") as base, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium(), args=CHROMIUM_ARGS, headless=True)
        try:
            measure(browser, f"{base}/", None)  # first loads: the servers import their pages
            for path, _, _ in views:
                measure(browser, f"{app}/{path}", None)
            for n in range(repeat):
                print(f"browser round {n + 1}/{repeat}", file=sys.stderr, flush=True)
                for path, what, action in base_views:
                    times.setdefault((path, what), []).append(measure(browser, f"{base}/", action))
                for path, what, action in views:
                    try:
                        got = measure(browser, f"{app}/{path}", action)
                    except Exception as exc:  # one view failing: say so, go on
                        print(f"  {path} {what}: {type(exc).__name__}: {str(exc)[:200]}",
                              file=sys.stderr, flush=True)
                        continue
                    print(f"  {path:<28}{what:<28} open {got[0]:5.2f} s  action "
                          f"{'-' if got[1] is None else format(got[1], '5.2f')} s",
                          file=sys.stderr, flush=True)
                    times.setdefault((path, what), []).append(got)
        finally:
            browser.close()
    rows = []
    for (path, what), runs in times.items():
        opened = statistics.median(r[0] for r in runs)
        acted = [r[1] for r in runs if r[1] is not None]
        rows.append({"page": path, "what": what, "open_s": opened, "open_max_s": max(r[0] for r in runs),
                     "action_s": statistics.median(acted) if acted else None,
                     "runs": [list(r) for r in runs]})
    return rows
