"""Shared look and behaviour of the pages: status colours, readable tables, query-string links, errors.

No lake access here (that is ``data.py``); this module only turns frames and answers into Streamlit
elements the same way on every page.
"""

from __future__ import annotations

import datetime as dt
import logging
import traceback
from collections.abc import Callable, Iterable, Mapping
from typing import Any
from zoneinfo import ZoneInfo

import polars as pl
import streamlit as st

from dashboards import strings
from tracelake.errors import LakeNotFound, TracelakeError
from tracelake.verbatim import ACTING, md_escape, visible
from tracelake.words import label as word

log = logging.getLogger("tracelake.dashboards")

# ------------------------------------------------------------------ colours: one meaning, one colour
GREEN, AMBER, RED, BLUE, GREY, PURPLE, TEAL = ("#2e7d32", "#f9a825", "#c62828", "#1565c0",
                                               "#757575", "#6a1b9a", "#00838f")
PALETTE: dict[str, str] = {
    # verdicts
    "pass": GREEN, "fail": RED, "done": GREY, "passed": GREEN, "failed": RED,
    # unit status
    "shipped": BLUE, "released": GREEN, "wip": AMBER, "quarantined": RED, "scrapped": PURPLE,
    # job status
    "planned": GREY, "in_progress": AMBER, "complete": TEAL, "on_hold": RED, "cancelled": PURPLE,
    # calibration status
    "ok": GREEN, "due": AMBER, "overdue": RED, "never": PURPLE, "out_of_tolerance": RED,
    "in_tolerance": GREEN, "not_applicable": GREY, "in_calibration": GREEN, "suspect": RED,
    "uncalibrated": PURPLE, "out_of_service": RED, "not_required": GREY, "not_recorded": AMBER,
    # NCR disposition
    "pending": AMBER, "rework": BLUE, "scrap": PURPLE, "use_as_is": TEAL,
    "return_to_supplier": GREY, "open": AMBER, "closed": GREEN,
    # ingest
    "loaded": GREEN, "duplicate": GREY, "rejected": RED, "unrecognised": AMBER,
    "committed": GREEN, "current": GREEN, "superseded": GREY,
    # severity
    "critical": RED, "major": AMBER, "minor": BLUE,
}


def colour(value: str | None) -> str:
    """The colour of a status, verdict or disposition (grey for anything unknown)."""
    return PALETTE.get(str(value), GREY)


def colour_map(values: Iterable[str | None]) -> dict[str, str]:
    """A Plotly ``color_discrete_map`` for these values."""
    return {str(v): colour(v) for v in values}


# ------------------------------------------------------------------ text from the lake, as stored
#
# Every value from the lake that goes into a Markdown element (st.markdown, st.caption, st.info,
# st.warning, st.error, st.success, a button, a tab or a metric label) goes through ``esc``:
# nothing in it is read as Markdown, a :colour[...] directive, an :emoji: code, $math$ or HTML.
# Text that is a block of its own (an NCR description) is shown with ``text`` (st.text: no parsing
# at all). Tables (st.dataframe) show cell text as text.

def esc(value: Any) -> str:
    """A lake value for a Markdown string: shown exactly as stored (``—`` for a missing value)."""
    return "—" if value is None else md_escape(str(value))


def text(value: Any, *, help: str | None = None) -> None:
    """A block of lake text as stored: no Markdown, HTML or directives; control characters
    visible; long words wrapped."""
    st.text(visible("" if value is None else str(value)), help=help, wrap=True)


def label(code: Any) -> str:
    """A code as words for a label (``out_of_tolerance`` -> "out of tolerance"), escaped."""
    return esc(word(code))


def file_name(path: Any) -> str:
    """A file as people name it: its name, not the server's folders (``/srv/x/units.csv`` ->
    ``units.csv``)."""
    return "" if path is None else str(path).replace("\\", "/").rstrip("/").rsplit("/", 1)[-1]


# ------------------------------------------------------------------ tables

#: Columns holding a file path on the server: shown as the file's name.
PATH_COLUMNS = ("path", "source_file", "mapping", "file")

#: Text columns wider than this (characters, longest value) are drawn wide and their rows tall
#: enough that a finding's message or a quarantine reason reads to its end.
LONG_TEXT = 48

def local_times(frame: pl.DataFrame, tz: str) -> pl.DataFrame:
    """Every timestamp shown in the plant's time zone (the lake stores UTC)."""
    return frame.with_columns(pl.col(c).dt.convert_time_zone(tz) for c, t in frame.schema.items()
                              if isinstance(t, pl.Datetime) and t.time_zone)


