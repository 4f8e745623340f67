"""A read-only query run in a child process, for servers shared by many users (the dashboards'
Ask page): the query's memory and threads are the child's, and a query past its time limit is
killed with the child, so one user's query cannot starve the others or the server.

The child is ``python -m tracelake.lake.query_process``: it imports what a query needs, then
reads the request as JSON on stdin, runs :func:`tracelake.lake.query.run_sql` with the limits,
and writes the result as Arrow IPC on stdout, or the error (class and one-line message) as JSON
on stderr with exit code 3. A server that asks often (``spare=True``) keeps the next child
started and waiting on its stdin, so a user's query does not wait for Python and its imports
(~1-3 s on 2 cores); a waiting child whose parent is gone reads end-of-file and exits.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
import threading
from pathlib import Path

import polars as pl

from tracelake import errors
from tracelake.lake.query import DEFAULT_MEMORY, DEFAULT_TIMEOUT, memory_setting, read_query
from tracelake.lake.storage import LakePaths

__all__ = ["keep_child_ready", "run_sql_in_child"]

#: Seconds the child may take on top of the query's limit (starting Python, opening the lake).
STARTUP_GRACE = 20.0
_ERRORS = {"QueryRefused": errors.QueryRefused, "QueryStopped": errors.QueryStopped,
           "InputError": errors.InputError, "LakeNotFound": errors.LakeNotFound,
           "LakeError": errors.LakeError}
_CHILD = [sys.executable, "-m", "tracelake.lake.query_process"]
_spare: subprocess.Popen[bytes] | None = None
_spare_lock = threading.Lock()


def _start() -> subprocess.Popen[bytes]:
    return subprocess.Popen(_CHILD, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)


def keep_child_ready() -> None:
    """Start the spare child now if none is waiting (a page about to ask: the child's start-up
    then overlaps the user's typing)."""
    global _spare
    with _spare_lock:
        if _spare is None or _spare.poll() is not None:
            _spare = _start()


def _take_child(spare: bool) -> subprocess.Popen[bytes]:
    """A child for this query: the waiting spare if it is still alive (a new spare started in
    its place), else a new one."""
    global _spare
    if not spare:
        return _start()
    with _spare_lock:
        child, _spare = _spare, None
        if child is None or child.poll() is not None:
            child = _start()
        _spare = _start()
    return child


def run_sql_in_child(lake: LakePaths, sql: str, *, timeout: float = DEFAULT_TIMEOUT,
                     memory: str = DEFAULT_MEMORY, as_of: str | None = None,
                     spare: bool = False) -> pl.DataFrame:
    """Run one read-only query on the lake's snapshot in a child process, within the limits
    (on the lake as it stood at ``as_of``, if given); ``spare``: keep the next child started."""
    read_query(sql)  # refuse writes before starting a process
    memory_setting(memory)
    request = json.dumps({"lake": str(lake.root), "sql": sql, "timeout": timeout,
                          "memory": memory, "as_of": as_of})
    child = _take_child(spare)
    try:
        out, err = child.communicate(request.encode(), timeout=timeout + STARTUP_GRACE)
    except subprocess.TimeoutExpired:
        child.kill()
        child.communicate()
        raise errors.QueryStopped(f"the query ran past its time limit of {timeout:g} s and was "
                                  "stopped") from None
    if child.returncode == 0:
        return pl.read_ipc(io.BytesIO(out))
    try:
        doc = json.loads(err.decode("utf-8", "replace").strip().splitlines()[-1])
        cls = _ERRORS.get(doc["error"], errors.InputError)
        message = doc["message"]
    except (ValueError, KeyError, IndexError):
        cls = errors.QueryStopped
        message = (f"the query process ended without an answer (exit {child.returncode}); "
                   f"it probably ran out of memory (limit {memory})")
    raise cls(message)


def _child() -> int:
    from tracelake.lake.query import run_sql

    raw = sys.stdin.read()
    if not raw.strip():  # a spare whose server stopped: nothing was asked
        return 0
    request = json.loads(raw)
    try:
        frame = run_sql(LakePaths.of(Path(request["lake"])), request["sql"],
                        timeout=request["timeout"], memory=request["memory"],
                        as_of=request.get("as_of"))
    except errors.TracelakeError as exc:
        sys.stderr.write(json.dumps({"error": type(exc).__name__, "message": str(exc)}) + "\n")
        return 3
    buf = io.BytesIO()
    frame.write_ipc(buf)
    sys.stdout.buffer.write(buf.getvalue())
    return 0


if __name__ == "__main__":
    sys.exit(_child())
