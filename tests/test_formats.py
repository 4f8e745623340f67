"""``tracelake sql`` renders DuckDB's rows without polars (exports.formats.render_rows): the same
table, JSON and CSV as the polars path (render_frame) gives for the same answer."""

from __future__ import annotations

import csv
import io
import json
import struct

import duckdb
import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from tracelake.exports.formats import _csv_float, _csv_float32, render_frame, render_rows

QUERY = """
SELECT * FROM (VALUES
  (1, 'J-1', 1.5::DOUBLE, 0.1::FLOAT, 1.50::DECIMAL(5, 2), true, DATE '2026-10-19',
   TIMESTAMP '2026-10-19 08:00:00.5', TIMESTAMPTZ '2026-10-19 08:00:00+00',
   TIME '08:00:00.123', 'a,b', 'x"y', '', ' sp ', 'l1' || chr(10) || 'l2', '=HYPERLINK("x")',
   12345678901234567890::HUGEINT, 'nan'::DOUBLE, '-inf'::DOUBLE, 1e-7::DOUBLE, 3e-5::DOUBLE,
   1e16::DOUBLE, 1e15::DOUBLE, ['a', 'b,c'], {'x': 1, 'd': DATE '2026-01-01'},
   '6c8b3c4e-8f0b-4f55-9c55-7d0f6bbd1f5e'::UUID, -12::TINYINT, 'ünïcode ✓'),
  (NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
   NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL))
  AS t(n, job, d, f, dec, b, day, ts, tstz, tm, comma, quote, empty, spaced, lines, formula,
       huge, nan, ninf, tiny, small, big, plain, list, struct, id, i8, "=text")
"""


def _both(sql: str) -> tuple[pl.DataFrame, list[str], list[str], list[tuple[object, ...]]]:
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    frame = pl.DataFrame(con.sql(sql))
    result = con.execute(sql)
    columns = [d[0] for d in result.description]
    types = [str(d[1]) for d in result.description]
    return frame, columns, types, result.fetchall()


def test_csv_is_the_polars_csv_cell_for_cell() -> None:
    frame, columns, types, rows = _both(QUERY)
    assert render_rows(columns, types, rows, "csv") == render_frame(frame, "csv")
    parsed = list(csv.reader(io.StringIO(render_rows(columns, types, rows, "csv"))))
    assert parsed[0][-1] == "'=text" and parsed[1][columns.index("formula")].startswith("'=")
    assert parsed[1][columns.index("empty")] == "" and parsed[2][columns.index("empty")] == ""


def test_table_is_the_polars_table() -> None:
    frame, columns, types, rows = _both(QUERY.replace("'nan'::DOUBLE", "2.0::DOUBLE"))
    assert render_rows(columns, types, rows, "table") == render_frame(frame, "table")


def test_json_is_the_polars_json_where_polars_keeps_the_type() -> None:
    # polars turns HUGEINT into a decimal (a string in JSON); DuckDB's fetch keeps the integer
    frame, columns, types, rows = _both(QUERY)
    ours, theirs = (json.loads(render_rows(columns, types, rows, "json")),
                    json.loads(render_frame(frame, "json")))
    assert ours["rows"][0].pop("huge") == 12345678901234567890
    assert theirs["rows"][0].pop("huge") == "12345678901234567890"
    assert ours == theirs


def test_an_interval_renders_where_polars_cannot_read_it() -> None:
    # polars panics on DuckDB's INTERVAL (month-day-nano); the rows path prints seconds
    columns, types, rows = _both_rows("SELECT INTERVAL 90 MINUTE AS i")
    assert render_rows(columns, types, rows, "csv") == "i\n5400.0\n"
    assert json.loads(render_rows(columns, types, rows, "json"))["rows"] == [{"i": 5400.0}]


def _both_rows(sql: str) -> tuple[list[str], list[str], list[tuple[object, ...]]]:
    result = duckdb.connect().execute(sql)
    return ([d[0] for d in result.description], [str(d[1]) for d in result.description],
            result.fetchall())


@settings(max_examples=300, deadline=None)
@given(st.floats(allow_nan=False))
def test_doubles_are_written_as_polars_writes_them(value: float) -> None:
    assert _csv_float(value) == pl.DataFrame({"x": [value]}).write_csv().split("\n")[1]


@settings(max_examples=300, deadline=None)
@given(st.floats(width=32, allow_nan=False))
def test_singles_are_written_as_polars_writes_them(value: float) -> None:
    single = struct.unpack("f", struct.pack("f", value))[0]
    expected = pl.DataFrame({"x": pl.Series([single], dtype=pl.Float32)}).write_csv()
    assert _csv_float32(single) == expected.split("\n")[1]
