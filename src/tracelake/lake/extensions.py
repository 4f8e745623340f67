"""DuckDB extensions tracelake uses, loaded from their installed PyPI wheels: never downloaded.

``duckdb-extension-fts`` ships the full-text search extension as a file inside the wheel; it is
loaded by path (``INSTALL`` would reach for the network). A read-only snapshot switches file
access off, so a reader must load what the snapshot's indexes need before that (see
:func:`tracelake.lake.snapshot.open_snapshot`).
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from tracelake.errors import LakeError

__all__ = ["fts_extension_path", "load_fts", "needs_fts"]


def fts_extension_path() -> Path:
    """The full-text search extension file of the installed ``duckdb-extension-fts`` wheel."""
    import duckdb_extension_fts

    folder = Path(duckdb_extension_fts.__file__).parent / "extensions" / f"v{duckdb.__version__}"
    path = folder / "fts.duckdb_extension"
    if not path.exists():
        raise LakeError(f"{path}: the full-text search extension for DuckDB {duckdb.__version__} is "
                        "not installed; install duckdb-extension-fts of the same version")
    return path


def load_fts(con: duckdb.DuckDBPyConnection) -> None:
    """Load the full-text search extension into this connection (from the wheel, by path)."""
    con.execute(f"LOAD '{fts_extension_path().as_posix()}'")


def needs_fts(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether the database holds a full-text index (whose macros need the extension loaded)."""
    row = con.execute("SELECT count(*) FROM duckdb_schemas() "
                      "WHERE schema_name LIKE 'fts\\_%' ESCAPE '\\'").fetchone()
    return bool(row and row[0])
