"""What every reader hands back: a frame of text columns with the source row of every record.

Every reader returns a :class:`RawFrame`: all columns as text exactly as they came (headers as
written, before any mapping), a ``_row`` column with the row (or report line) a user finds the
record at, and the records the reader could read only in part (``problems``) so the caller can
quarantine them with a reason. A file that cannot be read at all raises
:class:`~tracelake.errors.FileRejected`. A test-executive report read for an ingest
(``stream=True``) leaves ``frame`` empty (its columns only) and hands its rows back through
``chunks``, one chunk at a time from disk, so a 200 MB report is never one frame in memory.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Protocol

import polars as pl

__all__ = ["PROBLEM_SCHEMA", "ROW", "RawFrame", "no_problems"]

#: Name of the column holding each record's row number in its source file.
ROW = "_row"
PROBLEM_SCHEMA = {ROW: pl.Int64, "column": pl.String, "rule": pl.String, "message": pl.String,
                  "raw": pl.String}


class Chunks(Protocol):
    """A file's rows handed back a chunk at a time (each chunk with the columns of ``frame``)."""

    height: int

    def __iter__(self) -> Iterator[pl.DataFrame]: ...  # pragma: no cover

    def close(self) -> None: ...  # pragma: no cover


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
    #: the rows, when they are handed back chunk by chunk (``frame`` then holds none of them)
    chunks: Chunks | None = None

    @property
    def rows_read(self) -> int:
        """Records found in the file (read whole or in part)."""
        rows = self.chunks.height if self.chunks is not None else self.frame.height
        return rows + self.problems.select(pl.col(ROW).n_unique()).item()

    def close(self) -> None:
        """Let go of rows kept on disk (a no-op for a frame held in memory)."""
        if self.chunks is not None:
            self.chunks.close()


def no_problems() -> pl.DataFrame:
    """An empty problem table."""
    return pl.DataFrame(schema=PROBLEM_SCHEMA)
