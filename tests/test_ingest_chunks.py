"""A file larger than one chunk (``TRACELAKE_CHUNK_ROWS``) goes through ingest chunk by chunk and
leaves exactly the lake one chunk leaves: the same rows and values, the file's own row numbers in
lineage and quarantine, duplicate keys found across chunks, and nothing half-loaded on failure."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.helpers import OP_HEADER, Lake, op_row, report_of, write_csv
from tracelake.contracts import CONTRACTS
from tracelake.synthetic.reports import write_big_junit

COUNTS = ("status", "rows_read", "rows_loaded", "rows_quarantined", "rows_inserted",
          "rows_updated", "rows_unchanged", "quarantined_by_rule")


def _ops(n: int, **bad: dict[str, Any]) -> list[list[Any]]:
    """``n`` valid operations rows (op_seq 10, 20, ...); ``bad``: row index -> columns changed."""
    rows = []
    for i in range(n):
        kw = {"op_seq": 10 * (i + 1), "started_at": f"2026-10-20T09:{i % 60:02d}",
              "finished_at": "2026-10-20T11:00", "serial_number": f"S-{i}"}
        rows.append(op_row(**(kw | bad.get(str(i), {}))))
    return rows


def _table_hash(lake: Lake, table: str) -> tuple[Any, ...]:
    """Row count and an order-free hash of every column (lineage without run and load time)."""
    cols = [*CONTRACTS[table].dtypes, "_extra", "_row", "_sha256", "_site"]
    row = ", ".join(f'"{c}"' for c in cols)
    return tuple(lake.query(f"SELECT count(*), sum(hash({row})), "
                            + ", ".join(f'sum(hash("{c}"))' for c in cols)
                            + f' FROM "{table}"')[0])


def _quarantine(lake: Lake) -> list[tuple[Any, ...]]:
    return lake.query("SELECT row_number, column_name, rule, message, raw FROM quarantine "
                      "ORDER BY row_number, rule, column_name")


def _ingest(tmp_path: Path, name: str, landing: Path, chunk: int | None,
            monkeypatch: pytest.MonkeyPatch, **kw: Any) -> tuple[Lake, Any]:
    if chunk is None:
        monkeypatch.delenv("TRACELAKE_CHUNK_ROWS", raising=False)
    else:
        monkeypatch.setenv("TRACELAKE_CHUNK_ROWS", str(chunk))
    lake = Lake(tmp_path / name)
    return lake, lake.ingest(landing, **kw)


def test_a_file_over_many_chunks_gives_the_lake_one_chunk_gives(
        tmp_path: Path, landing: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # bad rows in the first, a middle and the last chunk; a duplicate key split across chunks;
    # an extra column; a blank row
    rows = _ops(50, **{"3": {"operator": ""}, "22": {"started_at": "yesterday"},
                       "47": {"result": "maybe"}})
    rows[40][1] = rows[5][1]  # op_seq of row 5 again, with its serial and start: same key
    rows[40][3], rows[40][5] = rows[5][3], rows[5][5]
    rows[30] = [""] * len(OP_HEADER)
    write_csv(landing / "operations.csv", [*OP_HEADER, "Shift"],
              [[*r, f"shift-{i % 3}"] for i, r in enumerate(rows)])
    one, r1 = _ingest(tmp_path, "one", landing, None, monkeypatch)
    many, r7 = _ingest(tmp_path, "many", landing, 7, monkeypatch)  # 8 chunks, the last of one row
    a, b = report_of(r1, "operations.csv"), report_of(r7, "operations.csv")
    assert {k: a[k] for k in COUNTS} == {k: b[k] for k in COUNTS}
    assert a["rows_read"] == 50 and a["rows_loaded"] == 50 - 6
    assert a["quarantined_by_rule"] == {"blank_row": 1, "duplicate_key": 2, "not_allowed": 1,
                                        "required": 1, "wrong_type": 1}
    assert _table_hash(one, "operations") == _table_hash(many, "operations")
    assert _quarantine(one) == _quarantine(many)
    # row numbers are the file's (the header is line 1): data rows 3, 5, 22, 30, 40, 47
    assert sorted({q[0] for q in _quarantine(many)}) == [5, 7, 24, 32, 42, 49]
    dup = [q for q in _quarantine(many) if q[2] == "duplicate_key"]
    assert [q[0] for q in dup] == [7, 42] and "appears on rows 7, 42 of this file" in dup[0][3]
    assert '"op_seq":"60"' in dup[1][4]  # the raw values as written, for the late row too
    assert many.query("SELECT min(_row), max(_row) FROM operations") == [(2, 51)]
    # lineage: each loaded row names its own line of the file
    assert many.query("SELECT _row FROM operations WHERE op_seq = 500") == [(51,)]


@pytest.mark.parametrize("chunk", [None, 7])
def test_a_first_load_written_directly_holds_what_stage_and_upsert_hold(
        tmp_path: Path, landing: Path, monkeypatch: pytest.MonkeyPatch, chunk: int | None) -> None:
    """A table's first rows go straight into it (DirectLoad); the lake, the quarantine and the
    report are those of the staged load and upsert: bad rows, a blank row, duplicate keys
    across chunks, and a key shared by a valid row and a row failed by its checks."""
    from tracelake.ingest import stage

    rows = _ops(50, **{"3": {"operator": ""}, "22": {"started_at": "yesterday"},
                       "44": {"result": "maybe"}})
    rows[40][1] = rows[5][1]  # op_seq of row 5 again, with its serial and start: same key
    rows[40][3], rows[40][5] = rows[5][3], rows[5][5]
    rows[44][1], rows[44][3], rows[44][5] = rows[10][1], rows[10][3], rows[10][5]  # bad twin
    rows[30] = [""] * len(OP_HEADER)
    write_csv(landing / "operations.csv", [*OP_HEADER, "Shift"],
              [[*r, f"shift-{i % 3}"] for i, r in enumerate(rows)])
    write_csv(landing / "units.csv", ["serial_number", "product_code", "job_id", "status"],
              [["S-1", "SPX-200", "J-1", "wip"]])
    used: list[str] = []
    real = stage.DirectLoad.usable

    def spy(con, contract):  # type: ignore[no-untyped-def]
        ok = real(con, contract)
        used.append(contract.name if ok else "")
        return ok

    monkeypatch.setattr(stage.DirectLoad, "usable", staticmethod(spy))
    direct, r1 = _ingest(tmp_path, "direct", landing, chunk, monkeypatch)
    assert used == ["units", "operations"]  # both tables empty when their file began
    monkeypatch.setattr(stage.DirectLoad, "usable", staticmethod(lambda con, contract: False))
    staged, r2 = _ingest(tmp_path, "staged", landing, chunk, monkeypatch)
    for name in ("operations.csv", "units.csv"):
        a, b = report_of(r1, name), report_of(r2, name)
        assert {k: a[k] for k in COUNTS} == {k: b[k] for k in COUNTS}
    a = report_of(r1, "operations.csv")
    assert a["rows_loaded"] == 50 - 7 and a["rows_inserted"] == 50 - 7
    assert a["quarantined_by_rule"] == {"blank_row": 1, "duplicate_key": 4, "not_allowed": 1,
                                        "required": 1, "wrong_type": 1}
    for table in ("operations", "units"):
        assert _table_hash(direct, table) == _table_hash(staged, table)
    assert _quarantine(direct) == _quarantine(staged)
    assert direct.query("SELECT _row FROM operations ORDER BY rowid LIMIT 3") == \
        [(2,), (3,), (4,)]  # in the file's order
    assert direct.scalar("SELECT count(DISTINCT _loaded_at) FROM operations") == 1


def test_a_second_file_over_chunks_updates_as_one_chunk_does(
        tmp_path: Path, landing: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Upsert from the staged rows: changed rows to history, unchanged ones left alone."""
    write_csv(landing / "operations.csv", OP_HEADER, _ops(20))
    later = tmp_path / "later"
    changed = _ops(25, **{"4": {"operator": "B.Jones"}, "17": {"equipment_id": "RIG-2"}})
    write_csv(later / "operations_2.csv", OP_HEADER, changed)
    lakes = []
    for name, chunk in (("one", None), ("many", 3)):
        lake, _ = _ingest(tmp_path, name, landing, chunk, monkeypatch)
        report = lake.ingest(later)
        entry = report_of(report, "operations_2.csv")
        assert (entry["rows_inserted"], entry["rows_updated"], entry["rows_unchanged"]) == \
            (5, 2, 18)
        lakes.append(lake)
    assert _table_hash(lakes[0], "operations") == _table_hash(lakes[1], "operations")
    history = "SELECT op_seq, operator, equipment_id, _row FROM history.operations ORDER BY 1"
    assert lakes[0].query(history) == lakes[1].query(history) == [
        (50, "A.Patel", None, 6), (180, "A.Patel", None, 19)]


