"""Helpers for tests: they write their own small plant files and ingest them into a real lake."""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb

from tracelake.ingest import IngestReport, ingest
from tracelake.lake.storage import LakePaths

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "data" / "sample"
BAD = SAMPLE / "bad"


def write_csv(path: Path, header: list[str], rows: list[list[Any]], *, delimiter: str = ",",
              encoding: str = "utf-8") -> Path:
    """Write a small CSV file the way an MRP export would."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding=encoding) as fh:
        writer = csv.writer(fh, delimiter=delimiter, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)
    return path


JOB_HEADER = ["job_id", "product_code", "mbr_revision", "drawing_revision", "quantity",
              "created_at", "status"]
UNIT_HEADER = ["serial_number", "product_code", "job_id", "status"]
OP_HEADER = ["job_id", "op_seq", "op_code", "serial_number", "operator", "started_at",
             "finished_at", "result", "equipment_id"]


def job_row(job: str = "J-1", **kw: Any) -> list[Any]:
    """A valid jobs row; keyword arguments replace columns."""
    row = {"job_id": job, "product_code": "SPX-200", "mbr_revision": "C",
           "drawing_revision": "C", "quantity": 10, "created_at": "2026-10-19T09:00",
           "status": "in_progress"} | kw
    return [row[c] for c in JOB_HEADER]


def op_row(**kw: Any) -> list[Any]:
    """A valid operations row; keyword arguments replace columns."""
    row = {"job_id": "J-1", "op_seq": 10, "op_code": "KIT", "serial_number": "",
           "operator": "A.Patel", "started_at": "2026-10-20T09:00",
           "finished_at": "2026-10-20T10:00", "result": "done", "equipment_id": ""} | kw
    return [row[c] for c in OP_HEADER]


#: ``pytest --lake-mode scaleout``: the servers (tests/scaleout/servers.py) every new Lake of
#: the session is put on (DuckLake on PostgreSQL + S3); None: embedded lakes
SCALEOUT: Any = None


class Lake:
    """A real lake in a temporary folder, with helpers to ingest and query it."""

    def __init__(self, root: Path) -> None:
        self.paths = LakePaths.of(root)
        if SCALEOUT is not None and not self.paths.database.exists() \
                and not self.paths.scaleout:
            SCALEOUT.configure(self.paths.root)

    def ingest(self, *paths: Path, **kw: Any) -> IngestReport:
        return ingest(list(paths), self.paths, **kw)

    def query(self, sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
        """Query the writer's database (tests only; readers use the snapshot). A scale-out lake:
        the lake's newest snapshot, with this machine's derived indexes beside it."""
        config = self.paths.config
        if config is None:
            con = duckdb.connect(str(self.paths.database), read_only=True)
        else:
            from tracelake.lake import ducklake

            con = ducklake.connect()
            con.execute("SET TimeZone = 'UTC'")
            ducklake.attach(con, config, read_only=True)
            if self.paths.derived.exists():  # its views name the lake's tables
                con.execute(f"ATTACH '{self.paths.derived}' AS derived (READ_ONLY)")
                con.execute("USE derived")
            else:
                con.execute(f"USE {ducklake.ALIAS}")
        try:
            return con.execute(sql, params or []).fetchall()
        finally:
            con.close()

    def scalar(self, sql: str, params: list[Any] | None = None) -> Any:
        return self.query(sql, params)[0][0]




def report_of(report: IngestReport, name: str) -> dict[str, Any]:
    """The JSON entry of one file of a run, by file name."""
    for f in report.as_dict()["files"]:
        if Path(f["path"]).name == name:
            return f
    raise AssertionError(f"{name} not in the report: {[f.path for f in report.files]}")


def as_json(obj: Any) -> Any:
    """Round-trip through JSON, as a script reading the CLI would see it."""
    from tracelake.exports.formats import json_dumps

    return json.loads(json_dumps(obj))


Writer = Callable[..., Path]
