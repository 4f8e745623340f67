"""The genealogy index kept current run by run equals the index rebuilt from scratch."""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb

from tests.helpers import SAMPLE, Lake
from tracelake.genealogy import build_index

TABLES = {
    "nodes": "node_id, kind, component_code, lot_number, serial_number, label",
    "edges": "child, parent, source, linked_at",
    "closure_by_anc": "anc, des, depth",
    "closure_by_des": "anc, des, depth",
    "unit_info": "node_id, serial_number, status, top, customer, order_ref",
    "removed": "child, parent, removed_at, removal_ncr_id",
}


def _snapshot(con: duckdb.DuckDBPyConnection) -> dict[str, list[tuple[object, ...]]]:
    """Every genealogy table by content, with node keys replaced by their labels."""
    labels = dict(con.execute("SELECT node_id, label FROM genealogy.nodes").fetchall())
    out = {}
    for table, cols in TABLES.items():
        rows = con.execute(f"SELECT {cols} FROM genealogy.{table}").fetchall()
        names = [c.strip() for c in cols.split(",")]
        keyed = [tuple(labels.get(v, v) if n in ("node_id", "child", "parent", "anc", "des")
                       else v for n, v in zip(names, row, strict=True)) for row in rows]
        out[table] = sorted(keyed, key=repr)
    return out


def _split_sample(tmp_path: Path) -> tuple[Path, Path]:
    """The sample plant with job J-1047 (a later batch, with its rework-free units) held back."""
    first, second = tmp_path / "first", tmp_path / "second"
    shutil.copytree(SAMPLE, first, ignore=shutil.ignore_patterns("bad"))
    second.mkdir()
    for name in ("units.csv", "material_issues_2026-11.csv", "unit_components.csv"):
        lines = (first / name).read_text().splitlines(keepends=True)
        late = [ln for ln in lines[1:] if ",J-1047," in ln
                or ln.startswith(("SPX200-0011,", "SPX200-0012,", "SPX200-0013,", "SPX200-0014,"))]
        assert late, name
        (first / name).write_text("".join(ln for ln in lines if ln not in late))
        (second / name.replace(".csv", "-late.csv")).write_text(lines[0] + "".join(late))
    return first, second


def test_an_index_kept_current_run_by_run_equals_a_rebuilt_one(tmp_path: Path) -> None:
    first, second = _split_sample(tmp_path)
    lake = Lake(tmp_path / "lake")
    assert lake.ingest(first).genealogy["mode"] == "full"  # type: ignore[index]
    report = lake.ingest(second)
    assert report.genealogy["mode"] == "incremental"  # type: ignore[index]
    assert report.totals["rows_loaded"] > 0
    con = duckdb.connect(str(lake.paths.database))
    try:
        kept = _snapshot(con)
        con.execute("BEGIN")
        build_index(con)
        rebuilt = _snapshot(con)
        con.execute("ROLLBACK")
    finally:
        con.close()
    for table in TABLES:
        assert kept[table] == rebuilt[table], table


def test_a_changed_re_export_of_fitments_rebuilds_the_index(tmp_path: Path) -> None:
    lake = Lake(tmp_path / "lake")
    lake.ingest(SAMPLE, exclude=["bad/*"])
    changed = tmp_path / "again"
    changed.mkdir()
    text = (SAMPLE / "unit_components.csv").read_text()
    (changed / "unit_components-reexport.csv").write_text(text.replace("Tom Hughes", "T. Hughes"))
    report = lake.ingest(changed)
    assert report.files[0].rows_updated > 0
    assert report.genealogy["mode"] == "full"  # type: ignore[index]


def test_an_index_from_another_version_is_rebuilt_not_extended(tmp_path: Path) -> None:
    first, second = _split_sample(tmp_path)
    lake = Lake(tmp_path / "lake")
    lake.ingest(first)
    con = duckdb.connect(str(lake.paths.database))
    con.execute("UPDATE genealogy.meta SET version = version - 1")
    con.close()
    assert lake.ingest(second).genealogy["mode"] == "full"  # type: ignore[index]
