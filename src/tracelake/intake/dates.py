"""The date rule of import contract v2: the order of day and month is never guessed.

Where a mapping gives neither ``dayfirst`` nor ``date_formats``, each date column is looked at
whole: if some value can be read only one way (``1/31/2001`` is month-first, ``31/1/2001`` is
day-first), the whole column is read that way; if every value fits both orders (``3/12/2001``),
the file is rejected with a message naming the column and the mapping key to set, with the format
the data shows. A column whose values demand both orders is rejected too. Where the mapping
declares the order, a value that contradicts it is quarantined ``wrong_type`` (see coerce.py).
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from tracelake.contracts import TableContract
from tracelake.errors import FileRejected

__all__ = ["decide_date_orders"]

#: day and month as numbers, then a 2- or 4-digit year, then perhaps a time of day
_NUMERIC = (r"^(?P<a>\d{1,2})(?P<sep>[/.\-])(?P<b>\d{1,2})(?P<sep2>[/.\-])(?P<year>\d{4}|\d{2})"
            r"(?:(?P<tsep>[ T])(?P<h>\d{1,2}):(?P<m>\d{2})(?P<s>:\d{2})?)?$")


def decide_date_orders(frame: pl.DataFrame, contract: TableContract, *, dayfirst: bool,
                       date_formats: tuple[str, ...], path: str | Path,
                       source: str | None = None) -> dict[str, tuple[str, ...]]:
    """Column -> the strftime formats its numeric dates are read with, decided from the data.

    Nothing is decided where the mapping declares the order (``dayfirst`` or ``date_formats``).
    Raises FileRejected (naming the column and the key to set) where the data cannot decide.
    """
    if dayfirst or date_formats:
        return {}
    out: dict[str, tuple[str, ...]] = {}
    for name, dtype in contract.dtypes.items():
        if name not in frame.columns or not (dtype == pl.Date or isinstance(dtype, pl.Datetime)):
            continue
        # only the distinct values written day/month-wise are looked at: an ISO column (a
        # report's times, 10^6 rows) costs one cheap scan, not a struct of nine groups a row
        text = frame[name].cast(pl.String).str.strip_chars()
        text = text.filter(text.str.contains(r"^\d{1,2}[/.\-]\d{1,2}[/.\-]")).unique(
            maintain_order=True)
        parts = text.str.extract_groups(_NUMERIC).struct.unnest().filter(
            pl.col("a").is_not_null() & (pl.col("sep") == pl.col("sep2")))
        if not parts.height:
            continue
        a, b = parts["a"].cast(pl.Int64), parts["b"].cast(pl.Int64)
        day_first = parts.filter(a > 12)
        month_first = parts.filter(b > 12)
        forms = _forms(parts)
        where = f"source {source!r}" if source and source != "default" else "a mapping for it"
        if day_first.height and month_first.height:
            raise FileRejected(str(path), (
                f"dates in {name} contradict each other: {_example(day_first)} is day-first "
                f"but {_example(month_first)} is month-first; nothing is guessed: correct the "
                f"export, or declare the order in {where} (date_formats: "
                f"[{_fmt(forms[0], False)!r}])"), column=name)
        if day_first.height:
            out[name] = tuple(_fmt(f, True) for f in forms)
        elif month_first.height:
            out[name] = tuple(_fmt(f, False) for f in forms)
        else:
            raise FileRejected(str(path), (
                f"every date in {name} (e.g. {_example(parts)}) fits both day-first and "
                f"month-first, so its order cannot be told from the data; set it in {where}: "
                f"date_formats: [{_fmt(forms[0], False)!r}] if month first, or "
                f"date_formats: [{_fmt(forms[0], True)!r}] (or dayfirst: true) if day first"),
                column=name)
    return out


def _forms(parts: pl.DataFrame) -> list[tuple[str, int, str | None, bool]]:
    """The written forms present: (separator, year digits, time separator, seconds)."""
    rows = parts.select(
        "sep", pl.col("year").str.len_chars().alias("y"), "tsep",
        pl.col("s").is_not_null().alias("sec")).unique(maintain_order=True)
    return [tuple(r) for r in rows.iter_rows()]  # type: ignore[misc]


def _fmt(form: tuple[str, int, str | None, bool], day_first: bool) -> str:
    sep, year, tsep, sec = form
    first, second = ("%d", "%m") if day_first else ("%m", "%d")
    out = f"{first}{sep}{second}{sep}{'%Y' if year == 4 else '%y'}"
    if tsep:
        out += f"{tsep}%H:%M" + (":%S" if sec else "")
    return out


def _example(parts: pl.DataFrame) -> str:
    row = parts.row(0, named=True)
    text = f"{row['a']}{row['sep']}{row['b']}{row['sep']}{row['year']}"
    return repr(text)
