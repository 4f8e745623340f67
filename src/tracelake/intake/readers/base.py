"""What every reader hands back: a frame of text columns with the source row of every record.

Every reader returns a :class:`RawFrame`: all columns as text exactly as they came (headers as
written, before any mapping), a ``_row`` column with the row (or report line) a user finds the
record at, and the records the reader could read only in part (``problems``) so the caller can
quarantine them with a reason. A file that cannot be read at all raises
:class:`~tracelake.errors.FileRejected`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import polars as pl

__all__ = ["PROBLEM_SCHEMA", "ROW", "RawFrame", "no_problems"]

#: Name of the column holding each record's row number in its source file.
ROW = "_row"
PROBLEM_SCHEMA = {ROW: pl.Int64, "column": pl.String, "rule": pl.String, "message": pl.String,
                  "raw": pl.String}


@dataclass
class RawFrame:
    """What a reader got out of one file."""

    frame: pl.DataFrame  # text columns as in the file, plus ROW
    problems: pl.DataFrame  # records read only in part: ROW, column, rule, message, raw
    encoding: str | None = None
    delimiter: str | None = None
    sheet: str | None = None
    notes: list[str] = field(default_factory=list)
    #: report steps that measure nothing (actions, labels, flow control): counted, not rows
    skipped: int = 0
    #: the format a report reader recognised (``teststand``, ``atml``, ``openhtf``, ``junit``)
    report_format: str | None = None

    @property
    def rows_read(self) -> int:
        """Records found in the file (read whole or in part)."""
        return self.frame.height + self.problems.select(pl.col(ROW).n_unique()).item()


def no_problems() -> pl.DataFrame:
    """An empty problem table."""
    return pl.DataFrame(schema=PROBLEM_SCHEMA)
