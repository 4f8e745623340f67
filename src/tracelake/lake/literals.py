"""Values written into a query's text as SQL literals, for reads that must start fast.

DuckDB's Python client checks every query parameter against ``pandas.NaT`` and ``pandas.NA``
before anything else (``GetPythonObjectType`` in its ``python_conversion.cpp``), and its import
cache imports pandas to do so, with numpy and pyarrow: about half a second of a CLI command
such as ``tracelake find`` or ``tracelake trace``, for one ``?``. A read run through
:func:`execute` gets the same values as literals instead (parsed by DuckDB, never interpreted
as SQL): text quoted with its quotes doubled (DuckDB's standard strings have no escapes; a NUL,
which its parser cannot read inside a literal, is joined in with ``chr(0)``), numbers as
Python writes them, dates and times typed, lists and dicts as DuckDB's list and struct
literals.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Mapping, Sequence
from decimal import Decimal
from numbers import Integral
from typing import Any

import duckdb

__all__ = ["bind", "execute", "literal"]

#: what bind() steps over (quoted text, quoted names, comments) and the placeholders it fills
_TOKENS = re.compile(r"""'(?:[^']|'')*'|"(?:[^"]|"")*"|--[^\n]*|/\*.*?\*/"""
                     r"""|\?|\$([A-Za-z_][A-Za-z0-9_]*|\d+)""", re.S)


def literal(value: Any) -> str:
    """``value`` as a DuckDB literal that reads back as the same value."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, Integral):  # numpy's integers
        return str(int(value))
    if isinstance(value, float):
        # as text cast to DOUBLE: a bare 0.015072930106807741 is read as a DECIMAL first and
        # comes back a different float; the text goes through the float parser, exactly
        return f"'{float(value)!r}'::DOUBLE"
    if isinstance(value, Decimal):
        return str(value) if value.is_finite() else f"'{value}'::DOUBLE"
    if isinstance(value, str):
        return " || chr(0) || ".join("'" + part.replace("'", "''") + "'"
                                     for part in value.split("\x00"))
    if isinstance(value, dt.datetime):
        kind = "TIMESTAMPTZ" if value.tzinfo is not None else "TIMESTAMP"
        return f"{kind} '{value.isoformat(sep=' ')}'"
    if isinstance(value, dt.date):
        return f"DATE '{value.isoformat()}'"
    if isinstance(value, dt.time):
        return f"TIME '{value.isoformat()}'"
    if isinstance(value, uuid.UUID):
        return f"'{value}'::UUID"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(literal(v) for v in value) + "]"
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{literal(str(k))}: {literal(v)}" for k, v in value.items()) + "}"
    if hasattr(value, "tolist"):  # numpy's arrays and other scalars
        return literal(value.tolist())
    raise TypeError(f"no SQL literal for a {type(value).__name__}")


def bind(sql: str, params: Sequence[Any] | Mapping[str, Any] | None = None) -> str:
    """``sql`` with its ``?``, ``$name`` and ``$1`` placeholders replaced by the literals of
    ``params`` (quoted text, quoted names and comments left alone)."""
    if not params:
        return sql
    positional = iter(params) if not isinstance(params, Mapping) else None

    def fill(match: re.Match[str]) -> str:
        token = match.group()
        if token == "?":
            if positional is None:
                raise ValueError("a ? placeholder needs positional parameters")
            return literal(next(positional))
        if match.group(1) is None:
            return token  # quoted text, a quoted name or a comment
        name = match.group(1)
        if isinstance(params, Mapping):
            return literal(params[name])
        return literal(params[int(name) - 1])  # type: ignore[index]

    return _TOKENS.sub(fill, sql)


def execute(con: duckdb.DuckDBPyConnection, sql: str,
            params: Sequence[Any] | Mapping[str, Any] | None = None
            ) -> duckdb.DuckDBPyConnection:
    """``con.execute(sql, params)`` with the values as literals (see the module's note)."""
    return con.execute(bind(sql, params))
