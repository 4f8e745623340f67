"""A read-only query run in a child process, for servers shared by many users (the dashboards'
Ask page): the query's memory and threads are the child's, and a query past its time limit is
killed with the child, so one user's query cannot starve the others or the server.

The child is ``python -m tracelake.lake.query_process``: it reads the request as JSON on stdin,
runs :func:`tracelake.lake.query.run_sql` with the limits, and writes the result as Arrow IPC on
stdout, or the error (class and one-line message) as JSON on stderr with exit code 3.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import polars as pl

from tracelake import errors
from tracelake.lake.query import DEFAULT_MEMORY, DEFAULT_TIMEOUT, memory_setting, read_query
from tracelake.lake.storage import LakePaths

__all__ = ["run_sql_in_child"]

#: Seconds the child may take on top of the query's limit (starting Python, opening the lake).
STARTUP_GRACE = 20.0
_ERRORS = {"QueryRefused": errors.QueryRefused, "QueryStopped": errors.QueryStopped,
           "InputError": errors.InputError, "LakeNotFound": errors.LakeNotFound,
           "LakeError": errors.LakeError}


def run_sql_in_child(lake: LakePaths, sql: str, *, timeout: float = DEFAULT_TIMEOUT,
                     memory: str = DEFAULT_MEMORY, as_of: str | None = None) -> pl.DataFrame:
    """Run one read-only query on the lake's snapshot in a child process, within the limits
    (on the lake as it stood at ``as_of``, if given)."""
    read_query(sql)  # refuse writes before starting a process
    memory_setting(memory)
    request = json.dumps({"lake": str(lake.root), "sql": sql, "timeout": timeout,
                          "memory": memory, "as_of": as_of})
    try:
        proc = subprocess.run([sys.executable, "-m", "tracelake.lake.query_process"],
                              input=request.encode(), capture_output=True,
                              timeout=timeout + STARTUP_GRACE, check=False)
    except subprocess.TimeoutExpired:  # subprocess.run kills the child
        raise errors.QueryStopped(f"the query ran past its time limit of {timeout:g} s and was "
                                  "stopped") from None
    if proc.returncode == 0:
        return pl.read_ipc(io.BytesIO(proc.stdout))
    try:
        doc = json.loads(proc.stderr.decode("utf-8", "replace").strip().splitlines()[-1])
        cls = _ERRORS.get(doc["error"], errors.InputError)
        message = doc["message"]
    except (ValueError, KeyError, IndexError):
        cls = errors.QueryStopped
        message = (f"the query process ended without an answer (exit {proc.returncode}); "
                   f"it probably ran out of memory (limit {memory})")
    raise cls(message)


def _child() -> int:
    from tracelake.lake.query import run_sql

    request = json.loads(sys.stdin.read())
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
