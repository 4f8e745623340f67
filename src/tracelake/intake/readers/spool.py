"""A report's rows kept on disk chunk by chunk while the report is read, then read back one at a time.

A test-executive report says some of what its rows need only at its end (TestStand writes the
run's clock and software version in the root result, after every step; a JUnit suite may list
its properties after its cases), so no row is final before the whole file has been read. The
report readers therefore write each packed chunk of rows to an Arrow IPC file in a private
temporary folder instead of holding the whole file's rows in memory, and the ingest reads them
back one chunk at a time to type, check and stage them. The folder goes when the rows are done
with (:meth:`Spool.close`), or when the reader fails (a truncated report), or at the latest when
the object is collected.
"""

from __future__ import annotations

import shutil
import tempfile
import weakref
from collections.abc import Iterator
from pathlib import Path

import polars as pl

__all__ = ["Spool"]


class Spool:
    """Chunks of rows written to a private temporary folder and read back in order."""

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="tracelake-rows-"))
        self.chunks = 0
        self.rows = 0
        self._gone = weakref.finalize(self, shutil.rmtree, self.dir, ignore_errors=True)

    def write(self, frame: pl.DataFrame) -> None:
        """Keep one chunk (LZ4-compressed: report text repeats a lot, so little disk and I/O)."""
        frame.write_ipc(self.dir / f"{self.chunks:07d}.arrow", compression="lz4")
        self.chunks += 1
        self.rows += frame.height

    def read(self, columns: list[str] | None = None) -> Iterator[pl.DataFrame]:
        """The chunks in the order written (only ``columns``, if given), one in memory at a time."""
        for i in range(self.chunks):
            yield pl.read_ipc(self.dir / f"{i:07d}.arrow", columns=columns)

    def read_one(self, i: int) -> pl.DataFrame:
        """Chunk ``i`` (counted from 0 in the order written)."""
        return pl.read_ipc(self.dir / f"{i:07d}.arrow")

    def close(self) -> None:
        """Delete the folder and its chunks (idempotent)."""
        self._gone()
