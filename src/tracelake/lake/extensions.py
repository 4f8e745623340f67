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

__all__ = ["extension_path", "fts_extension_path", "load_extension", "load_fts", "needs_fts"]

#: extension name -> the PyPI wheel (module) shipping it
WHEELS = {"fts": "duckdb_extension_fts", "ducklake": "duckdb_extension_ducklake",
          "postgres_scanner": "duckdb_extension_postgres_scanner",
          "httpfs": "duckdb_extension_httpfs"}


def extension_path(name: str) -> Path:
    """The file of extension ``name`` inside its installed ``duckdb-extension-*`` wheel."""
    import importlib

    module = WHEELS[name]
    try:
        package = importlib.import_module(module)
    except ImportError:
        raise LakeError(f"the DuckDB extension {name} is not installed; install "
                        f"{module.replace('_', '-')}=={duckdb.__version__}") from None
    path = (Path(package.__file__).parent / "extensions" / f"v{duckdb.__version__}"  # type: ignore[arg-type]
            / f"{name}.duckdb_extension")
    if not path.exists():
        raise LakeError(f"{path}: the {name} extension for DuckDB {duckdb.__version__} is not "
                        f"installed; install {module.replace('_', '-')} of the same version")
    return path


def load_extension(con: duckdb.DuckDBPyConnection, name: str) -> None:
    """Load extension ``name`` into this connection from its wheel, by path (never downloaded)."""
    con.execute(f"LOAD '{extension_path(name).as_posix()}'")


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
