"""The scale-out mode's connections: DuckLake on a PostgreSQL catalog, data on a folder or S3.

A connection is an in-memory DuckDB (the writer) or this machine's serving file (a reader) with
the lake ATTACHed as ``lake``. The extensions load from their PyPI wheels (never downloaded).
Everything above this module runs the same SQL in both modes; what DuckLake lacks is handled in
place: no PRIMARY KEY (ledger.py), no UPDATE ... RETURNING (ledger.py), no indexes (the derived
indexes live in the machine's own DuckDB file, not in the lake).

Several writers commit optimistically: every run that changes the lake rewrites the one-row
``lake_version`` table, so two runs that overlap always conflict at COMMIT and the later one is
rolled back and goes again (it then sees the other's rows and files): never a doubled row. It
does not read its files again: their readings were kept aside by the first attempt, and only
the writes are done again (tracelake.ingest.outcome).
"""

from __future__ import annotations

import contextlib

import duckdb

from tracelake.errors import LakeError
from tracelake.lake.config import LakeConfig
from tracelake.lake.extensions import load_extension

__all__ = ["ALIAS", "MAX_RETRIES", "attach", "back_off", "connect", "current_snapshot", "is_conflict",
           "is_ducklake", "load", "retry_conflict"]

#: how often a run that lost its commit to another writer is run again before giving up
MAX_RETRIES = 12

#: the name the lake is attached under in every scale-out connection
ALIAS = "lake"


def connect(database: str = ":memory:", *, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection that can load the lake's extensions quickly.

    The extensions come from the wheels uv installed against the hashes in uv.lock, so DuckDB's
    own signature check of each file (about 1 s per connection for the three, every time) is
    skipped. No user SQL can load anything: ``tracelake sql`` runs reads only, and readers
    switch file access off and lock their configuration once the lake is attached.
    """
    return duckdb.connect(database, read_only=read_only,
                          config={"allow_unsigned_extensions": "true"})


def _quote(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def load(con: duckdb.DuckDBPyConnection, config: LakeConfig) -> None:
    """Load DuckLake, the PostgreSQL scanner and (for S3) httpfs, and make the S3 secret from
    the environment (a temporary secret: it lives in this process only, never on disk)."""
    import os

    for name in ("ducklake", "postgres_scanner", *(("httpfs",) if config.on_s3 else ())):
        load_extension(con, name)
    if not config.on_s3:
        return
    options = {"TYPE": "s3"}
    key, secret = os.environ.get("AWS_ACCESS_KEY_ID"), os.environ.get("AWS_SECRET_ACCESS_KEY")
    if key and secret:
        options |= {"KEY_ID": key, "SECRET": secret}
        if os.environ.get("AWS_SESSION_TOKEN"):
            options["SESSION_TOKEN"] = os.environ["AWS_SESSION_TOKEN"]
    settings = config.s3_settings()
    for name in ("endpoint", "region", "url_style"):
        if name in settings:
            options[name.upper()] = str(settings[name])
    body = ", ".join(f"{k} {v}" if k == "TYPE" else f"{k} {_quote(v)}" for k, v in options.items())
    body += f", USE_SSL {'true' if settings['use_ssl'] else 'false'}"
    con.execute(f"CREATE OR REPLACE TEMPORARY SECRET tracelake_s3 ({body})")


def attach(con: duckdb.DuckDBPyConnection, config: LakeConfig, *, read_only: bool = False,
           snapshot: int | None = None) -> None:
    """ATTACH the lake as ``lake`` (read-only readers may pin a committed snapshot)."""
    load(con, config)
    options = [f"DATA_PATH {_quote(config.data_path())}"]
    if config.metadata_schema:
        options.append(f"METADATA_SCHEMA {_quote(config.metadata_schema)}")
    if read_only:
        options.append("READ_ONLY")
    if snapshot is not None:
        options.append(f"SNAPSHOT_VERSION {int(snapshot)}")
    import random
    import time

    for attempt in range(6):
        try:
            con.execute(f"ATTACH {_quote('ducklake:postgres:' + config.libpq())} AS {ALIAS} "
                        f"({', '.join(options)})")
            # a pinned snapshot attaches lazily: reach the catalog now, so that a server that
            # is down is this one line, not an error in the middle of a reader's first query
            con.execute(f"SELECT count(*) FROM {ALIAS}.snapshots()").fetchall()
            return
        except duckdb.Error as exc:
            text = " ".join(str(exc).split())
            with contextlib.suppress(duckdb.Error):
                con.execute(f"DETACH DATABASE IF EXISTS {ALIAS}")
            # several writers creating a new catalog at once: one wins, the others attach it
            racing = "already exists" in text or "duplicate key" in text
            if not racing or attempt == 5:
                raise LakeError(f"{config.catalog}: the lake's catalog cannot be opened "
                                f"({text[:300]})") from None
            time.sleep(random.uniform(0.1, 0.5))


def is_ducklake(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether this connection writes to a DuckLake (the scale-out mode)."""
    row = con.execute("SELECT type FROM duckdb_databases() WHERE database_name = "
                      "current_database()").fetchone()
    return bool(row and row[0] == "ducklake")


def is_conflict(exc: BaseException) -> bool:
    """Whether a failed COMMIT lost to another writer's commit (run it again)."""
    text = str(exc).lower()
    return isinstance(exc, duckdb.Error) and "conflict" in text and "transaction" in text


def current_snapshot(con: duckdb.DuckDBPyConnection) -> int:
    """The id of the newest committed snapshot of the attached lake."""
    row = con.execute(f"SELECT max(snapshot_id) FROM {ALIAS}.snapshots()").fetchone()
    return int(row[0]) if row and row[0] is not None else 0


def retry_conflict(exc: BaseException, attempt: int) -> bool:
    """After a failed run: True (having waited a little) when it lost its commit to another
    writer and may go again; False when the failure is something else. Raises LakeError when
    it lost ``MAX_RETRIES`` times (nothing of it was committed)."""
    if not is_conflict(exc):
        return False
    if attempt > MAX_RETRIES:
        raise LakeError(f"the run lost its commit to other writers {MAX_RETRIES} times in a row "
                        "and was not committed (nothing of it is in the lake): run it again"
                        ) from None
    back_off(attempt)
    return True


def back_off(attempt: int) -> None:
    """Wait a little before going again after a lost commit (longer, and jittered, each time)."""
    import random
    import time

    time.sleep(random.uniform(0.05, 0.25) * min(attempt, 6))
