"""Columns of a query result turned into Python values in bulk, when an answer is read.

DuckDB converts each TIMESTAMPTZ it hands to Python one value at a time (through pytz), and
each row of ``fetchall()`` into a tuple; for answers of thousands of units that is most of the
cost of a trace. The genealogy and calibration queries fetch Arrow columns instead and build
Python values only when a caller reads the rows: timestamps become datetimes equal to DuckDB's
own (same instant, same tzinfo object).
"""

from __future__ import annotations

import datetime as dt
import gc
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import pyarrow as pa

__all__ = ["ZONE_PROBE", "Records", "datetimes", "no_gc_pauses", "values"]

#: a column to select next to a lookup: DuckDB's conversion of it carries the session's tzinfo
ZONE_PROBE = "TIMESTAMPTZ '2000-01-01 00:00:00+00'"


@contextmanager
def no_gc_pauses() -> Iterator[None]:
    """Hold off Python's cyclic garbage collector while an answer's rows are built.

    Thousands of new dicts, lists and datetimes set off collections of the oldest generation,
    which walk the whole heap: at 1M units they made one where-used answer in twenty take
    70 ms instead of 8. The rows hold no reference cycles, so nothing is left uncollected.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def datetimes(micros: pa.Array | pa.ChunkedArray, zone: dt.tzinfo | None) -> list[dt.datetime | None]:
    """Epoch microseconds (or timestamps; nulls allowed) as the aware datetimes DuckDB returns.

    ``zone`` is the tzinfo of a value DuckDB converted in the same session (``ZONE_PROBE``).
    DuckDB builds each value as the UTC instant moved to the session's zone; for a zone with a
    fixed offset (UTC, as every lake connection is set) that is a replace of the tzinfo.
    """
    if isinstance(micros, pa.ChunkedArray):
        micros = micros.combine_chunks() if micros.num_chunks != 1 else micros.chunk(0)
    if not len(micros):
        return []
    if pa.types.is_timestamp(micros.type):
        micros = micros.cast(pa.timestamp("us")).cast(pa.int64())
    valid = micros.is_valid().to_numpy(zero_copy_only=False)
    naive = micros.fill_null(0).to_numpy(zero_copy_only=False).astype("datetime64[us]") \
        .astype(object).tolist()  # naive UTC datetimes, built in C
    if zone is None:
        zone = dt.UTC
    if not hasattr(zone, "_tzinfos"):  # UTC, or a pytz zone with one fixed offset
        offset = zone.utcoffset(None) or dt.timedelta(0)
        out: list[dt.datetime | None] = [
            (d + offset).replace(tzinfo=zone) for d in naive] if offset else [
            d.replace(tzinfo=zone) for d in naive]
    else:  # a pytz zone with daylight saving: pytz is installed, DuckDB used it
        import pytz

        local = pytz.timezone(zone.zone)  # type: ignore[attr-defined]
        out = [d.replace(tzinfo=pytz.utc).astimezone(local) for d in naive]
    if not valid.all():
        for i in np.flatnonzero(~valid).tolist():
            out[i] = None
    return out


def values(column: pa.ChunkedArray | pa.Array, zone: dt.tzinfo | None) -> list[Any]:
    """A column as the Python values DuckDB's ``fetchall()`` would give."""
    if pa.types.is_timestamp(column.type):
        return datetimes(column, zone)
    return column.to_pylist()


class Records:
    """Rows of a query kept as an Arrow table; ``rows()`` builds one dict per row (keys in
    column order, values as ``fetchall()`` gives them) the first time it is called."""

    def __init__(self, table: pa.Table, zone: dt.tzinfo | None) -> None:
        self.table = table
        self.zone = zone
        self._rows: list[dict[str, Any]] | None = None

    def __len__(self) -> int:
        return self.table.num_rows

    def column(self, name: str) -> list[Any]:
        """One column as Python values."""
        return values(self.table.column(name), self.zone)

    def rows(self) -> list[dict[str, Any]]:
        """One dict per row (built once)."""
        if self._rows is None:
            names = self.table.column_names
            with no_gc_pauses():
                cols = [values(c, self.zone) for c in self.table.columns]
                self._rows = [dict(zip(names, row, strict=True))
                              for row in zip(*cols, strict=True)]
        return self._rows
