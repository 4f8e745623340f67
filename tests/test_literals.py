"""tracelake.lake.literals: values bound into a read's text read back as themselves, never as SQL;
and a read bound that way does not make DuckDB's client import pandas."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from decimal import Decimal

import duckdb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tracelake.lake.literals import bind, execute, literal

CON = duckdb.connect()
CON.execute("SET TimeZone = 'UTC'")


def _back(value: object) -> object:
    return CON.execute(f"SELECT {literal(value)}").fetchone()[0]  # type: ignore[index]


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet=st.characters(exclude_categories=["Cs"])))
def test_any_text_reads_back_as_itself(text: str) -> None:
    assert _back(text) == text


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=-(2**63), max_value=2**63 - 1) | st.floats(allow_nan=False)
       | st.booleans() | st.dates() | st.none())
def test_scalars_read_back_as_themselves(value: object) -> None:
    assert _back(value) == value


def test_a_float_with_many_digits_reads_back_exactly() -> None:
    # found by hypothesis: as a bare literal DuckDB read it as a DECIMAL, then a nearby float
    assert _back(0.015072930106807741) == 0.015072930106807741


@pytest.mark.parametrize("value", [
    ["a", "b'c", "--x", "?"], [1, 2, 3], Decimal("1.50"), dt.datetime(2026, 10, 19, 8, 0, 5),
    dt.datetime(2026, 10, 19, 8, 0, tzinfo=dt.UTC), dt.time(8, 30), {"k": "v'", "n": 2},
])
def test_composite_values_read_back(value: object) -> None:
    assert _back(value) == value


def test_numpy_values_read_back() -> None:
    import numpy as np

    assert _back(np.int64(7)) == 7 and _back(np.float64(0.5)) == 0.5
    assert _back(np.array([3, 4], dtype=np.uint32)) == [3, 4]
    assert _back(np.bool_(True)) is True


def test_injection_stays_text() -> None:
    evil = "x'); DROP TABLE t; --"
    CON.execute("CREATE OR REPLACE TABLE t AS SELECT 'x' AS s")
    assert execute(CON, "SELECT count(*) FROM t WHERE s = ?", [evil]).fetchone() == (0,)
    assert CON.execute("SELECT count(*) FROM t").fetchone() == (1,)


def test_placeholders_in_quotes_and_comments_are_left_alone() -> None:
    sql = "SELECT '?' AS a, \"$q\" AS b, $q AS c -- ? $q\n, ? /* ? */"
    assert bind(sql, None) == sql
    assert bind("SELECT ?, $2, $1", [1, "a"]) == "SELECT 1, 'a', 1"
    assert bind("SELECT '?' AS a, $q AS c -- ? $q\n", {"q": "it's"}) == \
        "SELECT '?' AS a, 'it''s' AS c -- ? $q\n"
    CON.execute("CREATE OR REPLACE TABLE \"$q\" AS SELECT 1 AS x")
    assert execute(CON, 'SELECT x, $q FROM "$q"', {"q": "v"}).fetchall() == [(1, "v")]


def test_a_bound_read_does_not_import_pandas() -> None:
    probe = ("import duckdb, json, sys\n"
             "from tracelake.lake.literals import execute\n"
             "con = duckdb.connect()\n"
             "assert execute(con, 'SELECT ?, ?', ['a', 2]).fetchall() == [('a', 2)]\n"
             "assert execute(con, 'SELECT $q', {'q': 'a'}).fetchall() == [('a',)]\n"
             "before = 'pandas' in sys.modules\n"
             "con.execute('SELECT ?', ['a']).fetchall()  # DuckDB's own binding, for contrast\n"
             "print(json.dumps([before, 'pandas' in sys.modules]))")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          timeout=120, check=True)
    assert json.loads(done.stdout) == [False, True]
