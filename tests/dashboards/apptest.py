"""Opening the dashboards in AppTest and reading what a page shows."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from streamlit import config as streamlit_config
from streamlit.testing.v1 import AppTest

from tests.helpers import REPO

# As served (dashboards/.streamlit/config.toml, which AppTest does not read): magic off. With it
# on, Streamlit ast.parse()s each page in its script thread, and CPython 3.11's AST converter is
# not thread-safe: with other threads parsing too, a page fails to compile ("AST constructor
# recursion depth mismatch", python/cpython gh-106905), seen under pytest-xdist.
streamlit_config.set_option("runner.magicEnabled", False)

APP = REPO / "dashboards" / "streamlit_app.py"
FILES = {"overview": "overview", "spc": "spc", "recall": "recall", "device": "device",
         "batch": "batch", "trends": "trends",
         "calibration": "calibration", "data-quality": "data_quality", "ask": "ask"}

Opener = Callable[..., AppTest]


def opener(lake: Path, monkeypatch: pytest.MonkeyPatch) -> Opener:
    """``open(page, **query)``: the app on that lake, showing that page with that query string."""
    monkeypatch.setenv("TRACELAKE_LAKE", str(lake))

    def open_page(page: str | None = None, **query: str) -> AppTest:
        at = AppTest.from_file(str(APP), default_timeout=90)
        at.run()
        if page is not None:
            at.switch_page(f"app_pages/{FILES[page]}.py")
        at.query_params.update(query)
        at.run()
        no_traceback(at)
        return at

    return open_page


def no_traceback(at: AppTest) -> None:
    """The page raised nothing the user would see as a traceback."""
    assert not at.exception, [e.value for e in at.exception]


def unescape(markdown: str) -> str:
    """Markdown source as read: backslash escapes (``ui.esc``) resolved, kept spaces and line
    breaks as typed. Emphasis marks stay (``**bold**``)."""
    return re.sub(r"\\(.)", r"\1", markdown.replace(" \u00a0", "  ").replace("  \n", "\n"))


def texts(at: AppTest) -> str:
    """Every markdown, caption, info, warning, error, success and text element on the page,
    joined, escapes resolved (what a reader sees, emphasis marks aside)."""
    parts = []
    for kind in ("markdown", "caption", "info", "warning", "error", "success", "subheader",
                 "text"):
        parts += [unescape(str(e.value)) if kind != "text" else str(e.value)
                  for e in getattr(at, kind)]
    return "\n".join(parts)


def metric(at: AppTest, label: str) -> str:
    """The value of the metric with this label."""
    for m in at.metric:
        if m.label == label:
            return str(m.value)
    raise AssertionError(f"no metric {label!r}: {[m.label for m in at.metric]}")


def table(at: AppTest, column: str) -> Any:
    """The first table on the page holding ``column`` (a pandas frame, as AppTest gives it)."""
    for df in at.dataframe:
        if column in df.value.columns:
            return df.value
    raise AssertionError(f"no table with a {column!r} column: "
                         f"{[list(d.value.columns) for d in at.dataframe]}")


def linked(values: Any) -> list[str]:
    """Link cells (``./device?serial=X``) back to their values, in order."""
    return [str(v).split("=", 1)[1] if "=" in str(v) else str(v) for v in values if v]
