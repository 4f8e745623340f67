"""The published snapshot: what every reader opens, so that readers never block the writer.

DuckDB lets one process write a database file, and a process that has it open read-only blocks
that writer (and the other way round). So readers never open ``lake.duckdb``: each successful run
copies the lake into a fresh file and renames it over ``serving.duckdb`` (atomic on POSIX). A
reader that has the old snapshot open keeps reading it, undisturbed, until it reopens.
"""

from __future__ import annotations

import os
import shutil
import uuid

import duckdb

from tracelake.errors import LakeNotFound
from tracelake.lake.extensions import load_fts, needs_fts
from tracelake.lake.paths import IN_FILTER_KEYS, LakePaths

__all__ = ["open_snapshot", "publish", "publish_lake"]


def publish(con: duckdb.DuckDBPyConnection, paths: LakePaths) -> None:
    """Checkpoint the writer's database, copy the file, and swap the copy in atomically.

    After a CHECKPOINT every committed change is in the database file itself (the WAL is empty),
    and this connection is the lake's only writer, so a byte copy of the file is a consistent
    database; copying bytes is several times faster than ``COPY FROM DATABASE``.
    """
    tmp = paths.root / f".serving-{uuid.uuid4().hex}.duckdb.tmp"
    try:
        con.execute("CHECKPOINT")
        shutil.copyfile(paths.database, tmp)
        os.replace(tmp, paths.serving)
    finally:
        tmp.unlink(missing_ok=True)


def open_snapshot(lake: LakePaths, *, external_access: bool = False) -> duckdb.DuckDBPyConnection:
    """Open the published snapshot read-only, in UTC, with file and network access switched off
    (after loading the full-text extension from its wheel when the snapshot has a search index).

    Raises:
        LakeNotFound: nothing has been published at this lake yet.
    """
    if not lake.serving.exists():
        raise LakeNotFound(f"{lake.root}: no lake here yet; build one with "
                           f"'tracelake ingest PATH --lake {lake.root}'")
    con = duckdb.connect(str(lake.serving), read_only=True)
    if con.execute("SELECT current_setting('lock_configuration')").fetchone()[0]:  # type: ignore[index]
        # this process already has the snapshot open (DuckDB shares one instance per file),
        # configured and locked by the first open_snapshot: UTC, no file access
        return con
    # GLOBAL: later connections to this instance and cursors (one per thread, as the dashboards
    # use them) start from the global settings, not from this connection's session
    con.execute("SET GLOBAL TimeZone = 'UTC'")
    con.execute("SET enable_progress_bar = false")
    con.execute(f"SET GLOBAL dynamic_or_filter_threshold = {IN_FILTER_KEYS}")
    if needs_fts(con):  # the search index's macros need it, and it loads from a file
        load_fts(con)
    if not external_access:
        con.execute("SET enable_external_access = false")
        con.execute("SET lock_configuration = true")
    return con


def publish_lake(lake: LakePaths) -> None:
    """Publish the lake's current state as the readers' snapshot (for orchestrators)."""
    from tracelake.lake import orphans
    from tracelake.lake.storage import connect_writer

    with connect_writer(lake) as con:
        orphans.refresh(con)
        publish(con, lake)
