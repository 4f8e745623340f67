"""The scale-out mode on real servers: PostgreSQL started by the test run, moto's S3 on 127.0.0.1.

init and its config file, several writers at once (nothing lost, nothing doubled), a run that
loses its commit going again, the site tag, and readers pinned to a committed snapshot with
their own derived indexes brought up to date run by run.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import duckdb
import pytest
from typer.testing import CliRunner

from tests.helpers import JOB_HEADER, UNIT_HEADER, Lake, job_row, write_csv
from tracelake.cli import app
from tracelake.errors import InputError, LakeError
from tracelake.ingest import ingest
from tracelake.lake import ducklake
from tracelake.lake.config import read_config
from tracelake.lake.paths import LakePaths
from tracelake.lake.snapshot import open_snapshot

runner = CliRunner()
FIT_HEADER = ["serial_number", "component_code", "component_serial", "lot_number", "fitted_at",
              "fitted_by"]


def _units(folder: Path, job: str, n: int, start: int = 0) -> Path:
    write_csv(folder / f"jobs-{job}.csv", JOB_HEADER, [job_row(job)])
    return write_csv(folder / f"units-{job}.csv", UNIT_HEADER,
                     [[f"{job}-{i:04d}", "SPX-200", job, "released"]
                      for i in range(start, start + n)])


@pytest.fixture
def so_lake(tmp_path: Path, servers: Any) -> Lake:
    """A scale-out lake of its own (own catalog schema and S3 prefix) on the session's servers."""
    servers.configure(tmp_path / "lake")
    return Lake(tmp_path / "lake")


def test_init_writes_a_config_without_secrets_that_the_cli_reads(tmp_path: Path,
                                                                  servers: Any) -> None:
    lake = tmp_path / "lake"
    result = runner.invoke(app, [
        "init", "--lake", str(lake), "--catalog", servers.postgres.url,
        "--data", f"s3://{servers.bucket}/init-test", "--metadata-schema", "init_test",
        "--s3-endpoint", f"127.0.0.1:{servers.s3.port}", "--s3-no-ssl", "--site", "north"])
    assert result.exit_code == 0, result.output
    settings = [line for line in (lake / "tracelake.toml").read_text().splitlines()
                if not line.startswith("#")]
    assert not [line for line in settings if "testing" in line or "secret" in line.lower()]
    config = read_config(lake)
    assert config is not None and config.site == "north" and config.on_s3
    landing = tmp_path / "landing"
    _units(landing, "J-7", 30)  # more than DuckLake inlines into the catalog (Parquet on S3)
    result = runner.invoke(app, ["ingest", str(landing), "--lake", str(lake)])
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["sql", "SELECT _site, count(*) AS n FROM units GROUP BY 1",
                                 "--lake", str(lake), "--format", "csv"])
    assert result.exit_code == 0 and "north,30" in result.output, result.output
    assert not (lake / "lake.duckdb").exists()  # the rows are in DuckLake, not a local file
    # the data is Parquet on S3, the catalog in PostgreSQL
    import boto3

    s3 = boto3.client("s3", endpoint_url=servers.s3.url, region_name="us-east-1",
                      aws_access_key_id="testing", aws_secret_access_key="testing")
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=servers.bucket,
                                                 Prefix="init-test/")["Contents"]]
    assert any(k.endswith(".parquet") for k in keys)


def test_init_refuses_a_password_in_the_address(tmp_path: Path, servers: Any) -> None:
    url = servers.postgres.url.replace("@", ":hunter2@", 1)
    result = runner.invoke(app, ["init", "--lake", str(tmp_path / "lake"), "--catalog", url,
                                 "--data", str(tmp_path / "data")])
    assert result.exit_code == 1
    assert "PGPASSWORD" in result.output and len(result.output.strip().splitlines()) == 1
    assert not (tmp_path / "lake" / "tracelake.toml").exists()


def test_a_bad_site_name_is_one_line(so_lake: Lake, tmp_path: Path) -> None:
    _units(tmp_path / "in", "J-1", 1)
    with pytest.raises(InputError, match="site"):
        so_lake.ingest(tmp_path / "in", site="north; DROP")