def lazy_expander(label: str, key: str) -> Any:
    """An expander whose contents are made and sent only while it is open (``None`` while it is
    closed): a closed expander's table is otherwise drawn with the page (a grid on a canvas),
    and its chart loads Plotly's bundle."""
    box = st.expander(label, key=key, on_change="rerun")
    return box if box.open else None


def table(frame: pl.DataFrame, *, key: str | None = None, tz: str | None = None,
          status: Iterable[str] = (), links: Mapping[str, tuple[str, str]] | None = None,
          labels: Mapping[str, str] | None = None,
          config: Mapping[str, Any] | None = None, height: int | str = "auto",
          order: list[str] | None = None, raw_headers: bool = False) -> None:
    """A read-only table: local times, coloured status tags, links to other pages, clear headers.

    Args:
        status: columns holding a status/verdict, shown as coloured tags.
        links: ``{column: (page url path, query parameter)}``: the cell opens that page at it.
        labels: column headers to show instead of the column names.
        raw_headers: show column names as they are (a query's own columns), not in words.
    """
    shown = local_times(frame, tz) if tz else frame
    # an empty text cell shows empty, not "None"; control characters in text show, never act
    shown = shown.with_columns(pl.col(c).map_elements(file_name, return_dtype=pl.String)
                               for c in PATH_COLUMNS
                               if c in shown.columns and shown.schema[c] == pl.String)
    status = list(status)
    keep_null = {*status, *(links or {})}
    acting = [c for c, t in shown.schema.items()
              if t == pl.String and shown[c].str.contains(ACTING.pattern).any()]
    shown = shown.with_columns(pl.col(c).map_elements(visible, return_dtype=pl.String)
                               for c in acting)
    shown = shown.with_columns(pl.col(c).fill_null("") for c, t in shown.schema.items()
                               if t == pl.String and c not in keep_null)
    column_config: dict[str, Any] = {}
    lines = 1
    # timestamps as text "YYYY-MM-DD HH:MM" (sorts as time; an empty one shows empty, not None)
    shown = shown.with_columns(pl.col(c).dt.strftime("%Y-%m-%d %H:%M").fill_null("")
                               for c, t in shown.schema.items() if isinstance(t, pl.Datetime))
    for name, dtype in shown.schema.items():
        label = (labels or {}).get(name, name if raw_headers else name.replace("_", " ").strip())
        if isinstance(frame.schema.get(name), pl.Datetime):
            column_config[name] = st.column_config.TextColumn(label)
        elif dtype == pl.Float64 and name.endswith(("share", "rate", "fpy", "yield")) \
                and not raw_headers:
            column_config[name] = st.column_config.NumberColumn(label, format="percent")
        elif dtype == pl.String and shown.height and name not in status and \
                (longest := shown[name].str.len_chars().max() or 0) > LONG_TEXT:  # type: ignore[operator]
            column_config[name] = st.column_config.TextColumn(label, width="large")
            lines = max(lines, min(4, -(-int(longest) // 70)))
        else:
            column_config[name] = st.column_config.Column(label)
    for name in status:
        if name in shown.columns:
            values = sorted({str(v) for v in shown[name].drop_nulls().to_list()})
            shown = shown.with_columns(pl.concat_list(pl.col(name).cast(pl.String))
                                       .list.drop_nulls().alias(name))
            column_config[name] = st.column_config.MultiselectColumn(
                (labels or {}).get(name, name.replace("_", " ")), options=values,
                color=[colour(v) for v in values], format_func=word)
    for name, (page, param) in (links or {}).items():
        if name in shown.columns:
            shown = shown.with_columns(
                pl.when(pl.col(name).is_not_null() & (pl.col(name).cast(pl.String) != ""))
                .then(pl.lit(f"./{page}?{param}=") + pl.col(name).cast(pl.String))
                .otherwise(pl.lit("")).alias(name))
            column_config[name] = st.column_config.LinkColumn(
                (labels or {}).get(name, name.replace("_", " ")), display_text=f"{param}=(.*)",
                help=f"opens the {page} page in a new tab")
    column_config.update(config or {})
    if lines > 1 and (height == "auto" or isinstance(height, int)):  # tall rows: room for them
        height = min(640, 38 + (12 + 20 * lines) * max(shown.height, 1))
    # placeholder "": a missing value (a number, a date, a status) shows as an empty cell, as
    # stored; Streamlit's default writes "None" in it
    st.dataframe(shown, hide_index=True, column_config=column_config, key=key, height=height,
                 column_order=order, row_height=12 + 20 * lines if lines > 1 else None,
                 placeholder="")


def metrics(items: Iterable[tuple[str, Any] | tuple[str, Any, str]]) -> None:
    """A row of headline numbers, each ``(label, value[, help])``."""
    items = list(items)
    for col, item in zip(st.columns(len(items)), items, strict=True):
        label, value, *help_ = item
        col.metric(label, "—" if value is None else value, help=help_[0] if help_ else None,
                   border=True)


def units_headline(info: Mapping[str, Any]) -> str:
    """``20,000 devices (+ 80,122 sub-assemblies)``: finished devices first, the rest apart."""
    devices, subs = info.get("devices"), info.get("sub_assemblies")
    if devices is None:
        return f"{info.get('units', 0):,} units"
    return f"{devices:,} devices" + (f" (+ {subs:,} sub-assemblies)" if subs else "")


def percent(value: float | None) -> str | None:
    """A share as a percentage for a metric."""
    return None if value is None else f"{value:.1%}"


# ------------------------------------------------------------------ links through the query string

def from_query(page: str, bindings: Mapping[str, str],
               valid: Mapping[str, Callable[[str], bool]] | None = None) -> None:
    """Put the page's query parameters into its widgets when they changed (a link was followed).

    ``bindings`` maps a query parameter to a widget key. A parameter already applied is not
    applied again, so the widgets stay the user's afterwards.
    """
    current = {p: st.query_params.get(p) for p in bindings}
    marker = _marker(page, bindings)
    if st.session_state.get(marker) == current:
        return
    st.session_state[marker] = current
    for param, key in bindings.items():
        value = current[param]
        if value is not None and (valid is None or param not in valid or valid[param](value)):
            st.session_state[key] = value


def to_query(page: str, values: Mapping[str, str | None]) -> None:
    """Show the page's state in the address bar, so the view can be shared as a link."""
    for param, value in values.items():
        if value:
            st.query_params[param] = value
        elif param in st.query_params:
            del st.query_params[param]
    st.session_state[_marker(page, values)] = {p: st.query_params.get(p) for p in values}


def _marker(page: str, params: Iterable[str]) -> str:
    return f"_applied_query_{page}_{'_'.join(sorted(params))}"


# ------------------------------------------------------------------ errors and empty states

def show_error(exc: BaseException) -> None:
    """A failure as one clear message: what to do next for a lake problem, never a traceback."""
    if isinstance(exc, LakeNotFound):
        st.info(f"**{strings.NO_LAKE_TITLE}.** {esc(exc)}", icon=":material/database:")
    elif isinstance(exc, TracelakeError):
        st.error(esc(exc), icon=":material/error:")
    else:
        log.error("dashboard page failed:\n%s", "".join(traceback.format_exception(exc)))
        st.error(strings.INTERNAL_ERROR.format(what=type(exc).__name__), icon=":material/error:")


def empty(message: str) -> None:
    """An empty state that says what to do next."""
    st.info(message, icon=":material/info:")


def local_times_value(value: dt.datetime | None, tz: str) -> str:
    """One timestamp as the plant reads it: ``2026-11-10 17:05 GMT``."""
    if value is None:
        return "—"
    return value.astimezone(ZoneInfo(tz)).strftime("%Y-%m-%d %H:%M %Z")


def frame(rows: list[dict[str, Any]], columns: list[str] | None = None) -> pl.DataFrame:
    """Record rows (dicts) as a table; their lineage (``_source_file``, ``_row``) as one ``source``
    column (file name and row), nested lists and dicts left out unless asked for."""
    if not rows:
        return pl.DataFrame({c: [] for c in columns or []}, schema={c: pl.String for c in
                                                                     columns or []})
    keep = columns or [k for k, v in rows[0].items()
                       if not k.startswith("_") and not isinstance(v, list | dict)]
    records = [{k: r.get(k) for k in keep} for r in rows]
    out = pl.DataFrame(records, infer_schema_length=None)
    if "_source_file" in rows[0]:
        out = out.with_columns(pl.Series("source", [
            f"{str(r.get('_source_file') or '').rsplit('/', 1)[-1]} row {r.get('_row')}"
            if r.get("_source_file") else None for r in rows], dtype=pl.String))
    return out
