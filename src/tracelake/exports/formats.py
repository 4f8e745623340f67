"""Rendering command results as JSON, CSV or a Rich table, the same way for every command.

Light at import (standard library and rich; polars only inside the functions that take a frame):
every CLI command imports this at start, and ``tracelake --help`` must not wait for polars.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import math
import struct
from collections.abc import Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from tracelake.exports.sheets import CSV_DATETIME, to_csv
from tracelake.verbatim import csv_safe, visible

if TYPE_CHECKING:
    import polars as pl


__all__ = ["CSV_DATETIME", "frame_records", "json_dumps", "plain", "render_frame", "render_rows"]

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
    return _table(frame.columns, frame.iter_rows(), title)


def render_rows(columns: Sequence[str], types: Sequence[str], rows: Sequence[Sequence[Any]],
                fmt: str, *, title: str | None = None) -> str:
    """Rows as DuckDB fetches them (``types`` its type names) rendered as :func:`render_frame`
    renders the same answer as a polars frame, without polars (``tracelake sql`` starts in
    half the time): the same JSON and table; CSV in the same layout, numbers and times as
    polars writes them (tests/test_formats.py holds the two side by side)."""
    if fmt == "json":
        return json_dumps({"columns": list(columns),
                           "rows": [dict(zip(columns, r, strict=True)) for r in rows],
                           "row_count": len(rows)})
    if fmt == "csv":
        cells = [_csv_cell_writer(t) for t in types]
        lines = [",".join(_csv_quote(csv_safe(str(c))) for c in columns)]
        lines += [",".join("" if v is None else w(v) for w, v in zip(cells, r, strict=True))
                  for r in rows]
        return "\n".join(lines) + "\n"
    return _table(columns, rows, title)


def _table(columns: Sequence[str], rows: Any, title: str | None) -> str:
    table = Table(title=plain(title) if title else None, show_lines=False)
    for name in columns:
        table.add_column(plain(name), overflow="fold")
    for row in rows:
        table.add_row(*(plain("" if v is None else _cell(v)) for v in row))
    buf = io.StringIO()
    Console(file=buf, width=200, force_terminal=False, highlight=False, emoji=False,
            markup=False).print(table)
    return buf.getvalue()


# ------------------------------------------------------------------ CSV cells as polars writes them

def _csv_quote(text: str) -> str:
    """Quoted when it must be (a comma, a quote, a line break) and when empty (an empty text is
    not a missing value)."""
    if not text or any(c in text for c in ',"\n\r'):
        return '"' + text.replace('"', '""') + '"'
    return text


def _csv_float(value: float) -> str:
    """A double as polars writes it: the shortest text that reads back the same, in decimals
    from 1e-5 to below 1e16 (``0.00003``, ``1000000000000000.0``), else ``1e-7``, ``1e+16``."""
    return _polars_float(repr(value), -5, 16)


def _csv_float32(value: float) -> str:
    """A FLOAT (single precision) as polars writes it: its shortest single-precision text, in
    decimals from 1e-6 to below 1e13."""
    if math.isnan(value) or math.isinf(value):
        return _polars_float(repr(value), -6, 13)
    single = struct.unpack("f", struct.pack("f", value))[0]
    for digits in range(1, 10):
        shorter = f"{single:.{digits}g}"
        if struct.unpack("f", struct.pack("f", float(shorter)))[0] == single:
            return _polars_float(shorter, -6, 13)
    return _polars_float(repr(single), -6, 13)  # pragma: no cover  (9 digits round-trip)


def _polars_float(shortest: str, low: int, high: int) -> str:
    """The shortest digits of a float in polars' notation: decimals while the exponent is in
    [low, high), scientific (``1.5e-7``, ``1e+16``) outside."""
    if shortest in ("nan", "inf", "-inf"):
        return {"nan": "NaN"}.get(shortest, shortest)
    number = Decimal(shortest)
    sign, digits, exponent = number.as_tuple()
    power = len(digits) + int(exponent) - 1
    if low <= power < high:
        text = format(number, "f")
        return text if "." in text else text + ".0"
    first, rest = str(digits[0]), "".join(map(str, digits[1:])).rstrip("0")
    mantissa = ("-" if sign else "") + first + ("." + rest if rest else "")
    return f"{mantissa}e{power:+d}" if power > 0 else f"{mantissa}e{power}"


def _csv_time(value: dt.time) -> str:
    return value.strftime("%H:%M:%S.") + f"{value.microsecond * 1000:09d}"


def _csv_datetime(value: dt.datetime) -> str:
    if value.tzinfo is not None:
        value = value.astimezone(dt.UTC)
    return value.strftime(CSV_DATETIME)


def _csv_nested(value: Any) -> str:
    return _csv_quote(json.dumps(value, default=str, ensure_ascii=False))


def _csv_cell_writer(duck_type: str) -> Any:
    """How a cell of this DuckDB type is written (never called with None)."""
    kind = duck_type.upper()
    if kind.endswith("]") or kind.startswith(("STRUCT", "MAP", "UNION")):
        return _csv_nested
    if kind in ("DOUBLE", "FLOAT8"):
        return _csv_float
    if kind in ("FLOAT", "FLOAT4", "REAL"):
        return _csv_float32
    if kind == "BOOLEAN":
        return lambda v: "true" if v else "false"
    if kind.startswith("TIMESTAMP"):
        return lambda v: _csv_datetime(v) if isinstance(v, dt.datetime) else _csv_quote(str(v))
    if kind == "TIME":
        return _csv_time
    return _csv_scalar


def _csv_scalar(value: Any) -> str:
    if isinstance(value, str):
        return _csv_quote(csv_safe(value))
    if isinstance(value, dt.timedelta):
        return _csv_float(value.total_seconds())
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, float):
        return _csv_float(value)
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    return _csv_quote(str(value))


def plain(value: object) -> Text:
    """A value for a Rich table or message as stored: no markup, no emoji codes, no highlighting;
    control characters visible, long words folded (never cut)."""
    return Text(visible(str(value)), overflow="fold", no_wrap=False)


def _cell(value: object) -> str:
    out = _default(value) if isinstance(value, dt.date | dt.datetime) else value
    return str(out)