def test_three_writers_at_once_lose_and_double_nothing(so_lake: Lake, tmp_path: Path) -> None:
    """Three processes ingest at once: one file each of their own, and one file all three share.
    The lake then holds every row exactly once, tagged with the site that loaded it."""
    shared = tmp_path / "shared"
    _units(shared, "J-0", 20)
    folders = []
    for i, site in enumerate(("north", "south", "east")):
        folder = tmp_path / site
        _units(folder, f"J-{i + 1}", 50)
        for f in shared.iterdir():
            (folder / f.name).write_bytes(f.read_bytes())
        folders.append((site, folder))
    procs = [subprocess.Popen([sys.executable, "-m", "tracelake.cli", "ingest", str(folder),
                               "--lake", str(so_lake.paths.root), "--site", site,
                               "--format", "json"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
             for site, folder in folders]
    outs = [p.communicate(timeout=600) for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0], [o[1][-500:] for o in outs]
    assert so_lake.scalar("SELECT count(*) FROM units") == 170
    assert so_lake.scalar("SELECT count(DISTINCT serial_number) FROM units") == 170
    assert so_lake.scalar("SELECT count(*) FROM jobs") == 4
    by_site = dict(so_lake.query("SELECT _site, count(*) FROM units WHERE job_id <> 'J-0' "
                                 "GROUP BY 1"))
    assert by_site == {"north": 50, "south": 50, "east": 50}
    assert so_lake.scalar("SELECT count(*) FROM ingest_runs") == 3
    assert sorted(r[0] for r in so_lake.query("SELECT site FROM ingest_runs")) == [
        "east", "north", "south"]
    # the shared file was loaded once; the other runs saw it as a duplicate
    assert so_lake.scalar("SELECT count(*) FROM ingest_files WHERE file_name = 'units-J-0.csv' "
                          "AND status = 'loaded'") == 1
    assert so_lake.scalar("SELECT count(*) FROM history.units") == 0


def test_a_run_that_loses_its_commit_runs_again(so_lake: Lake, tmp_path: Path) -> None:
    """Another writer commits while this run is in its transaction: this run's COMMIT conflicts,
    it is run again from the start, and each file's rows are in the lake once."""
    mine, theirs = tmp_path / "mine", tmp_path / "theirs"
    _units(mine, "J-1", 5)
    _units(theirs, "J-2", 4)
    so_lake.ingest(theirs / "jobs-J-2.csv")  # the lake's tables exist; a first run committed
    interfered: list[str] = []

    def progress(done: int, total: int, current: str) -> None:
        if done == 1 and not interfered:  # mid-transaction: another writer commits
            interfered.append(ingest([theirs], so_lake.paths, publish=False, genealogy=False,
                                     site="other").run_id)

    report = ingest([mine], so_lake.paths, progress=progress, site="mine")
    assert interfered and report.conflicts >= 1
    assert so_lake.scalar("SELECT count(*) FROM units") == 9
    assert dict(so_lake.query("SELECT _site, count(*) FROM units GROUP BY 1")) == {
        "mine": 5, "other": 4}
    assert so_lake.scalar("SELECT count(*) FROM ingest_runs WHERE run_id = ?",
                          [report.run_id]) == 1


def test_losing_too_often_is_one_line_and_nothing_committed() -> None:
    exc = duckdb.TransactionException("Transaction conflict - attempting to delete from table")
    assert ducklake.retry_conflict(exc, 1)
    with pytest.raises(LakeError, match="lost its commit") as raised:
        ducklake.retry_conflict(exc, ducklake.MAX_RETRIES + 1)
    assert "\n" not in str(raised.value)
    assert not ducklake.retry_conflict(duckdb.IOException("disk"), 1)


def test_readers_see_a_committed_snapshot_and_indexes_follow_run_by_run(
        so_lake: Lake, tmp_path: Path) -> None:
    day1, day2 = tmp_path / "day1", tmp_path / "day2"
    _units(day1, "J-1", 4)
    write_csv(day1 / "unit_components.csv",
              FIT_HEADER, [["J-1-0000", "PCB-100", "", "LOT-A", "2026-10-20T10:00", "A.Patel"]])
    so_lake.ingest(day1)
    reader = open_snapshot(so_lake.paths)
    try:
        assert reader.execute("SELECT count(*) FROM units").fetchone()[0] == 4
        _units(day2, "J-2", 6)
        write_csv(day2 / "unit_components.csv", FIT_HEADER,
                  [["J-2-0001", "PCB-100", "", "LOT-A", "2026-10-21T10:00", "A.Patel"]])
        report = so_lake.ingest(day2)
        # the open reader still sees the snapshot it was opened at, lake and index alike
        assert reader.execute("SELECT count(*) FROM units").fetchone()[0] == 4
        # it reads no file but the lake's: the SQL sandbox holds in scale-out mode too
        with pytest.raises(duckdb.Error):
            reader.execute("SELECT * FROM read_csv('/etc/passwd')").fetchall()
    finally:
        reader.close()
    derived = duckdb.connect(str(so_lake.paths.derived), read_only=True)
    try:
        applied = [r[0] for r in derived.execute(
            "SELECT run_id FROM main.derived_runs ORDER BY run_id").fetchall()]
    finally:
        derived.close()
    assert applied[-1] == report.run_id and len(applied) == 2
    from tracelake.derived.genealogy import where_used

    fresh = open_snapshot(so_lake.paths)
    try:
        assert fresh.execute("SELECT count(*) FROM units").fetchone()[0] == 10
        found = {row["serial_number"] for row in where_used(fresh, "PCB-100", "LOT-A").affected}
    finally:
        fresh.close()
    assert found == {"J-1-0000", "J-2-0001"}  # the second run's fitment reached the index


def test_publish_on_a_new_machine_builds_its_indexes_from_the_lake(so_lake: Lake,
                                                                    tmp_path: Path) -> None:
    """A second machine: the same tracelake.toml in another folder; publish builds its own
    derived indexes from the lake's runs, and it reads what the first machine wrote."""
    _units(tmp_path / "in", "J-1", 3)
    so_lake.ingest(tmp_path / "in")
    other = tmp_path / "machine2"
    other.mkdir()
    (other / "tracelake.toml").write_bytes((so_lake.paths.root / "tracelake.toml").read_bytes())
    result = runner.invoke(app, ["publish", "--lake", str(other)])
    assert result.exit_code == 0, result.output
    con = open_snapshot(LakePaths.of(other))
    try:
        assert con.execute("SELECT count(*) FROM units").fetchone()[0] == 3
        assert con.execute("SELECT count(*) FROM genealogy.meta").fetchone()[0] == 1
    finally:
        con.close()


def test_two_sites_signing_at_once_take_turns_in_the_review_chain(so_lake: Lake,
                                                                   tmp_path: Path) -> None:
    """Both reviews read entry 0 as the chain's end; the one that commits second loses its
    commit (both rewrote review_head), runs again and follows the first: never two entry 1s."""
    from tracelake.review import chain
    from tracelake.review.store import write_review
    from tracelake.review.verify import verify_lake

    _units(tmp_path / "landing", "J-1", 3)
    ingest([tmp_path / "landing"], so_lake.paths)
    fields = {"kind": "disposition", "job_id": "J-1", "meaning": "Reviewed",
              "role": "quality", "record_hash": "0" * 64}
    tries: list[int] = []

    def other_site(con: duckdb.DuckDBPyConnection) -> chain.Entry:
        return chain.append(con, signer="south", printed_name="S. Outh", **fields)

    def this_site(con: duckdb.DuckDBPyConnection) -> chain.Entry:
        entry = chain.append(con, signer="north", printed_name="N. Orth", **fields)
        tries.append(entry.seq)
        if len(tries) == 1:  # the other site commits while this review is still open
            write_review(so_lake.paths, other_site)
        return entry

    mine = write_review(so_lake.paths, this_site)
    assert tries == [1, 2] and mine.seq == 2
    result = verify_lake(so_lake.paths)
    assert result.intact, result.chain_break
    assert result.review_entries == 2
    con = ducklake.connect()
    ducklake.attach(con, so_lake.paths.config)  # type: ignore[arg-type]
    rows = con.execute("SELECT seq, signer FROM lake.review_entries ORDER BY seq").fetchall()
    assert rows == [(1, "south"), (2, "north")]
