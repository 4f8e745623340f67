"""The genealogy index kept current run by run equals the index rebuilt from scratch."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import duckdb
import pytest

from tests.helpers import SAMPLE, Lake
from tests.test_genealogy import fit, issue, ship, unit, write_plant
from tracelake.derived.genealogy import build_index

TABLES = {
    "nodes": "node_id, kind, component_code, lot_number, serial_number, label",
    "edges": "child, parent, source, linked_at",
    "edges_by_parent": "child, parent, source, linked_at",
    "closure_by_anc": "anc, des, depth",
    "closure_by_des": "anc, des, depth",
    "unit_info": "node_id, serial_number, product_code, job_id, status, top, customer, "
                 "order_ref, shipped_at, ship_to_country",
    "removed": "child, parent, removed_at, removal_ncr_id, parent_serial, child_label",
    "loose_serials": "node_id, serial_number, component_code",
    "lot_keys": "node_id, component_code, lot_number",
    "cycles": "node_id, cycle_length",
    "multi_parent": "node_id, parents",
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


def _lot_spans_are_tight(con: duckdb.DuckDBPyConnection) -> None:
    """Each lot's key range is the least and greatest key of its holders (the parents of its
    edges and everything they are in), or empty for a lot in nothing."""
    bad = con.execute("""
        WITH holders AS (
            SELECT e.child AS lot, e.parent AS des FROM genealogy.edges e
            UNION ALL
            SELECT e.child, c.des FROM genealogy.edges e
            JOIN genealogy.closure_by_anc c ON c.anc = e.parent
        ), span AS (SELECT lot, min(des) AS lo, max(des) AS hi FROM holders GROUP BY lot)
        SELECT k.component_code, k.lot_number, k.des_lo, k.des_hi, s.lo, s.hi
        FROM genealogy.lot_keys k LEFT JOIN span s ON s.lot = k.node_id
        WHERE k.des_lo IS DISTINCT FROM s.lo OR k.des_hi IS DISTINCT FROM s.hi""").fetchall()
    assert bad == []


def _assert_kept_equals_rebuilt(lake: Lake) -> None:
    con = duckdb.connect(str(lake.paths.database))
    try:
        kept = _snapshot(con)
        _lot_spans_are_tight(con)
        con.execute("BEGIN")
        build_index(con)
        rebuilt = _snapshot(con)
        _lot_spans_are_tight(con)
        con.execute("ROLLBACK")
    finally:
        con.close()
    for table in TABLES:
        assert kept[table] == rebuilt[table], table


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
    _assert_kept_equals_rebuilt(lake)


# Runs of a small plant, each ingested on top of the last; after every run the index kept
# current must equal one rebuilt from the same lake, and the runs that only add rows must be
# taken incrementally.
_Run = Callable[[Path], Path]
SCENARIOS: dict[str, list[_Run]] = {
    "a sub-assembly built in one run is fitted in the next": [
        lambda d: write_plant(d, units=[unit("PCB-1", "J-P", "PCB"), unit("PCB-2", "J-P", "PCB")],
                              issues=[issue("J-P", "CAP-100", "L77")]),
        lambda d: write_plant(d, units=[unit("DEV-1", "J-D", "DEV")],
                              issues=[issue("J-D", "CASE", "L5")],
                              fitments=[fit("DEV-1", "PCB", serial="PCB-1")], suffix="_2"),
        lambda d: write_plant(d, units=[unit("MOD-1", "J-M", "MOD")],
                              fitments=[fit("MOD-1", "PCB", serial="PCB-2"),
                                        fit("DEV-1", "MOD", serial="MOD-1",
                                            at="2026-10-21T10:00")], suffix="_3"),
    ],
    "a lot issued to a new job in a later run, shipments of earlier units": [
        lambda d: write_plant(d, units=[unit("A-1", "J-1", "DEV"), unit("A-2", "J-1", "DEV")],
                              issues=[issue("J-1", "CAP-100", "L77")]),
        lambda d: write_plant(d, units=[unit("B-1", "J-2", "DEV")],
                              issues=[issue("J-2", "CAP-100", "L77", at="2026-10-27T08:00")],
                              shipments=[ship("A-1", "Acme Labs", "SO-1")], suffix="_2"),
        lambda d: write_plant(d, shipments=[ship("A-1", "Acme Labs", "SO-9", "2026-12-01T10:00"),
                                            ship("B-1", "Norsk Analyse AS", "SO-2")],
                              suffix="_3"),
    ],
    "parts fitted before their unit's row, which comes later": [
        lambda d: write_plant(d, units=[unit("X-1", "J-X", "DEV")],
                              fitments=[fit("DEV-9", "LAMP", serial="D2-1", lot="L1")]),
        lambda d: write_plant(d, units=[unit("DEV-9", "J-D", "DEV")],
                              issues=[issue("J-D", "CASE", "L5")], suffix="_2"),
    ],
    "a lot fitted into serials whose units rows (in its job) come in a later run": [
        lambda d: write_plant(d, units=[unit("A-1", "J-1", "DEV")],
                              issues=[issue("J-1", "CAP-100", "L77")],
                              fitments=[fit("S-1", "CAP-100", lot="L77")]),
        lambda d: write_plant(d, units=[unit("S-1", "J-1", "DEV"), unit("T-1", "J-1", "DEV")],
                              suffix="_2"),
    ],
    "serialised parts of a lot, issued and fitted in later runs": [
        lambda d: write_plant(d, units=[unit("DEV-1", "J-D", "DEV"), unit("DEV-2", "J-D", "DEV")],
                              issues=[issue("J-D", "LAMP", "L-OLD", serial="D2-0001")],
                              fitments=[fit("DEV-1", "LAMP", serial="D2-0001", lot="L-OLD")]),
        lambda d: write_plant(d, issues=[issue("J-D", "LAMP", "L-OLD", serial="D2-0003",
                                               at="2026-10-21T08:00")],
                              fitments=[fit("DEV-2", "LAMP", serial="D2-0003", lot="L-OLD",
                                            at="2026-10-21T10:00")], suffix="_2"),
        lambda d: write_plant(d, units=[unit("DEV-3", "J-E", "DEV")],
                              issues=[issue("J-E", "LAMP", "L-NEW", serial="D2-0009")],
                              fitments=[fit("DEV-3", "LAMP", serial="D2-0009", lot="L-NEW",
                                            at="2026-10-22T10:00")], suffix="_3"),
    ],
}


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_each_run_kept_incrementally_equals_a_rebuild(tmp_path: Path, name: str) -> None:
    lake = Lake(tmp_path / "lake")
    for i, write in enumerate(SCENARIOS[name]):
        landing = tmp_path / f"run-{i}"
        landing.mkdir()
        report = lake.ingest(write(landing))
        assert report.genealogy is not None
        assert report.genealogy["mode"] == ("full" if i == 0 else "incremental"), i
        _assert_kept_equals_rebuilt(lake)


@pytest.mark.parametrize("fitted", ["another lot", "the lot issued", "the serial issued"])
def test_a_later_fitment_of_a_part_issued_to_its_job_is_kept_equal_to_a_rebuild(
        tmp_path: Path, fitted: str) -> None:
    """A part issued to a job reaches every unit of it until a fitment of the job names it: a
    later run fitting an issued lot into an older unit takes those job-level links away (kept
    incrementally, the lot's holder range narrowed); a serial issued to the job reaches the
    closure, so fitting it takes the full build; another lot keeps the links."""
    lake = Lake(tmp_path / "lake")
    first, second = tmp_path / "run-0", tmp_path / "run-1"
    first.mkdir()
    second.mkdir()
    lake.ingest(write_plant(first, units=[unit("A-1", "J-1", "DEV"), unit("A-2", "J-1", "DEV"),
                                          unit("B-1", "J-2", "DEV"), unit("C-1", "J-3", "DEV")],
                            issues=[issue("J-1", "CAP-100", "L77"), issue("J-3", "CAP-100", "L77"),
                                    issue("J-2", "CAP-100", "L78"),
                                    issue("J-1", "PSU", "LP1", serial="PSU-1")]))
    fitment = {"another lot": fit("A-1", "CAP-100", lot="L99"),
               "the lot issued": fit("A-2", "CAP-100", lot="L77"),
               "the serial issued": fit("A-1", "PSU", serial="PSU-1", lot="LP1")}[fitted]
    report = lake.ingest(write_plant(second, units=[unit("A-3", "J-1", "DEV")],
                                     fitments=[fitment], suffix="_2"))
    assert report.genealogy is not None
    assert report.genealogy["mode"] == ("full" if fitted == "the serial issued"
                                        else "incremental")
    _assert_kept_equals_rebuilt(lake)
    if fitted == "the lot issued":  # L77 reaches A-2 by its fitment, C-1 by its job, A-1 not
        # (its holder range no longer starts at A-1)
        con = duckdb.connect(str(lake.paths.database), read_only=True)
        holders = con.execute("""
            SELECT s.serial_number, e.source::VARCHAR FROM genealogy.edges e
            JOIN genealogy.lot_keys l ON l.node_id = e.child
            JOIN genealogy.serial_keys s ON s.node_id = e.parent
            WHERE l.lot_number = 'L77' ORDER BY 1""").fetchall()
        con.close()
        assert holders == [("A-2", "unit_components"), ("C-1", "material_issues")]


@pytest.mark.parametrize("closes_a_cycle", [False, True])
def test_a_run_fitting_parts_into_serials_that_are_no_units_takes_the_full_build(
        tmp_path: Path, closes_a_cycle: bool) -> None:
    """The upkeep derives links from units: parts fitted into a serial that is no unit (a known
    loose serial, or one first named now) are links only the full build sees."""
    lake = Lake(tmp_path / "lake")
    first, second = tmp_path / "run-0", tmp_path / "run-1"
    first.mkdir()
    second.mkdir()
    lake.ingest(write_plant(first, units=[unit("A", "J-1", "P")],
                            fitments=[fit("A", "P", serial="LOOSE-1")]))
    fits = [fit("LOOSE-1", "Q", serial="PART-1"), fit("NEW-1", "Q", serial="PART-2")]
    if closes_a_cycle:
        fits.append(fit("LOOSE-1", "P", serial="A", at="2026-10-21T10:00"))
    report = lake.ingest(write_plant(second, fitments=fits, suffix="_2"))
    assert report.genealogy is not None
    assert report.genealogy["mode"] == "full"
    assert (report.genealogy["cycles"] > 0) == closes_a_cycle
    if not closes_a_cycle:
        _assert_kept_equals_rebuilt(lake)


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


def test_edges_handed_to_duckdb_a_batch_at_a_time_equal_one_batch(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The job-level edges are laid out in numpy and written a batch at a time (bounded
    memory at 1M units); tables, stored order included, are those of one batch."""
    from tracelake.derived.genealogy import edges
    from tracelake.ingest import ingest
    from tracelake.lake.paths import LakePaths

    lake = LakePaths.of(tmp_path / "lake")  # embedded: the index is rebuilt in its file
    ingest([SAMPLE], lake, exclude=["bad/*"])
    tables = ("edges", "edges_by_parent", "closure_by_anc", "closure_by_des", "lot_keys",
              "unit_info", "removed")
    slices: list[int] = []
    plain = edges._JobEdges._slices

    def counted(n):  # type: ignore[no-untyped-def]
        out = list(plain(n))
        slices.append(len(out))
        return iter(out)

    monkeypatch.setattr(edges._JobEdges, "_slices", staticmethod(counted))
    con = duckdb.connect(str(lake.database))
    try:
        def built() -> dict[str, list[tuple[object, ...]]]:
            con.execute("BEGIN")
            build_index(con)
            out = {t: con.execute(f"SELECT * FROM genealogy.{t} ORDER BY rowid").fetchall()
                   for t in tables}
            con.execute("ROLLBACK")
            return out

        whole = built()
        assert slices == [1, 1]  # by child, by parent: one batch each
        monkeypatch.setattr(edges, "EDGE_BATCH", 5)
        batched = built()
    finally:
        con.close()
    assert min(slices[2:]) > 10  # many batches
    assert whole["edges"] and whole["closure_by_anc"]
    for table in tables:
        assert batched[table] == whole[table], table


def test_the_index_is_built_on_one_thread_and_the_setting_restored(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The build's joins hold a hash table per thread: it runs on one thread (what kept a
    1M-unit plant's build inside the writer's memory limit) and leaves the setting as it was."""
    import tracelake.derived.genealogy.index as index

    seen: list[str] = []
    real = index._build_nodes

    def spy(con: duckdb.DuckDBPyConnection) -> None:
        seen.append(con.execute("SELECT current_setting('threads')").fetchone()[0])
        real(con)

    monkeypatch.setattr(index, "_build_nodes", spy)
    lake = Lake(tmp_path / "lake")
    lake.ingest(SAMPLE)
    with duckdb.connect(str(lake.paths.database)) as con:
        con.execute("SET threads = 2")
        build_index(con)
        assert con.execute("SELECT current_setting('threads')").fetchone()[0] == 2
    assert seen and all(t == 1 for t in seen)
