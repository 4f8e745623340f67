"""CSV and XLSX files people open in a spreadsheet: every text cell written as text.

A cell that starts like a formula (``=HYPERLINK(...)``, ``+``, ``-``, ``@``, tab, CR) gets a
leading ``'`` (OWASP CSV injection), and XLSX cells are written as strings with xlsxwriter's
formula, URL and number guessing off: what the lake holds is what the sheet shows.
"""

from __future__ import annotations

import io
import json
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from tracelake.verbatim import ACTING, FORMULA_START, csv_safe, visible

__all__ = ["CSV_DATETIME", "WORKBOOK_OPTIONS", "flat_frame", "safe_frame", "to_csv", "write_xlsx"]

if TYPE_CHECKING:
    import polars as pl

#: Timestamps in CSV output: UTC, ISO 8601, with Z (as in the JSON output).
CSV_DATETIME = "%Y-%m-%dT%H:%M:%SZ"

#: xlsxwriter options: never turn text into a formula, a link or a number.
WORKBOOK_OPTIONS: dict[str, Any] = {"strings_to_formulas": False, "strings_to_urls": False,
                                    "strings_to_numbers": False, "nan_inf_to_errors": True}


def _json_cell(value: object) -> str:
    import polars as pl

    if isinstance(value, pl.Series):
        value = value.to_list()
    return json.dumps(value, default=str, ensure_ascii=False)


def flat_frame(frame: pl.DataFrame) -> pl.DataFrame:
    """Lists, arrays, structs and objects as their JSON text (a sheet cell holds one value)."""
    import polars as pl

    return frame.with_columns(
        pl.col(c).map_elements(_json_cell, return_dtype=pl.String)
        for c, t in frame.schema.items()
        if isinstance(t, pl.List | pl.Struct | pl.Array | pl.Object))


def safe_frame(frame: pl.DataFrame) -> pl.DataFrame:
    """Every text cell that a spreadsheet would evaluate prefixed with ``'`` (column names too)."""
    import polars as pl

    starts = "|".join("\\" + c if c in "+-" else {"\t": "\\t", "\r": "\\r"}.get(c, c)
                      for c in FORMULA_START)
    out = frame.with_columns(
        pl.when(pl.col(c).str.contains(f"^(?:{starts})")).then(pl.lit("'") + pl.col(c))
        .otherwise(pl.col(c)).alias(c)
        for c, t in frame.schema.items() if t == pl.String)
    return out.rename({c: csv_safe(c) for c in out.columns if csv_safe(c) != c})


def to_csv(frame: pl.DataFrame) -> str:
    """A frame as CSV text: UTC timestamps with Z, nested values as JSON, formulas neutralised."""
    return safe_frame(flat_frame(frame)).write_csv(datetime_format=CSV_DATETIME)


def write_xlsx(sheets: Mapping[str, pl.DataFrame], target: Path | BinaryIO | None = None) -> bytes:
    """Frames as the sheets of one workbook (to ``target`` if given); returns the bytes.

    Timestamps are written in UTC without a zone (Excel has none); text cells as strings.
    """
    import polars as pl
    import xlsxwriter

    buf = io.BytesIO()
    with xlsxwriter.Workbook(buf, WORKBOOK_OPTIONS) as workbook:
        for name, frame in sheets.items():
            flat = flat_frame(frame)
            # a sheet cell cannot hold NUL or ESC (XML): they show as their visible stand-ins
            flat = safe_frame(flat.with_columns(
                pl.col(c).map_elements(visible, return_dtype=pl.String)
                for c, t in flat.schema.items()
                if t == pl.String and flat[c].str.contains(ACTING.pattern).any()))
            flat = flat.with_columns(pl.col(c).dt.replace_time_zone(None)
                                     for c, t in flat.schema.items()
                                     if isinstance(t, pl.Datetime) and t.time_zone)
            flat.write_excel(workbook, worksheet=name[:31], autofit=True)
    data = buf.getvalue()
    if isinstance(target, Path):
        target.write_bytes(data)
    elif target is not None:
        target.write(data)
    return data
