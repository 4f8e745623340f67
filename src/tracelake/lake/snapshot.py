"""The published snapshot: what every reader opens, so that readers never block the writer.

DuckDB lets one process write a database file, and a process that has it open read-only blocks
that writer (and the other way round). So readers never open ``lake.duckdb``: each successful run
copies the lake into a fresh file and renames it over ``serving.duckdb`` (atomic on POSIX). A
reader that has the old snapshot open keeps reading it, undisturbed, until it reopens.

The snapshot heals: it carries the lake's ``lake_version`` row (the last run that changed the
lake), and every run, and ``tracelake publish``, publishes again when the snapshot's row is not
the lake's (a run killed between its COMMIT and the rename, a deleted or corrupt snapshot).
Temporary copies a killed publish left behind (``.serving-*.tmp``) are removed by the next
writer.
"""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path

import duckdb

from tracelake.errors import LakeError, LakeNotFound
from tracelake.lake import ledger
from tracelake.lake.config import LakeConfig
from tracelake.lake.extensions import load_fts, needs_fts
from tracelake.lake.paths import IN_FILTER_KEYS, LakePaths

__all__ = ["is_behind", "open_snapshot", "publish", "publish_lake", "remove_leftovers",
           "snapshot_version"]


def publish(con: duckdb.DuckDBPyConnection, paths: LakePaths, source: Path | None = None) -> None:
    """Checkpoint the writer's database, copy the file, and swap the copy in atomically.

    After a CHECKPOINT every committed change is in the database file itself (the WAL is empty),
    and this connection is the lake's only writer, so a byte copy of the file is a consistent
    database; copying bytes is several times faster than ``COPY FROM DATABASE``. ``source`` is
    the file ``con`` writes when it is not the lake's database (the scale-out mode publishes
    this machine's derived indexes).
    """
    tmp = paths.root / f".serving-{uuid.uuid4().hex}.duckdb.tmp"
    try:
        con.execute("CHECKPOINT")
        shutil.copyfile(source or paths.database, tmp)
        os.replace(tmp, paths.serving)
    finally:
        tmp.unlink(missing_ok=True)


def remove_leftovers(paths: LakePaths) -> int:
    """Delete temporary snapshot copies a killed publish left (call holding the writer's lock)."""
    removed = 0
    for tmp in paths.root.glob(".serving-*.tmp"):
        try:
            tmp.unlink()
            removed += 1
        except OSError:  # pragma: no cover - another user's file, or already gone
            pass
    return removed


def snapshot_version(paths: LakePaths) -> str | None:
    """The run the published snapshot holds (None: no snapshot, an unreadable one, or one
    published before snapshots carried their run)."""
    if not paths.serving.exists():
        return None
    try:
        con = duckdb.connect(str(paths.serving), read_only=True)
    except (duckdb.Error, OSError):
        return None
    try:
        return ledger.lake_version(con)
    except duckdb.Error:
        return None
    finally:
        con.close()


def is_behind(con: duckdb.DuckDBPyConnection, paths: LakePaths) -> bool:
    """Whether the snapshot does not hold the lake's last change (so it must be published)."""
    lake = ledger.lake_version(con)
    held = snapshot_version(paths)
    return held is None or held != lake


def open_snapshot(lake: LakePaths, *, external_access: bool = False,
                  memory_limit: str | None = None) -> duckdb.DuckDBPyConnection:
    """Open the published snapshot read-only, in UTC, with file and network access switched off
    (after loading the full-text extension from its wheel when the snapshot has a search index).

    Raises:
        LakeNotFound: nothing has been published at this lake yet.
    """
    config = lake.config
    if not lake.serving.exists():
        if config is not None:
            raise LakeNotFound(f"{lake.root}: this machine has no serving copy of the lake yet; "
                               f"'tracelake publish --lake {lake.root}' builds it")
        raise LakeNotFound(f"{lake.root}: no lake here yet; build one with "
                           f"'tracelake ingest PATH --lake {lake.root}'")
    try:
        if config is not None:
            from tracelake.lake.ducklake import connect

            con = connect(str(lake.serving), read_only=True)
        else:
            con = duckdb.connect(str(lake.serving), read_only=True)
    except (duckdb.Error, OSError) as exc:
        raise LakeError(f"{lake.serving}: the readers' snapshot cannot be opened "
                        f"({' '.join(str(exc).split())[:200]}); 'tracelake publish --lake "
                        f"{lake.root}' publishes it again") from None
    if con.execute("SELECT current_setting('lock_configuration')").fetchone()[0]:  # type: ignore[index]
        # this process already has the snapshot open (DuckDB shares one instance per file),
        # configured and locked by the first open_snapshot: UTC, no file access
        return con
    # GLOBAL: later connections to this instance and cursors (one per thread, as the dashboards
    # use them) start from the global settings, not from this connection's session
    con.execute("SET GLOBAL TimeZone = 'UTC'")
    con.execute("SET enable_progress_bar = false")
    if memory_limit is not None:
        con.execute(f"SET GLOBAL memory_limit = '{memory_limit}'")
    con.execute(f"SET GLOBAL dynamic_or_filter_threshold = {IN_FILTER_KEYS}")
    if needs_fts(con):  # the search index's macros need it, and it loads from a file
        load_fts(con)
    allowed: list[str] = []
    if config is not None:  # scale-out: the lake itself, at the snapshot the indexes were built at
        allowed = _attach_lake(con, lake, config)
    if not external_access:
        if allowed:  # the lake's own data files stay readable; nothing else
            con.execute("SET GLOBAL allowed_directories = ?", [allowed])
        con.execute("SET enable_external_access = false")
        con.execute("SET lock_configuration = true")
    return con


def _attach_lake(con: duckdb.DuckDBPyConnection, lake: LakePaths, config: LakeConfig) -> list[str]:
    """ATTACH the DuckLake read-only at the serving file's snapshot (the serving file's views
    name the lake's tables: see tracelake.ingest.serving). The folders its data is read from."""
    from tracelake.lake import ducklake

    try:
        row = con.execute("SELECT max(snapshot_id) FROM main.serving_meta").fetchone()
    except duckdb.CatalogException:
        row = None
    ducklake.attach(con, config, read_only=True,
                    snapshot=int(row[0]) if row and row[0] is not None else None)
    return [config.data_path()]


def publish_lake(lake: LakePaths, *, refresh_orphans: bool = True) -> str | None:
    """Publish the lake's current state as the readers' snapshot (for orchestrators and
    ``tracelake publish``); the run the snapshot now holds.

    ``refresh_orphans=False`` skips rechecking every reference of the lake: for an orchestrator
    that publishes right after an ingest run, which kept the orphan list current itself.
    """
    from tracelake.lake import orphans
    from tracelake.lake.storage import connect_writer

    with connect_writer(lake) as con:
        remove_leftovers(lake)
        if refresh_orphans:
            orphans.refresh(con)
        con.execute("BEGIN TRANSACTION")
        ledger.set_lake_version(con, None)  # a lake from before lake_version gets one
        con.execute("COMMIT")
        publish(con, lake)
        return ledger.lake_version(con)
