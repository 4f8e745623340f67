"""The dashboards in headless Chromium: time to rendered per page, opened and after its main action.

Used by ``benchmarks/dashboards.py --browser``. The dashboards are served on a lake
(``streamlit run dashboards/streamlit_app.py``), with, as the same-run baseline, a bare Streamlit
app (a title, ``st.write`` and a select box) served by the same Streamlit: the floor of any page.

Each view is timed twice per round, in two kinds of browser:

* ``warm`` (the everyday case, budgeted): a new tab (its own Streamlit session) in one browser
  profile that has opened the dashboards before: every page and action is visited once before
  timing, so the HTTP cache holds Streamlit's static files (served ``immutable``, cached for a
  year) and the lazily loaded parts (the table grid, Plotly's 4.7 MB bundle, Vega), and Chromium
  holds their compiled code. Each tab still evaluates every module it uses.
* ``cold`` (a first visit ever, shown beside): the same view in a new, empty profile (a fresh
  browser context): every file fetched, parsed and compiled.

Rendered = the time of the LAST change to the page's DOM before it went quiet (no change and no
running-status widget for ``QUIET`` s); the quiet period itself is not counted. A
MutationObserver installed before the page loads stamps ``performance.now()`` at every change,
and a wrapper of ``WebSocket`` stamps every message, so each time splits into:

* ``boot``:   navigation start to the first message the page sends (Streamlit's JS loaded and
              started, the session connected, the script run asked for);
* ``server``: from the message that asks for the run (the page's first, or the action's) to the
              last message received before the page went quiet (the script ran, its elements
              were sent);
* ``draw``:   from that last message to the last DOM change (the browser drew the elements);

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
window.__ws = [];
new MutationObserver(() => { window.__lastChange = performance.now(); })
  .observe(document, {subtree: true, childList: true, attributes: true, characterData: true});
(() => {
  const Native = window.WebSocket;
  class Stamped extends Native {
    constructor(...args) {
      super(...args);
      this.addEventListener("message", () => window.__ws.push([performance.now(), 1]));
    }
    send(data) { window.__ws.push([performance.now(), 0]); return super.send(data); }
  }
  window.WebSocket = Stamped;
})();
"""
BASELINE_APP = """import streamlit as st

st.title("tracelake")
st.write("hello")
st.selectbox("Pick", ["one", "two", "three"], index=None, key="pick")
st.write(st.session_state.get("pick"))
kind = st.query_params.get("with")
if kind == "plotly":  # Streamlit's Plotly element: its 4.7 MB bundle, evaluated in every tab
    import plotly.graph_objects as go

    st.plotly_chart(go.Figure(go.Bar(x=["a", "b", "c"], y=[3, 1, 2])))
elif kind == "vega":  # Streamlit's own charts (Vega-Lite)
    st.bar_chart({"n": [3, 1, 2]})
elif kind == "echarts":  # Streamlit's ECharts element (1.2 MB bundle)
    st.echarts_chart({"xAxis": {"type": "category", "data": ["a", "b", "c"]},
                      "yAxis": {"type": "value"}, "series": [{"type": "bar", "data": [3, 1, 2]}]})
elif kind == "table":  # st.dataframe: the grid (glide-data-grid) drawn on a canvas
    st.dataframe({"a": list(range(10)), "b": [str(i) for i in range(10)]})
"""
#: the same-run floors: the bare app, and the bare app with one element of each costly kind
BASELINES = [("(bare Streamlit)", "title + select box", ""),
             ("(bare + 1 Plotly chart)", "(open only)", "?with=plotly"),
             ("(bare + 1 Vega chart)", "(open only)", "?with=vega"),
             ("(bare + 1 ECharts chart)", "(open only)", "?with=echarts"),
             ("(bare + 1 st.dataframe)", "(open only)", "?with=table")]


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
    """Choose an option (by its text, typed into the box to filter a long list as a user does,
    or by its position) in a select box; returns performance.now() of the click."""
    def act(page: Any) -> float:
        page.get_by_role("combobox", name=label).click()
        if isinstance(option, str):
            page.keyboard.type(option)
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


def _messages(page: Any, after: float) -> tuple[float | None, float | None]:
    """performance.now() of the first message sent and of the last received, after ``after``."""
    stamps = page.evaluate("window.__ws")
    sent = [t for t, incoming in stamps if not incoming and t >= after]
    got = [t for t, incoming in stamps if incoming and t >= after]
    return (min(sent) if sent else None), (max(got) if got else None)


def _split(page: Any, start: float, last_change: float) -> dict[str, float | None]:
    asked, answered = _messages(page, start)
    return {"boot": None if asked is None else (asked - start) / 1000,
            "server": None if asked is None or answered is None else (answered - asked) / 1000,
            "draw": None if answered is None else max(0.0, last_change - answered) / 1000}


