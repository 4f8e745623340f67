"""Rows of ``test_results`` as a report reader gathers them: columns of text, then a RawFrame.

Report readers stream a file and call :meth:`ResultRows.add` for every measurement and
:meth:`ResultRows.quarantine` for a result that cannot stand (an errored step). What a report
says once for a whole run (serial, station, operator, software version, run id, start time) is
given per *scope* (:meth:`ResultRows.scope`: one UUT report, one ATML TestResults, one JUnit
suite) and joined onto the rows at the end, because some formats write it after the results.
Rows are kept as text columns and packed into Arrow chunks every :data:`CHUNK` rows, so a large
report's rows take little memory; read for an ingest (``stream=True``) the chunks go to disk
(:class:`~.spool.Spool`) and the RawFrame hands them back one at a time (:class:`RowChunks`), so
the whole file's rows are never in memory at once. Columns the contract does not know (``comparison``,
``limits``, ``status``, ``step_type``, ``sequence``, ``step_id``) ride along into ``_extra``.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from datetime import datetime

import polars as pl

from tracelake.intake.readers.base import PROBLEM_SCHEMA, ROW, RawFrame, no_problems
from tracelake.intake.readers.live import Watch
from tracelake.intake.readers.spool import Spool
from tracelake.intake.readers.values import number_text, offset_time, verdict

__all__ = ["COLUMNS", "ResultRows", "RowChunks", "number_text", "offset_time", "verdict"]

#: Columns a report reader fills: the contract's, then what the report says beside them.
COLUMNS = ("serial_number", "equipment_id", "test_step", "measurement", "value", "units",
           "low_limit", "high_limit", "result", "tested_at", "operator", "software_version",
           "run_id", "comparison", "limits", "status", "step_type", "sequence", "step_id")
CONTRACT_COLUMNS = COLUMNS[:13]
RUN_FIELDS = ("serial_number", "equipment_id", "operator", "software_version", "run_id")
SCOPE, OFFSET = "_scope", "_offset"  # internal: the row's run, and its time on the run's clock
CHUNK = 50_000

class ResultRows:
    """test_results rows gathered column by column and packed into Arrow chunks."""

    def __init__(self, path: str, report_format: str, *, stream: bool | Watch = False) -> None:
        """``stream``: keep the packed chunks on disk and finish as :class:`RowChunks`; a
        :class:`~.live.Watch`: so too, telling it of every chunk written and run ended, for a
        caller taking the final chunks while the read goes on."""
        self.path = path
        self.report_format = report_format
        self._names = (*COLUMNS, ROW, SCOPE, OFFSET)
        self._cols: dict[str, list[object]] = {c: [] for c in self._names}
        self._chunks: list[pl.DataFrame] = []
        self.count = 0
        self.problems: list[dict[str, object]] = []
        self.skipped: Counter[str] = Counter()
        self.notes: list[str] = []
        self.scopes: dict[int, dict[str, object]] = {}
        self.current = 0
        self._spool = Spool() if stream else None
        self._watch = stream if isinstance(stream, Watch) else None
        if self._watch is not None:
            self._watch.attach(self)
        self._row_numbers: list[pl.Series] = []  # streamed: every chunk's ROW (8 bytes a row)
        self._filled: Counter[str] = Counter()  # streamed: non-null values per column
        self._run_values: list[pl.DataFrame] = []  # streamed: per scope, any operator/station

    @property
    def spool(self) -> Spool | None:
        """Where a streamed read keeps its chunks."""
        return self._spool

    def discard(self) -> None:
        """Drop the rows kept so far (the reader failed: nothing of the file is loaded)."""
        self._chunks = []
        if self._spool is not None:
            self._spool.close()

    def _keep(self, chunk: pl.DataFrame) -> None:
        """A packed chunk: kept in memory, or (streamed) written out with what finishing needs
        to know of the whole file (row numbers, which columns hold anything)."""
        if self._spool is None:
            self._chunks.append(chunk)
            return
        self._spool.write(chunk)
        self._row_numbers.append(chunk[ROW])
        for name, n in zip(chunk.columns, chunk.null_count().row(0), strict=True):
            self._filled[name] += chunk.height - n
        self._run_values.append(chunk.group_by(SCOPE).agg(
            pl.col("operator").is_not_null().any(), pl.col("equipment_id").is_not_null().any()))
        if self._watch is not None:
            self._watch.written(int(chunk[SCOPE].max() or 0), self._kept_columns())

    def scope(self, values: dict[str, object]) -> None:
        """What the current run (report, suite) says for all its rows: RUN_FIELDS, plus
        ``start`` (a datetime) and ``base`` (the run's clock at ``start``) for offset times."""
        self.scopes.setdefault(self.current, {}).update(
            {k: v for k, v in values.items() if v is not None})

    def next_scope(self) -> None:
        """Rows added from now on belong to a new run."""
        if self._watch is not None:  # its rows not yet written are final when their chunk is
            self._watch.ended(self.current, dict(self.scopes.get(self.current, {})))
        self.current += 1

    def add(self, row: int, values: dict[str, str | None], offset: float | None = None) -> None:
        """One measurement; ``row`` is its element's line (or ordinal) in the report, ``offset``
        its time on the run's clock (see :meth:`scope`) when the report gives no timestamp."""
        cols = self._cols
        for name in COLUMNS:
            cols[name].append(values.get(name))
        cols[ROW].append(row)
        cols[SCOPE].append(self.current)
        cols[OFFSET].append(offset)
        self.count += 1
        if len(cols[ROW]) >= CHUNK:
            self._flush()

    def add_frame(self, frame: pl.DataFrame) -> None:
        """Rows a reader built column-wise itself (a chunk of any of :data:`COLUMNS`, plus
        ``_row``, ``_scope`` and ``_offset``): the fast path for formats with many small rows."""
        self._flush()
        schema = self._schema()
        self._keep(frame.select(
            (pl.col(c).cast(schema[c]) if c in frame.columns
             else pl.lit(None, dtype=schema[c]).alias(c)) for c in self._names))
        self.count += frame.height

    def _flush(self) -> None:
        if not self._cols[ROW]:
            return
        self._keep(pl.DataFrame(self._cols, schema=self._schema()))
        self._cols = {c: [] for c in self._names}

    def quarantine(self, row: int, rule: str, message: str, values: dict[str, str | None],
                   column: str | None = "result", offset: float | None = None) -> None:
        """A result kept out of the lake, with its reason and what the report said."""
        raw = {k: v for k, v in values.items() if v is not None}
        self.problems.append({ROW: row, "column": column, "rule": rule, "message": message,
                              "raw": raw, SCOPE: self.current, OFFSET: offset})

    def skip(self, kind: str, n: int = 1) -> None:
        """Count a step that measures nothing (an action, a label, flow control)."""
        self.skipped[kind] += n

    def scope_of_rows(self) -> set[int]:
        """Scopes that hold at least one row or quarantined result."""
        return set(self.scopes) | {int(p[SCOPE]) for p in self.problems}  # type: ignore[call-overload]

    def finish(self) -> RawFrame:
        """The RawFrame: run-wide values filled where a row has none, offsets made times.

        Chunk by chunk, so that finishing a large report holds one chunk's copy at a time."""
        self._flush()
        table = self._scope_table()
        if self._spool is not None:
            return self._finish_streamed(table)
        chunks, self._chunks = self._chunks, []
        for i, chunk in enumerate(chunks):
            chunks[i] = self._apply_scopes(chunk, table)
        frame = pl.concat(chunks, rechunk=False) if chunks else \
            self._apply_scopes(pl.DataFrame(schema=self._schema()), table)
        del chunks
        if frame[ROW].n_unique() != frame.height:  # several results on one line: number them
            frame = frame.with_columns(pl.int_range(1, frame.height + 1, dtype=pl.Int64).alias(ROW))
            self.notes.append("rows are numbered by result order (the report puts several "
                              "results on one line)")
        frame = frame.select([c for c in frame.columns if c in CONTRACT_COLUMNS or c == ROW
                              or frame[c].null_count() < frame.height])
        lacking = [c for c in ("operator", "equipment_id")
                   if frame.height and frame[c].null_count() == frame.height]
        return RawFrame(frame, self._problem_frame(), notes=self._notes(lacking),
                        skipped=sum(self.skipped.values()), report_format=self.report_format)

    def _finish_streamed(self, table: pl.DataFrame) -> RawFrame:
        """The RawFrame of a streamed read: what :meth:`finish` decides over the whole frame
        (numbering, columns kept, notes) decided from what :meth:`_keep` noted, and the rows
        left on disk for :class:`RowChunks` to hand back chunk by chunk."""
        spool = self._spool
        assert spool is not None
        numbers = pl.concat(self._row_numbers) if self._row_numbers else \
            pl.Series(ROW, [], pl.Int64)
        self._row_numbers = []
        renumber = numbers.n_unique() != numbers.len()
        del numbers
        if renumber:
            self.notes.append("rows are numbered by result order (the report puts several "
                              "results on one line)")
        columns = self._kept_columns()
        lacking = []
        if spool.rows:
            seen = (pl.concat(self._run_values).group_by(SCOPE).agg(pl.all().any())
                    .join(table, on=SCOPE, how="left"))
            lacking = [c for c in ("operator", "equipment_id")
                       if not (seen[c] | seen[f"_s_{c}"].is_not_null()).any()]
        self._run_values = []
        chunks = RowChunks(spool, table, columns, renumber)
        return RawFrame(chunks.empty(), self._problem_frame(), notes=self._notes(lacking),
                        skipped=sum(self.skipped.values()), report_format=self.report_format,
                        chunks=chunks)

    @staticmethod
    def runs_of(chunk: pl.DataFrame) -> list[int]:
        """The runs (scopes) a packed chunk holds rows of."""
        return chunk[SCOPE].unique().to_list()

    @classmethod
    def finish_chunk(cls, chunk: pl.DataFrame,
                     runs: dict[int, dict[str, object]]) -> pl.DataFrame:
        """A packed chunk finished with the values of ``runs`` (as :meth:`finish` does)."""
        return cls._apply_scopes(chunk, cls.scope_table(runs))

    def _kept_columns(self) -> list[str]:
        """The contract's columns, ROW, and every other column some row filled."""
        return [c for c in (*COLUMNS, ROW) if c in CONTRACT_COLUMNS or c == ROW
                or self._filled[c] > 0]

    def _problem_frame(self) -> pl.DataFrame:
        if not self.problems:
            return no_problems()
        return pl.DataFrame([self._problem_row(p) for p in self.problems], schema=PROBLEM_SCHEMA)

    def _notes(self, lacking: list[str]) -> list[str]:
        """The reader's notes, then a note per run-wide column every row lacks, the steps
        skipped, and the format read."""
        notes = list(self.notes)
        for column in lacking:
            notes.append(f"the {self.report_format} report names no {column}: every row "
                         f"lacks it; a mapping for these files can give it (constants: "
                         f"{{{column}: ...}})")
        total = sum(self.skipped.values())
        if total:
            kinds = ", ".join(f"{n} {k}" for k, n in self.skipped.most_common())
            notes.append(f"{total} step(s) that measure nothing skipped ({kinds})")
        notes.append(f"read as a test-executive report ({self.report_format})")
        return notes

    @staticmethod
    def _schema() -> dict[str, pl.DataType]:
        return {**{c: pl.String() for c in COLUMNS}, ROW: pl.Int64(), SCOPE: pl.Int64(),
                OFFSET: pl.Float64()}

    def _scope_table(self) -> pl.DataFrame:
        return self.scope_table(self.scopes)

    @staticmethod
    def scope_table(scopes: dict[int, dict[str, object]]) -> pl.DataFrame:
        """One row per run: its values (RUN_FIELDS), start and clock base, to join on rows."""
        rows = []
        for sid, v in scopes.items():
            start = v.get("start")
            rows.append({SCOPE: sid, **{f"_s_{c}": v.get(c) for c in RUN_FIELDS},
                         "_s_start": start if isinstance(start, datetime) else None,
                         "_s_base": float(v["base"]) if v.get("base") is not None else 0.0})
        schema = {SCOPE: pl.Int64, **{f"_s_{c}": pl.String for c in RUN_FIELDS},
                  "_s_start": pl.Datetime("us"), "_s_base": pl.Float64}
        return pl.DataFrame(rows, schema=schema)

    @staticmethod
    def _apply_scopes(frame: pl.DataFrame, table: pl.DataFrame) -> pl.DataFrame:
        out = frame.join(table, on=SCOPE, how="left", maintain_order="left")
        when = (pl.col("_s_start") + pl.duration(
            microseconds=((pl.col(OFFSET) - pl.col("_s_base")) * 1e6).round(0).cast(pl.Int64)))
        exprs = [pl.coalesce(c, f"_s_{c}").alias(c) for c in RUN_FIELDS]
        exprs.append(pl.coalesce("tested_at", when.dt.strftime("%Y-%m-%dT%H:%M:%S%.3f"))
                     .alias("tested_at"))
        return out.with_columns(exprs).select([*COLUMNS, ROW])

    def _problem_row(self, p: dict[str, object]) -> dict[str, object]:
        v = self.scopes.get(int(p[SCOPE]), {})  # type: ignore[call-overload]
        raw = dict(p["raw"])  # type: ignore[call-overload]
        for c in RUN_FIELDS:
            if v.get(c) and not raw.get(c):
                raw[c] = v[c]
        if not raw.get("tested_at") and isinstance(v.get("start"), datetime):
            base = float(v["base"]) if v.get("base") is not None else 0.0  # type: ignore[arg-type]
            offset = p[OFFSET]
            raw["tested_at"] = offset_time(v["start"],  # type: ignore[arg-type]
                                           None if offset is None else float(offset) - base)  # type: ignore[arg-type]
        return {ROW: p[ROW], "column": p["column"], "rule": p["rule"], "message": p["message"],
                "raw": json.dumps(raw, ensure_ascii=False)}


class RowChunks:
    """A streamed report's rows, handed back from disk one chunk at a time, each finished as
    :meth:`ResultRows.finish` finishes the whole frame (run-wide values, times, numbering,
    the columns kept)."""

    def __init__(self, spool: Spool, table: pl.DataFrame, columns: list[str],
                 renumber: bool) -> None:
        self._spool, self._table = spool, table
        self.columns, self.renumber = columns, renumber
        self.height = spool.rows

    def empty(self) -> pl.DataFrame:
        """No rows, with the columns (and types) of every chunk."""
        schema = {c: pl.Int64() if c == ROW else pl.String() for c in self.columns}
        return pl.DataFrame(schema=schema)

    def __iter__(self) -> Iterator[pl.DataFrame]:
        first = 1
        for chunk in self._spool.read():
            out = ResultRows._apply_scopes(chunk, self._table)
            if self.renumber:
                out = out.with_columns(pl.int_range(first, first + out.height,
                                                    dtype=pl.Int64).alias(ROW))
            first += out.height
            yield out.select(self.columns)

    def as_read(self, columns: list[str]) -> Iterator[pl.DataFrame]:
        """Only ``columns`` of every chunk, as the reader wrote them (no run-wide value filled
        in, no time made from the run's clock): a cheap look at what the report itself says."""
        yield from self._spool.read(columns)

    def close(self) -> None:
        """Delete the rows on disk (they cannot be read again)."""
        self._spool.close()
