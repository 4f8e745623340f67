"""JUnit / xUnit XML (``<testsuites>`` / ``<testsuite>``) into ``test_results``.

One row per ``testcase``: the test step is the case's ``name`` (its ``classname`` is kept as
``sequence``); the verdict is ``fail`` with a ``<failure>``, ``pass`` without one; a case with
``<error>`` broke down and is quarantined; a ``<skipped>`` case measured nothing and is counted.
A case's own ``<properties>`` may carry the reading (``value``, ``units``, ``low_limit``,
``high_limit``, ``measurement``), as hardware-test runners write them. The time is the case's
``timestamp`` if it has one, else the suite's ``timestamp`` plus the ``time`` of the cases
before it. The station is the suite's ``hostname`` (or a ``station`` property).

The serial comes from where the mapping says (``serial_from: property:NAME`` or
``serial_from: suite_name``); without that, from a suite property named like a serial
(``serial_number``, ``serial``, ``sn``, ``dut_id``, ``uut_serial``). A suite name is never taken
as a serial unless the mapping says so: a report with no serial is rejected.

The walk over the XML is :mod:`.junit_walk` (lxml only); here its buffers of cases become polars
frames, where hex values, defaults and verdicts are worked out column-wise (a JUnit case is
~250 bytes, so per-case Python work, not parsing, sets the pace). A file of
:data:`PROCESS_BYTES` or more read for an ingest is walked in a process of its own, its rows
handed to the ingest as the walk goes (:mod:`.live`): walking and loading then overlap on two
cores (a 200 MB file: ~9 s of walking, ~5 s of typing, checking and writing).
"""

from __future__ import annotations

import marshal
import os
import queue
import struct
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from typing import IO, Any

import polars as pl

from tracelake.errors import FileRejected
from tracelake.intake.readers.base import ROW, RawFrame
from tracelake.intake.readers.junit_walk import CHUNK, FIELDS, replay, walk
from tracelake.intake.readers.live import Watch, start
from tracelake.intake.readers.results import OFFSET, SCOPE, ResultRows

__all__ = ["read_junit"]

_NUMBERS = ("value", "low_limit", "high_limit")
_SCHEMA = {**dict.fromkeys(FIELDS[:11], pl.String), ROW: pl.Int64, SCOPE: pl.Int64,
           OFFSET: pl.Float64}
assert FIELDS[11:] == (ROW, SCOPE, OFFSET)
#: a file this large, read for an ingest, is walked in a process of its own (a smaller one is
#: walked in a second or less, about what starting a process and its imports cost)
PROCESS_BYTES = 16 << 20
#: the module the walking process runs
WALK_MODULE = "tracelake.intake.readers.junit_walk"
#: cases in a batch of the walking process (one chunk of rows)
WALK_CHUNK = CHUNK
#: batches of cases (20,000 each, ~1.5 MB) the walking process may be ahead of the ingest
_AHEAD = 8
_POLL = 0.2  # seconds between looks while waiting (a Ctrl+C is seen within this)


class _RowsSink:
    """What the walk finds, into :class:`ResultRows`: each buffer of cases one frame (the
    tuples turned into columns in one ``zip``: polars builds a column from a list faster than
    a frame from rows)."""

    def __init__(self, rows: ResultRows) -> None:
        self.rows = rows

    def cases(self, buffer: list[tuple[Any, ...]]) -> None:
        frame = pl.DataFrame(dict(zip(FIELDS, zip(*buffer, strict=True), strict=True)),
                             schema=_SCHEMA)
        self.rows.add_frame(_numbers(frame).with_columns(
            pl.col("measurement").fill_null("verdict")))

    def skip(self, kind: str) -> None:
        self.rows.skip(kind)

    def quarantine(self, row: int, rule: str, message: str, values: dict[str, str | None],
                   offset: float | None) -> None:
        self.rows.quarantine(row, rule, message, values, offset=offset)

    def scope(self, values: dict[str, object]) -> None:
        self.rows.scope(values)

    def next_scope(self) -> None:
        self.rows.next_scope()


def _numbers(frame: pl.DataFrame) -> pl.DataFrame:
    """:func:`~.values.number_text` column-wise on the value and limits: stripped, and hex
    (``0x1A``) as decimal; the hex conversion is worked out only for a chunk that holds any."""
    frame = frame.with_columns(pl.col(*_NUMBERS).str.strip_chars())
    hexed = frame.select(pl.any_horizontal(
        pl.col(c).str.slice(0, 2).str.to_lowercase() == "0x" for c in _NUMBERS).any()).item()
    return frame.with_columns(_number(c) for c in _NUMBERS) if hexed else frame


