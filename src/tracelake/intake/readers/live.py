"""A report's rows handed to the ingest while the report is still being read.

A large JUnit file is walked in a process of its own (:mod:`.junit_walk`), so that walking the
XML (Python, one core) and typing, checking and writing the rows already walked (the ingest,
the other core) overlap. The ingest asks for the rows chunk by chunk (:class:`LiveChunks`);
each request pulls the walk's events on (``pump``) until the chunk it needs is final.

A chunk is final once every run (scope) it holds has ended: a run's serial, station and clock
may be written after its results (see :mod:`.results`). Three more things are known only at
the end of the file: which optional columns any row fills, whether rows must be numbered by
order (several results on one line), and each run's values as the end of the file leaves
them. Rows handed out early assume what the file said when its first chunk was final; once
the file has been read, :meth:`LiveChunks.settle` compares the whole file's answers with those
assumptions and raises :class:`Provisional` when they differ, and the ingest then loads the
file again from the rows on disk (:meth:`LiveChunks.result`: they are kept until it closes).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Protocol

import polars as pl

from tracelake.intake.readers.base import ROW, RawFrame, no_problems
from tracelake.intake.readers.spool import Spool

__all__ = ["LiveChunks", "Provisional", "Watch", "start"]


class _Rows(Protocol):
    """What is asked of the reader's :class:`~.results.ResultRows` (which tells the Watch)."""

    report_format: str
    scopes: dict[int, dict[str, object]]

    @property
    def spool(self) -> Spool | None: ...  # pragma: no cover

    def runs_of(self, chunk: pl.DataFrame) -> list[int]: ...  # pragma: no cover

    def finish_chunk(self, chunk: pl.DataFrame,
                     runs: dict[int, dict[str, object]]) -> pl.DataFrame: ...  # pragma: no cover


class Provisional(Exception):
    """The whole report contradicts what its rows handed out early assumed: load it again."""


class Watch:
    """What a reader's :class:`~.results.ResultRows` tells the caller taking rows early: each
    chunk it writes (:meth:`written`) and each run it ends (:meth:`ended`). ``pump`` moves the
    reading on by a step (False once it has ended; its result is then ``result``)."""

    def __init__(self, pump: Callable[[], bool], close: Callable[[], None]) -> None:
        self._pump, self._close = pump, close
        self.rows: _Rows | None = None
        self.chunk_scopes: list[int] = []  # per chunk written, the last run it holds rows of
        self.open = 0  # the run being read: every lower one has ended
        self.ended_runs: dict[int, dict[str, object]] = {}
        self.columns: list[str] = []  # the columns the file's rows filled, as of the last chunk
        self.done = False
        self.result: RawFrame | None = None

    # -- told by ResultRows ------------------------------------------------------------------
    def attach(self, rows: _Rows) -> None:
        """The reader's row gatherer (it calls this as it is made)."""
        self.rows = rows

    def written(self, max_scope: int, columns: list[str]) -> None:
        """One more chunk is on disk, holding rows of runs up to ``max_scope``."""
        self.chunk_scopes.append(max_scope)
        self.columns = columns

    def ended(self, scope: int, values: dict[str, object]) -> None:
        """Run ``scope`` ended with ``values``."""
        self.ended_runs[scope] = values
        self.open = scope + 1

    # -- asked by the caller -----------------------------------------------------------------
    def final(self, i: int) -> bool:
        """Whether chunk ``i`` is written and every run it holds has ended."""
        return i < len(self.chunk_scopes) and (self.done or self.chunk_scopes[i] < self.open)

    def until(self, ready: Callable[[], bool]) -> None:
        """Pump until ``ready()`` or the end of the read."""
        while not self.done and not ready():
            if not self._pump():
                self.done = True

    def close(self) -> None:
        """Stop the reading (if it still runs) and let go of what it holds."""
        self._close()


def start(watch: Watch) -> RawFrame:
    """Pump until the first chunk is final: the reader's RawFrame when the read ended first
    (a small file, or one rejected), else a RawFrame whose rows come as the read goes
    (:class:`LiveChunks`; its columns are the ones assumed, its other fields filled once the
    read ends, by :meth:`LiveChunks.settle`)."""
    try:
        watch.until(lambda: watch.final(0))
        if watch.done:
            assert watch.result is not None
            return watch.result
    except BaseException:
        watch.close()
        raise
    live = LiveChunks(watch, list(watch.columns))
    schema = {c: pl.Int64() if c == ROW else pl.String() for c in live.columns}
    report_format = watch.rows.report_format if watch.rows is not None else None
    return RawFrame(pl.DataFrame(schema=schema), no_problems(), chunks=live,
                    report_format=report_format)


class LiveChunks:
    """A report's rows handed out as the read goes (the :class:`~.base.Chunks` of a RawFrame
    from :func:`start`), each chunk finished with the values of the runs ended when it became
    final; :meth:`settle` then checks those assumptions against the whole file."""

    def __init__(self, watch: Watch, columns: list[str]) -> None:
        self.watch = watch
        self.columns = columns
        self._used: dict[int, dict[str, object]] = {}  # each run's values as handed out

    @property
    def height(self) -> int:
        """Rows in the file (the read is finished first)."""
        return self.result().chunks.height  # type: ignore[union-attr]

    def result(self) -> RawFrame:
        """The reader's RawFrame (reading to the end first); its rows are still on disk."""
        self.watch.until(lambda: False)
        assert self.watch.result is not None
        return self.watch.result

    def __iter__(self) -> Iterator[pl.DataFrame]:
        watch = self.watch
        i = 0
        while True:
            watch.until(lambda i=i: watch.final(i))  # type: ignore[misc]
            if not watch.final(i):
                return
            rows = watch.rows
            assert rows is not None and rows.spool is not None
            chunk = rows.spool.read_one(i)
            runs = {s: watch.ended_runs[s] for s in rows.runs_of(chunk)
                    if s in watch.ended_runs}
            self._used.update(runs)
            if watch.done:  # the read ended: the whole file's values (checked in settle)
                runs = rows.scopes
            yield rows.finish_chunk(chunk, runs).select(self.columns)
            i += 1

    def settle(self) -> RawFrame:
        """The reader's RawFrame, once the whole file agrees with what the rows handed out
        assumed (its columns, no renumbering, the same values for every run); else
        :class:`Provisional`."""
        final = self.result()
        chunks = final.chunks
        rows = self.watch.rows
        ended = rows.scopes if rows is not None else {}
        same = (chunks is not None and getattr(chunks, "columns", None) == self.columns
                and not getattr(chunks, "renumber", True)
                and all(ended.get(s, {}) == v for s, v in self._used.items()))
        if not same:
            raise Provisional
        return final

    def as_read(self, columns: list[str]) -> Iterator[pl.DataFrame]:
        """Only ``columns`` of every chunk as the reader wrote them (the read is finished first)."""
        yield from self.result().chunks.as_read(columns)  # type: ignore[union-attr]

    def close(self) -> None:
        """Stop the reading if it still runs, and delete the rows on disk."""
        self.watch.close()
