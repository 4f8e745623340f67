"""Rendering command results as JSON, CSV or a Rich table, the same way for every command.

Light at import (standard library and rich; polars only inside the functions that take a frame):
every CLI command imports this at start, and ``tracelake --help`` must not wait for polars.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import math
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from tracelake.exports.sheets import CSV_DATETIME, to_csv
from tracelake.verbatim import visible

if TYPE_CHECKING:
    import polars as pl


__all__ = ["CSV_DATETIME", "frame_records", "json_dumps", "plain", "render_frame"]

def _default(value: object) -> Any:
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(dt.UTC)
            return value.isoformat().replace("+00:00", "Z")
        return value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, bytes):
        return value.hex()
    return str(value)


def _clean(value: Any) -> Any:
    if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value


def json_dumps(doc: Any) -> str:
    """Stable JSON: UTC timestamps as ISO 8601 with Z, NaN as null, keys in insertion order."""
    return json.dumps(_clean(doc), default=_default, ensure_ascii=False, indent=2)


def frame_records(frame: pl.DataFrame) -> list[dict[str, Any]]:
    """A frame as a list of JSON-ready rows."""
    return frame.to_dicts()


def render_frame(frame: pl.DataFrame, fmt: str, *, title: str | None = None) -> str:
    """A frame as ``json`` (columns and rows), ``csv``, or a ``table`` for people."""
    if fmt == "json":
        return json_dumps({"columns": frame.columns, "rows": frame_records(frame),
                           "row_count": frame.height})
    if fmt == "csv":
        # CSV has no nested values (lists and structs as JSON text); formula-like cells defused
        return to_csv(frame)
    table = Table(title=plain(title) if title else None, show_lines=False)
    for name in frame.columns:
        table.add_column(plain(name), overflow="fold")
    for row in frame.iter_rows():
        table.add_row(*(plain("" if v is None else _cell(v)) for v in row))
    buf = io.StringIO()
    Console(file=buf, width=200, force_terminal=False, highlight=False, emoji=False,
            markup=False).print(table)
    return buf.getvalue()


def plain(value: object) -> Text:
    """A value for a Rich table or message as stored: no markup, no emoji codes, no highlighting;
    control characters visible, long words folded (never cut)."""
    return Text(visible(str(value)), overflow="fold", no_wrap=False)


def _cell(value: object) -> str:
    out = _default(value) if isinstance(value, dt.date | dt.datetime) else value
    return str(out)
