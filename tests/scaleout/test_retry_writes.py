"""A run that loses its commit to another writer writes again without reading again (DuckLake).

Two real writers on a real lake (PostgreSQL catalog, moto's S3): the other one commits while this
run is in its transaction, so this run's COMMIT conflicts. The retry must not call the readers
again, must judge at the lake's new state what depends on it (duplicates, upsert counts, orphans,
ledger) and leave exactly the lake a run without a conflict leaves; the folder that kept the
files' readings must be gone whatever the end.
"""

from __future__ import annotations

import shutil
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import (
    JOB_HEADER,
    OP_HEADER,
    UNIT_HEADER,
    Lake,
    job_row,
    op_row,
    report_of,
    write_csv,
)
from tracelake.errors import LakeError
from tracelake.ingest import ingest
from tracelake.ingest import run as run_module
from tracelake.ingest.report import IngestReport
from tracelake.lake import ducklake

QUIET = {"publish": False, "genealogy": False, "search": False}
#: columns that name a run or its clock: different in any two runs by design
PER_RUN = {"run_id", "_run_id", "_loaded_at", "ingested_at", "quarantined_at", "_superseded_at",
           "_superseded_by_run", "started_at", "finished_at", "committed_at"}


@pytest.fixture
def so_lake(tmp_path: Path, servers: Any) -> Lake:
    """A scale-out lake of its own (own catalog schema and S3 prefix) on the session's servers."""
    servers.configure(tmp_path / "lake")
    return Lake(tmp_path / "lake")


def _plant(root: Path) -> dict[str, Path]:
    """base (both lakes hold it first), theirs (the other writer), mine (the run that loses)."""
    base, theirs, mine = root / "base", root / "theirs", root / "mine"
    write_csv(base / "jobs-J-0.csv", JOB_HEADER, [job_row("J-0")])
    write_csv(base / "units-J-0.csv", UNIT_HEADER,
              [[f"J-0-{i:04d}", "SPX-200", "J-0", "wip"] for i in range(3)])
    write_csv(theirs / "jobs-J-2.csv", JOB_HEADER, [job_row("J-2")])
    write_csv(theirs / "units-J-2.csv", UNIT_HEADER,
              [[f"J-2-{i:04d}", "SPX-200", "J-2", "wip"] for i in range(4)])
    jobs = write_csv(mine / "jobs-J-1.csv", JOB_HEADER, [job_row("J-1")])
    shutil.copyfile(jobs, mine / "jobs-J-1-copy.csv")  # the same bytes: a duplicate in the run
    write_csv(mine / "units-J-1.csv", UNIT_HEADER, [
        *[[f"J-1-{i:04d}", "SPX-200", "J-1", "released"] for i in range(10)],
        ["J-2-0000", "SPX-200", "J-2", "shipped"],  # theirs: an update only at the new state
        ["J-2-0001", "SPX-200", "J-2", "wip"],  # theirs, the same: unchanged at the new state
        ["J-0-0000", "SPX-200", "J-0", "scrapped"],  # the base's: an update on any attempt
        ["", "SPX-200", "J-1", "wip"],  # no serial: quarantined
        ["J-1-0003", "SPX-200", "J-1", "wip"],  # a key twice in the file: quarantined
        ["J-1-0011", "SPX-200", "J-1", "bogus"],  # not a unit status: quarantined
        ["J-9-0001", "SPX-200", "J-9", "wip"],  # a job no writer loads: an orphan
    ])
    write_csv(mine / "units-bad.csv", ["product_code", "job_id", "status"],
              [["SPX-200", "J-1", "wip"]])  # no serial column: rejected
    write_csv(mine / "operations-J-1.csv", OP_HEADER, [
        *[op_row(serial_number=f"J-1-{i:04d}", started_at=f"2026-10-20T09:0{i}") for i in range(3)],
        op_row(serial_number="J-1-0004", result="maybe"),  # not a result: quarantined
    ])
    return {"base": base, "theirs": theirs, "mine": mine}


