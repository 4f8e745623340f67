"""Readers: one source file in, one frame of text columns out, with the source row of every record.

:func:`read_source` (in :mod:`.dispatch`) reads any file with the reader its format needs. The
names below are imported when first used, so that a module of this package that needs only
lxml (the JUnit walk a reading process runs, :mod:`.junit_walk`) starts without polars.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from tracelake.intake.readers.base import PROBLEM_SCHEMA, ROW, RawFrame, no_problems
    from tracelake.intake.readers.dispatch import (
        REPORT_TABLE,
        SUFFIXES,
        read_source,
        report_format,
    )
    from tracelake.intake.readers.tabular import detect_delimiter

__all__ = ["PROBLEM_SCHEMA", "REPORT_TABLE", "ROW", "SUFFIXES", "RawFrame", "detect_delimiter",
           "no_problems", "read_source", "report_format"]

_HOME = {"PROBLEM_SCHEMA": "base", "ROW": "base", "RawFrame": "base", "no_problems": "base",
         "REPORT_TABLE": "dispatch", "SUFFIXES": "dispatch", "read_source": "dispatch",
         "report_format": "dispatch", "detect_delimiter": "tabular"}


def __getattr__(name: str) -> Any:
    home = _HOME.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f"{__name__}.{home}"), name)
    globals()[name] = value
    return value