def test_a_large_junit_report_over_chunks_loads_as_one_chunk(
        tmp_path: Path, landing: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_big_junit(landing / "TEST-rig.xml", 400_000)
    one, r1 = _ingest(tmp_path, "one", landing, None, monkeypatch, search=False)
    many, r2 = _ingest(tmp_path, "many", landing, 333, monkeypatch, search=False)
    a, b = r1.files[0], r2.files[0]
    assert a.rows_read > 1000 and a.status == b.status == "loaded"
    assert (a.rows_loaded, a.rows_quarantined) == (b.rows_loaded, b.rows_quarantined)
    assert _table_hash(one, "test_results") == _table_hash(many, "test_results")
    assert _quarantine(one) == _quarantine(many)


def test_a_failure_in_a_late_chunk_leaves_nothing_of_the_file(
        tmp_path: Path, landing: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A chunk that breaks while typing (after six chunks were staged) rejects the file whole;
    the lake keeps the run's other files and nothing of this one."""
    from tracelake.ingest import run

    write_csv(landing / "operations.csv", OP_HEADER, _ops(50))
    write_csv(landing / "units.csv", ["serial_number", "product_code", "job_id", "status"],
              [["S-1", "SPX-200", "J-1", "wip"]])
    real, calls = run.coerce_frame, []

    def breaks_at_seven(frame, contract, **kw):  # type: ignore[no-untyped-def]
        if contract.name == "operations":
            calls.append(frame.height)
            if len(calls) == 7:
                raise ValueError("simulated failure in chunk 7")
        return real(frame, contract, **kw)

    monkeypatch.setattr(run, "coerce_frame", breaks_at_seven)
    lake, report = _ingest(tmp_path, "lake", landing, 7, monkeypatch)
    entry = report_of(report, "operations.csv")
    assert entry["status"] == "rejected" and "simulated failure in chunk 7" in entry["reason"]
    assert entry["rows_loaded"] == 0 and len(calls) == 7
    assert lake.scalar("SELECT count(*) FROM operations") == 0
    assert lake.scalar("SELECT count(*) FROM quarantine") == 0
    assert lake.scalar("SELECT count(*) FROM units") == 1


def test_a_write_failure_after_the_chunks_costs_only_the_file(
        tmp_path: Path, landing: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The lake refusing the staged rows (the run's transaction aborted) rejects the file and
    the run goes again without it: nothing half-loaded, the other files in."""
    from tracelake.ingest import outcome, run

    write_csv(landing / "operations.csv", OP_HEADER, _ops(50, **{"45": {"operator": ""}}))
    write_csv(landing / "units.csv", ["serial_number", "product_code", "job_id", "status"],
              [["S-1", "SPX-200", "J-1", "wip"]])
    real = outcome.upsert

    def refuse_ops(con, contract, rows, **kw):  # type: ignore[no-untyped-def]
        counts = real(con, contract, rows, **kw)
        if contract.name == "operations":
            con.execute("SELECT CAST('x' AS INTEGER)")  # a real DuckDB failure mid-transaction
        return counts

    monkeypatch.setattr(outcome, "upsert", refuse_ops)
    # staged and upserted (a first load is written directly: the test below)
    monkeypatch.setattr(run.DirectLoad, "usable", staticmethod(lambda con, contract: False))
    lake, report = _ingest(tmp_path, "lake", landing, 7, monkeypatch)
    entry = report_of(report, "operations.csv")
    assert entry["status"] == "rejected" and "nothing of it is loaded" in entry["reason"]
    assert lake.scalar("SELECT count(*) FROM operations") == 0
    assert lake.scalar("SELECT count(*) FROM quarantine") == 0
    assert lake.scalar("SELECT count(*) FROM units") == 1


def test_a_write_failure_in_a_direct_first_load_costs_only_the_file(
        tmp_path: Path, landing: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A table's first rows are written as their chunks are checked (DirectLoad): the lake
    refusing them once they are in (the transaction aborted) rejects the file and the run goes
    again without it, as for a staged load."""
    from tracelake.ingest import stage

    write_csv(landing / "operations.csv", OP_HEADER, _ops(50, **{"45": {"operator": ""}}))
    write_csv(landing / "units.csv", ["serial_number", "product_code", "job_id", "status"],
              [["S-1", "SPX-200", "J-1", "wip"]])
    real = stage.DirectLoad.duplicates

    def refuse_ops(self):  # type: ignore[no-untyped-def]
        dup = real(self)
        if self.contract.name == "operations":  # a real DuckDB failure mid-transaction
            self._write(lambda: self.con.execute("SELECT CAST('x' AS INTEGER)"))
        return dup

    monkeypatch.setattr(stage.DirectLoad, "duplicates", refuse_ops)
    lake, report = _ingest(tmp_path, "lake", landing, 7, monkeypatch)
    entry = report_of(report, "operations.csv")
    assert entry["status"] == "rejected" and "nothing of it is loaded" in entry["reason"]
    assert lake.scalar("SELECT count(*) FROM operations") == 0
    assert lake.scalar("SELECT count(*) FROM quarantine") == 0
    assert lake.scalar("SELECT count(*) FROM units") == 1