def _counting_reads(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """Every call of the readers, by file name (the run calls them through run.read_source)."""
    calls: Counter[str] = Counter()
    real = run_module.read_source

    def counted(path: Path, *args: Any, **kw: Any) -> Any:
        calls[Path(path).name] += 1
        return real(path, *args, **kw)

    monkeypatch.setattr(run_module, "read_source", counted)
    return calls


def _interfering(lake: Lake, others: list[Callable[[], Any]],
                 seen: list[list[str]]) -> Callable[[int, int, str], None]:
    """A progress hook: after this run's first file of each of the first len(others) attempts,
    another writer commits (``others``), and what the kept-readings folder holds is noted."""
    attempt = [0]

    def progress(done: int, total: int, current: str) -> None:
        if done == 0 and current:
            attempt[0] += 1
        if done == 1 and current:
            seen.append(sorted(p.name for p in lake.paths.root.glob(".tracelake-kept-*/*")))
            if attempt[0] <= len(others):
                others[attempt[0] - 1]()

    return progress


def _kept_folders(lake: Lake) -> list[Path]:
    """The folders of kept readings (in the lake folder; never in .tmp, which a DuckDB that
    made it deletes whole when it closes), and any left in .tmp."""
    return [*lake.paths.root.glob(".tracelake-kept-*"), *lake.paths.spill.glob("*kept*")]


def _same_lakes(a: Lake, b: Lake) -> dict[str, int]:
    """Every table of the two lakes compared with EXCEPT ALL both ways (columns naming a run or
    its clock left out; a quarantine row's closing compared as closed or open); rows per table."""
    con = ducklake.connect()
    con.execute("SET TimeZone = 'UTC'")
    ducklake.load(con, a.paths.config)  # type: ignore[arg-type]
    for alias, lake in (("a", a), ("b", b)):
        c = lake.paths.config
        assert c is not None
        con.execute(f"ATTACH 'ducklake:postgres:{c.libpq()}' AS {alias} "
                    f"(DATA_PATH '{c.data_path()}', METADATA_SCHEMA '{c.metadata_schema}', "
                    "READ_ONLY)")
    rows: dict[str, int] = {}
    try:
        tables = con.execute("SELECT schema_name, table_name FROM duckdb_tables() "
                             "WHERE database_name = 'a' ORDER BY 1, 2").fetchall()
        for schema, table in tables:
            cols = [n for (n,) in con.execute(
                "SELECT column_name FROM duckdb_columns() WHERE database_name = 'a' AND "
                "schema_name = ? AND table_name = ? ORDER BY column_index",
                [schema, table]).fetchall() if n not in PER_RUN]
            select = ", ".join("superseded_by_run IS NULL" if n == "superseded_by_run"
                               else f'"{n}"' for n in cols)
            if not select:
                continue
            name = f'{schema}."{table}"'
            for x, y in (("a", "b"), ("b", "a")):
                left = con.execute(f"SELECT {select} FROM {x}.{name} EXCEPT ALL "
                                   f"SELECT {select} FROM {y}.{name}").fetchall()
                assert not left, f"{name}: in lake {x}, not in {y}: {left[:5]}"
            rows[f"{schema}.{table}"] = con.execute(
                f"SELECT count(*) FROM a.{name}").fetchone()[0]  # type: ignore[index]
    finally:
        con.close()
    return rows


def test_a_lost_commit_writes_again_without_reading_and_leaves_the_same_lake(
        so_lake: Lake, servers: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folders = _plant(tmp_path / "in")
    # lake B: the other writer's run committed before this one: no conflict
    servers.configure(tmp_path / "lake-b")
    calm = Lake(tmp_path / "lake-b")
    calm.ingest(folders["base"], **QUIET)
    calm.ingest(folders["theirs"], site="other", **QUIET)
    calm_reads = _counting_reads(monkeypatch)
    expected = calm.ingest(folders["mine"], site="mine", **QUIET)
    assert expected.conflicts == 0 and expected.files_reused == 0
    assert not _kept_folders(calm)  # kept, and deleted once the run committed
    monkeypatch.undo()
    # lake A: the other writer commits while this run is in its transaction
    so_lake.ingest(folders["base"], **QUIET)
    seen: list[list[str]] = []

    def other_writer() -> None:
        ingest([folders["theirs"]], so_lake.paths, site="other", **QUIET)
        # a writer on this machine whose DuckDB made the spill folder deletes it whole when it
        # closes: the kept readings must not be in it
        shutil.rmtree(so_lake.paths.spill, ignore_errors=True)

    reads = _counting_reads(monkeypatch)
    report = so_lake.ingest(folders["mine"], site="mine",
                            progress=_interfering(so_lake, [other_writer], seen), **QUIET)
    assert report.conflicts == 1
    # the readers were called as often as in the run without a conflict: not again on the retry
    mine = {p.name for p in folders["mine"].iterdir()}
    assert {n: c for n, c in reads.items() if n in mine} == dict(calm_reads)
    assert calm_reads["units-J-1.csv"] >= 1 and calm_reads["units-bad.csv"] >= 1
    # the retry wrote the first attempt's readings: loaded, rejected (the in-run duplicate is
    # only hashed again), kept in a folder that was there during the retry and is gone now
    assert report.files_reused == 4
    assert seen[0] == ["0000000-valid.parquet"]  # attempt 1, after its first file
    assert seen[1] == ["0000000-valid.parquet", "0000002-quarantine.parquet",
                       "0000002-valid.parquet", "0000004-quarantine.parquet",
                       "0000004-valid.parquet"]  # the retry: what attempt 1 kept
    assert not _kept_folders(so_lake)
    # at the lake's new state: the other writer's units are updated or unchanged, not inserted
    units = report_of(report, "units-J-1.csv")
    assert (units["rows_inserted"], units["rows_updated"], units["rows_unchanged"]) == (10, 2, 1)
    assert report_of(report, "units-bad.csv")["status"] == "rejected"
    assert report.orphan_references == expected.orphan_references
    assert [f.as_dict() for f in report.files] == [f.as_dict() for f in expected.files]
    rows = _same_lakes(so_lake, calm)
    assert rows["main.units"] == 3 + 4 + 10 and rows["history.units"] == 2
    assert units["rows_quarantined"] == 4 and rows["main.quarantine"] >= 4
    assert rows["main.orphan_references"] >= 1
    assert rows["main.operations"] == 3
    assert rows["main.ingest_files"] == 2 + 2 + 5 and rows["main.ingest_runs"] == 3


def test_a_file_the_other_writer_loaded_meanwhile_is_a_duplicate_on_the_retry(
        so_lake: Lake, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folders = _plant(tmp_path / "in")
    shutil.copyfile(folders["theirs"] / "units-J-2.csv", folders["mine"] / "units-J-2.csv")
    so_lake.ingest(folders["base"], **QUIET)
    reads = _counting_reads(monkeypatch)
    seen: list[list[str]] = []
    others = [lambda: ingest([folders["theirs"]], so_lake.paths, site="other", **QUIET)]
    report = so_lake.ingest(folders["mine"], site="mine",
                            progress=_interfering(so_lake, others, seen), **QUIET)
    assert report.conflicts == 1 and report.files_reused == 5
    assert reads["units-J-2.csv"] == 2  # once by the other writer, once by this run's first try
    same = report_of(report, "units-J-2.csv")
    assert same["status"] == "duplicate" and same["rows_loaded"] == 0
    # its rows are in the lake once, the other writer's; this run's ledger says duplicate
    assert so_lake.scalar("SELECT count(*) FROM units WHERE job_id = 'J-2'") == 4
    assert so_lake.scalar("SELECT count(*) FROM units WHERE job_id = 'J-2' AND "
                          "serial_number NOT IN ('J-2-0000', 'J-2-0001')") == 2
    assert dict(so_lake.query(
        "SELECT _site, count(*) FROM units WHERE serial_number IN ('J-2-0002', 'J-2-0003') "
        "GROUP BY 1")) == {"other": 2}
    assert so_lake.query("SELECT status FROM ingest_files WHERE run_id = ? AND "
                         "file_name = 'units-J-2.csv'", [report.run_id]) == [("duplicate",)]
    assert so_lake.scalar("SELECT count(*) FROM ingest_files WHERE status = 'loaded' AND "
                          "file_name = 'units-J-2.csv'") == 1
    assert not _kept_folders(so_lake)


def test_kept_readings_deleted_from_outside_are_read_again(
        so_lake: Lake, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folders = _plant(tmp_path / "in")
    so_lake.ingest(folders["base"], **QUIET)
    gone: list[Path] = []

    def other_writer() -> None:
        ingest([folders["theirs"]], so_lake.paths, site="other", **QUIET)
        gone.extend(_kept_folders(so_lake))
        for folder in gone:
            shutil.rmtree(folder)

    reads = _counting_reads(monkeypatch)
    report = so_lake.ingest(folders["mine"], site="mine",
                            progress=_interfering(so_lake, [other_writer], []), **QUIET)
    assert gone and report.conflicts == 1
    # the first file's reading went with the folder; the later ones were kept in it made again
    assert report.files_reused == 3
    assert reads["jobs-J-1-copy.csv"] == 2  # its reading was gone: read again
    assert report_of(report, "units-J-1.csv")["rows_updated"] == 2
    assert so_lake.scalar("SELECT count(*) FROM units") == 3 + 4 + 10
    assert not _kept_folders(so_lake)


def test_the_kept_readings_go_when_the_run_fails_or_loses_too_often(
        so_lake: Lake, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folders = _plant(tmp_path / "in")
    so_lake.ingest(folders["base"], **QUIET)
    # a failure after the files were read and kept: the run is not committed, the folder goes
    from tracelake.lake import orphans

    def broken(*args: Any, **kw: Any) -> int:
        assert _kept_folders(so_lake)  # kept while the run went on
        raise RuntimeError("the orphan list cannot be made")

    with monkeypatch.context() as m:
        m.setattr(orphans, "refresh", broken)
        with pytest.raises(RuntimeError, match="orphan list"):
            so_lake.ingest(folders["mine"], **QUIET)
    assert not _kept_folders(so_lake)
    # losing the commit more than MAX_RETRIES times: one line, nothing committed, no folder
    monkeypatch.setattr(ducklake, "MAX_RETRIES", 2)
    monkeypatch.setattr(ducklake, "back_off", lambda attempt: None)
    extra = tmp_path / "extra"

    def other(i: int) -> Callable[[], IngestReport]:
        def commit() -> IngestReport:
            path = write_csv(extra / f"jobs-X-{i}.csv", JOB_HEADER, [job_row(f"X-{i}")])
            return ingest([path], so_lake.paths, site="other", **QUIET)
        return commit

    seen: list[list[str]] = []
    with pytest.raises(LakeError, match="lost its commit"):
        so_lake.ingest(folders["mine"], site="mine",
                       progress=_interfering(so_lake, [other(i) for i in range(3)], seen),
                       **QUIET)
    assert len(seen) == 3 and seen[1] and seen[2]  # the readings were kept on every retry
    assert not _kept_folders(so_lake)
    assert so_lake.scalar("SELECT count(*) FROM ingest_runs WHERE site = 'mine'") == 0
    assert so_lake.scalar("SELECT count(*) FROM jobs WHERE job_id LIKE 'X-%'") == 3


def test_a_file_read_meanwhile_under_another_mapping_is_read_again_on_the_retry(
        so_lake: Lake, servers: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The other writer loads the same bytes under another mapping (its reading takes a status
    this run quarantines): on the retry this run's reading replaces it, as a run after it would
    (the other reading's extra row to history, its quarantine rows closed)."""
    import yaml

    from tracelake.intake.mapping import load_mapping

    folders = _plant(tmp_path / "in")
    mapped = tmp_path / "in" / "mapped"
    mapped.mkdir()
    shutil.copyfile(folders["mine"] / "units-J-1.csv", mapped / "units-J-1.csv")
    (tmp_path / "map.yaml").write_text(yaml.safe_dump({"sources": [
        {"name": "other", "files": ["units-*"], "table": "units",
         "values": {"status": {"bogus": "wip"}}}]}))
    mapping = load_mapping(tmp_path / "map.yaml")
    servers.configure(tmp_path / "lake-b")
    calm = Lake(tmp_path / "lake-b")
    for lake in (calm, so_lake):
        lake.ingest(folders["base"], **QUIET)
    calm.ingest(mapped, mapping=mapping, site="other", **QUIET)
    expected = calm.ingest(folders["mine"], site="mine", **QUIET)
    reads = _counting_reads(monkeypatch)
    seen: list[list[str]] = []
    others = [lambda: ingest([mapped], so_lake.paths, mapping=mapping, site="other", **QUIET)]
    report = so_lake.ingest(folders["mine"], site="mine",
                            progress=_interfering(so_lake, others, seen), **QUIET)
    assert report.conflicts == 1 and report.files_reused == 4
    assert reads["units-J-1.csv"] == 2 * 2  # the other writer's and this run's first attempt
    units = report_of(report, "units-J-1.csv")
    assert units["reread"] and units["rows_retired"] == 1 and units["quarantine_closed"] >= 3
    assert [f.as_dict() for f in report.files] == [f.as_dict() for f in expected.files]
    rows = _same_lakes(so_lake, calm)
    assert rows["history.units"] >= 1 and not _kept_folders(so_lake)
    assert so_lake.scalar("SELECT count(*) FROM quarantine WHERE superseded_by_run = ?",
                          [report.run_id]) == units["quarantine_closed"]


def test_the_table_report_says_the_run_went_again_and_what_it_reused(
        capsys: pytest.CaptureFixture[str]) -> None:
    from tracelake.cli.intake import _print_ingest_table
    from tracelake.ingest.report import FileReport

    files = [FileReport(path="units.csv", table="units", sha256="x", status="loaded")]
    _print_ingest_table(IngestReport("r-1", files, conflicts=2, files_reused=1))
    shown = capsys.readouterr().out
    assert "lost its commit to another writer 2 time(s)" in shown
    assert "1 file(s) written from the first reading, not read again" in shown
    _print_ingest_table(IngestReport("r-2", files))
    assert "lost its commit" not in capsys.readouterr().out
