"""The CLI imports what a command needs when it runs: ``tracelake --help`` must not wait for
pandera, pandas, polars or DuckDB, and ``tracelake sql`` must not wait for the contracts.

A structural check in a fresh interpreter (what is in ``sys.modules``), not a timing: the
times are in ``benchmarks/cli.py``.
"""

from __future__ import annotations

import json
import pkgutil
import subprocess
import sys
from pathlib import Path

import duckdb

import tracelake.cli

HEAVY = ("pandera", "pandas", "polars", "duckdb", "pyarrow", "numpy", "tracelake.contracts")


def _loaded_after(code: str) -> dict[str, object]:
    """Run ``code`` in a fresh interpreter; which HEAVY modules it loaded, and what it printed."""
    probe = (f"import json, sys\n{code}\n"
             f"print(json.dumps(sorted(m for m in {HEAVY!r} if m in sys.modules)))")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    *before, last = done.stdout.strip().splitlines()
    return {"loaded": json.loads(last), "stdout": "\n".join(before)}


def test_importing_the_cli_loads_no_data_library() -> None:
    assert _loaded_after("import tracelake.cli")["loaded"] == []


def test_every_cli_module_imports_light() -> None:
    # modules a command imports later (serve.py, ...) included: each in its own interpreter
    names = [m.name for m in pkgutil.iter_modules(tracelake.cli.__path__, "tracelake.cli.")
             if m.name != "tracelake.cli.__main__"]  # that one runs the CLI
    assert "tracelake.cli.app" in names
    code = "\n".join(f"import {n}" for n in names)
    assert _loaded_after(code)["loaded"] == []


def test_help_lists_the_commands_without_data_libraries() -> None:
    run = _loaded_after("from tracelake.cli import app\n"
                        "try:\n    app(['--help'])\nexcept SystemExit:\n    pass")
    assert "sql" in run["stdout"] and "ingest" in run["stdout"]
    assert run["loaded"] == []


def test_sql_needs_duckdb_only(tmp_path: Path) -> None:
    con = duckdb.connect(str(tmp_path / "serving.duckdb"))
    con.execute("CREATE TABLE jobs AS SELECT 'J-1' AS job_id")
    con.close()
    run = _loaded_after("from tracelake.cli import app\n"
                        "try:\n"
                        f"    app(['sql', 'SELECT job_id FROM jobs', '--lake', {str(tmp_path)!r},"
                        " '--format', 'csv'])\n"
                        "except SystemExit as exc:\n"
                        "    assert not exc.code, exc.code")
    assert run["stdout"].splitlines() == ["job_id", "J-1"]
    assert run["loaded"] == ["duckdb"]  # rows printed from DuckDB's fetch, not through polars