def _number(column: str) -> pl.Expr:
    """:func:`~.values.number_text` column-wise: hex (``0x1A``) as decimal, others as written."""
    text = pl.col(column).str.strip_chars()
    hexed = text.str.slice(2).str.to_integer(base=16, strict=False).cast(pl.String)
    return (pl.when(text.str.slice(0, 2).str.to_lowercase() == "0x", hexed.is_not_null())
            .then(hexed).otherwise(text).alias(column))


def read_junit(path: Path, *, serial_from: str | None = None, stream: bool = False) -> RawFrame:
    """Read a JUnit/xUnit XML file, streaming; ``serial_from`` as the mapping says; ``stream``:
    hand the rows back chunk by chunk (:class:`~.results.RowChunks`), and for a file of
    :data:`PROCESS_BYTES` or more, while a process of its own walks it (:mod:`.live`)."""
    if stream and sys.executable and path.stat().st_size >= PROCESS_BYTES:
        return _Walker(path, serial_from).start()
    rows = ResultRows(str(path), "JUnit", stream=stream)
    try:
        walk(path, _RowsSink(rows), serial_from, chunk=WALK_CHUNK)
        return rows.finish()
    except BaseException:
        rows.discard()
        raise


class _Walker:
    """A JUnit file walked by ``python -m tracelake.intake.readers.junit_walk`` (lxml only,
    ~40 MB), its events replayed into this process's :class:`ResultRows` as the ingest asks
    for rows. A thread drains the process's output into a small queue, so the walk runs on
    while the ingest works; a failure of the walk (a rejection, or the process dying) is
    raised where the rows are asked for."""

    def __init__(self, path: Path, serial_from: str | None) -> None:
        self.path = path
        self.watch = Watch(self._pump, self.close)
        self.rows = ResultRows(str(path), "JUnit", stream=self.watch)
        self.sink = _RowsSink(self.rows)
        self.errors: IO[bytes] = tempfile.TemporaryFile()  # noqa: SIM115 - closed in release()
        here = str(Path(__file__).resolve().parents[3])  # the folder holding this package
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(
            p for p in (here, os.environ.get("PYTHONPATH")) if p)}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", WALK_MODULE, str(path), serial_from or "", str(WALK_CHUNK)],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=self.errors, env=env)
        self.batches: queue.Queue[bytes | None] = queue.Queue(maxsize=_AHEAD)
        self.stopped = threading.Event()
        self.drain = threading.Thread(target=self._drain, name="tracelake-junit-walk",
                                      daemon=True)
        self.drain.start()

    def start(self) -> RawFrame:
        return start(self.watch)

    def _drain(self) -> None:
        """The thread: length-prefixed batches from the process's stdout into the queue (the
        GIL is released while it waits on the pipe); None at the end of the output, whole or
        not (the pump then says why the walk stopped)."""
        out = self.proc.stdout
        assert out is not None
        try:
            while True:
                head = out.read(8)
                item = None
                if len(head) == 8:
                    size = struct.unpack("<Q", head)[0]
                    data = out.read(size)
                    item = data if len(data) == size else None
                if not self._put(item) or item is None:
                    return
        except (OSError, ValueError):  # the pipe closed under it (the walk was let go)
            self._put(None)

    def _put(self, item: bytes | None) -> bool:
        """Queue ``item``, waiting while the ingest is :data:`_AHEAD` batches behind; False
        once the walk is let go."""
        while not self.stopped.is_set():
            try:
                self.batches.put(item, timeout=_POLL)
                return True
            except queue.Full:
                continue
        return False

    def _pump(self) -> bool:
        """Replay one batch of the walk's events; False once the walk has ended."""
        while True:
            try:
                data = self.batches.get(timeout=_POLL)
                break
            except queue.Empty:
                continue
        if data is None:  # the output ended without the walk's last event
            raise RuntimeError(f"the JUnit walk stopped ({self._why()})")
        last = replay(marshal.loads(data), self.sink)
        if last is None:
            return True
        self.release()
        if last[0] == "rejected":
            raise FileRejected(str(self.path), last[1])
        self.watch.result = self.rows.finish()
        return False

    def _why(self) -> str:
        code = self.proc.wait()
        self.errors.seek(0)
        lines = [x for x in self.errors.read().decode("utf-8", "replace").splitlines() if x]
        return f"exit code {code}" + (f": {lines[-1][:200]}" if lines else "")

    def release(self) -> None:
        """End the process (killed if it still runs) and the thread (idempotent)."""
        self.stopped.set()
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        self.drain.join()
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        self.errors.close()

    def close(self) -> None:
        """End the walk and delete the rows on disk."""
        self.release()
        self.rows.discard()