def measure(context: Any, url: str, action: Callable[[Any], float] | None) -> dict[str, Any]:
    """Seconds to the first render, and from the action to its render, in a new tab of
    ``context`` (a new Streamlit session), with the parts of each."""
    page = context.new_page()
    try:
        page.set_default_timeout(120_000)
        page.goto(url)
        page.wait_for_selector("[data-testid=stApp]")
        last = _quiet(page)
        got: dict[str, Any] = {"open": last / 1000, "open_parts": _split(page, 0.0, last)}
        if action is not None:
            t = action(page)
            last = _quiet(page)
            got |= {"action": (last - t) / 1000, "action_parts": _split(page, t, last)}
        return got
    finally:
        page.close()


def chromium() -> str:
    path = os.environ.get("TRACELAKE_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(path).exists():
        raise SystemExit("--browser needs Chromium: apt-get install -y chromium fonts-dejavu-core")
    return path


def run(lake: Path, views: list[tuple[str, str, Callable[[Any], float] | None]], work: Path,
        repeat: int) -> list[dict[str, Any]]:
    """Time every view ``repeat`` times warm (a new tab of a primed profile) and ``repeat`` times
    cold (an empty profile), interleaved with the baseline apps; medians per view."""
    from playwright.sync_api import sync_playwright

    work.mkdir(parents=True, exist_ok=True)
    (work / "baseline_app.py").write_text(BASELINE_APP)
    streamlit = [sys.executable, "-m", "streamlit", "run", "--server.headless", "true",
                 "--browser.gatherUsageStats", "false", "--server.address", "127.0.0.1"]
    dashboards = Path(__file__).resolve().parents[1] / "dashboards" / "streamlit_app.py"
    base_views = [(path, what, pick("Pick", "two") if not query else None)
                  for path, what, query in BASELINES]
    times: dict[str, dict[tuple[str, str], list[dict[str, Any]]]] = {"warm": {}, "cold": {}}
    with served([*streamlit, str(dashboards), "--server.port"], work / "dashboards.log",
                {"TRACELAKE_LAKE": str(lake)}) as app, \
            served([*streamlit, str(work / "baseline_app.py"), "--server.port"],
                   work / "baseline.log") as base, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium(), args=CHROMIUM_ARGS, headless=True)
        url = {path: f"{base}/{query}" for path, _, query in BASELINES}
        everything = [(path, what, action, url.get(path, f"{app}/{path}"))
                      for path, what, action in [*base_views, *views]]
        try:
            def context() -> Any:
                ctx = browser.new_context(viewport={"width": 1440, "height": 1100})
                ctx.add_init_script(OBSERVER)
                return ctx

            warm = context()
            for _path, _what, action, link in everything:  # the servers import their pages,
                measure(warm, link, action)               # the profile caches every file
            for n in range(repeat):
                print(f"browser round {n + 1}/{repeat}", file=sys.stderr, flush=True)
                for path, what, action, link in everything:
                    got: dict[str, dict[str, Any]] = {}
                    for kind in ("warm", "cold"):
                        ctx = warm if kind == "warm" else context()
                        try:
                            got[kind] = measure(ctx, link, action)
                            times[kind].setdefault((path, what), []).append(got[kind])
                        except Exception as exc:  # one view failing: say so, go on
                            print(f"  {path} {what} ({kind}): {type(exc).__name__}: "
                                  f"{str(exc)[:200]}", file=sys.stderr, flush=True)
                        finally:
                            if ctx is not warm:
                                ctx.close()
                    print(f"  {path[:28]:<28}{what[:30]:<30}" + "  ".join(
                        f"{kind} open {g['open']:5.2f} s action "
                        f"{format(g['action'], '5.2f') if 'action' in g else '    -'} s"
                        for kind, g in got.items()), file=sys.stderr, flush=True)
        finally:
            browser.close()
    return [_row(path, what, runs, times["cold"].get((path, what), []))
            for (path, what), runs in times["warm"].items()]


def _median(values: list[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return statistics.median(known) if known else None


def _row(path: str, what: str, runs: list[dict[str, Any]],
         cold: list[dict[str, Any]]) -> dict[str, Any]:
    """The medians of a view: ``open_s``, ``action_s`` and their parts warm; ``cold_open_s``,
    ``cold_action_s`` and theirs cold."""
    row: dict[str, Any] = {"page": path, "what": what, "runs": runs, "cold_runs": cold}
    for prefix, kept in (("", runs), ("cold_", cold)):
        for kind in ("open", "action"):
            row[f"{prefix}{kind}_s"] = _median([r.get(kind) for r in kept])
            row[f"{prefix}{kind}_max_s"] = max((r[kind] for r in kept if kind in r),
                                               default=None)
            for part in ("boot", "server", "draw"):
                row[f"{prefix}{kind}_{part}_s"] = _median([r[f"{kind}_parts"][part]
                                                           for r in kept
                                                           if f"{kind}_parts" in r])
    return row
