"""The search index kept up run by run answers exactly as a rebuild would.

A random sequence of runs on a small hand-made lake (new rows, changed rows moved to history,
quarantined rows, ids differing only in case, lots that are also jobs, shared customers); after
each run the index as the upkeep left it is compared with a full rebuild of the same lake (made
in a transaction that is rolled back): the current entries, the typo variants and the documents
(modulo eid numbering), and ``find``'s answers for ids, prefixes, typos and words.
"""

from __future__ import annotations

import contextlib
import random
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest

from tests.helpers import Lake, write_csv
from tracelake.contracts import CONTRACTS
from tracelake.derived.search import build_search_index, find, upkeep

TABLES = ("units", "unit_components", "material_issues", "jobs", "ncrs", "ecns", "job_ecns",
          "equipment", "calibrations", "shipments")
WORDS = ("cracked", "housing", "scratch", "lamp", "noise", "solder", "bridge", "label", "torn",
         "seal", "leak")


def _header(table: str) -> list[str]:
    return list(CONTRACTS[table].dtypes)


class Plant:
    """Random rows from small pools of ids, so that runs collide, change and supersede rows."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.serials = [f"SN-{i:03d}" for i in range(30)] + ["sn-005", "Sn-007", "SNX-01"]
        self.jobs = [f"J-{i}" for i in range(8)]
        self.lots = [f"L-{i}" for i in range(6)] + ["J-3", "l-2"]
        self.parts = ["RES-1", "CAP-2", "MCU-7"]
        self.orders = [f"SO-{i}" for i in range(5)]
        self.customers = ["Acme Ltd", "Bolt Co", "Kestrel Pharma Ltd", "acme ltd"]

    def pick(self, pool: list[str]) -> str:
        return self.rng.choice(pool)

    def rows(self, table: str) -> list[list[Any]]:
        r, k = self.rng, self.rng.randint(1, 6)
        ts = lambda: f"2026-10-{r.randint(1, 27):02d}T{r.randint(8, 17):02d}:00:00"  # noqa: E731
        out: list[dict[str, Any]] = []
        for _ in range(k):
            if table == "units":
                out.append({"serial_number": self.pick(self.serials), "product_code": "SPX-200",
                            "job_id": self.pick(self.jobs), "status": r.choice(["wip", "released", "done"]),
                            "built_at": ts()})
            elif table == "unit_components":
                out.append({"serial_number": self.pick(self.serials), "component_code":
                            self.pick(self.parts), "component_serial":
                            r.choice(["", self.pick(self.serials), f"PT-{r.randint(0, 9)}"]),
                            "lot_number": r.choice(["", self.pick(self.lots)]),
                            "fitted_at": ts(), "fitted_by": "Tom",
                            "removed_at": r.choice(["", "", ts()])})
            elif table == "material_issues":
                out.append({"issue_id": f"MI-{r.randint(0, 15)}", "job_id": self.pick(self.jobs),
                            "component_code": self.pick(self.parts),
                            "lot_number": self.pick(self.lots),
                            "component_serial": r.choice(["", "", f"PT-{r.randint(0, 9)}"]),
                            "quantity": r.choice([1, 5, "lots"]),  # "lots": quarantined
                            "uom": "ea", "issued_at": ts(), "issued_by": "Dave",
                            "supplier": r.choice(["Acme Ltd", "Farwell"]),
                            "supplier_lot": r.choice(["", f"SUP-{r.randint(0, 4)}"])})
            elif table == "jobs":
                out.append({"job_id": self.pick(self.jobs), "product_code": "SPX-200",
                            "mbr_revision": r.choice(["A", "B"]), "drawing_revision": "A",
                            "quantity": r.choice([10, 12]),
                            "customer_po": r.choice(["", f"PO-{r.randint(0, 3)}"]),
                            "created_at": ts(), "status": r.choice(["released", "closed"])})
            elif table == "ncrs":
                out.append({"ncr_id": f"NCR-{r.randint(0, 9)}", "raised_at": ts(),
                            "raised_by": "Jo", "job_id": r.choice(["", self.pick(self.jobs)]),
                            "serial_number": r.choice(["", self.pick(self.serials)]),
                            "component_code": self.pick(self.parts),
                            "lot_number": r.choice(["", self.pick(self.lots), "L-NEW"]),
                            "defect_code": r.choice(["CRACK", "NOISE"]),
                            "description": " ".join(r.sample(WORDS, 3)),
                            "disposition": r.choice(["scrap", "rework"])})
            elif table == "ecns":
                out.append({"ecn_id": f"ECN-{r.randint(0, 3)}", "product_code": "SPX-200",
                            "from_revision": "A", "to_revision": "B", "effective_at": ts(),
                            "approved_by": "Ruth", "description": " ".join(r.sample(WORDS, 2))})
            elif table == "job_ecns":
                out.append({"job_id": self.pick(self.jobs), "ecn_id": f"ECN-{r.randint(0, 3)}",
                            "applied_at": ts(), "applied_by": "Mark"})
            elif table == "equipment":
                out.append({"equipment_id": f"EQ-{r.randint(0, 3)}", "description": "Rig",
                            "kind": r.choice(["rig", "gauge"]), "location": "Bay 1"})
            elif table == "calibrations":
                out.append({"equipment_id": f"EQ-{r.randint(0, 5)}",
                            "calibrated_at": f"2026-0{r.randint(1, 9)}-01T08:00:00",
                            "due_at": "2027-01-01T08:00:00",
                            "certificate_no": f"CERT-{r.randint(0, 9)}",
                            "as_found": r.choice(["in_tolerance", "out_of_tolerance"]),
                            "as_left": "in_tolerance", "calibrated_by": "Lab", "lab": "UKAS"})
            elif table == "shipments":
                out.append({"serial_number": self.pick(self.serials),
                            "customer": self.pick(self.customers),
                            "order_ref": self.pick(self.orders), "shipped_at": ts(),
                            "ship_to_country": "GB"})
        header = _header(table)
        return [[row.get(c, "") for c in header] for row in out]


@contextlib.contextmanager
def _index_connection(lake: Lake) -> Iterator[duckdb.DuckDBPyConnection]:
    """A writable connection holding the lake's tables and its search index (either mode)."""
    if lake.paths.config is None:
        from tracelake.lake.storage import connect_writer

        with connect_writer(lake.paths) as con:
            yield con
        return
    from tracelake.ingest import serving

    con = serving._connect(lake.paths)
    try:
        serving._name_lake_tables(con)
        yield con
    finally:
        con.close()


def _contents(con: duckdb.DuckDBPyConnection) -> dict[str, Counter[Any]]:
    """The index modulo eid numbering: current entries, typo variants by entry, documents."""
    cols = "kind, id, component, record, context, page, params"
    live = "eid NOT IN (SELECT eid FROM search.dead)"
    entries = con.execute(f"SELECT eid, {cols} FROM search.entries WHERE {live} UNION ALL "
                          f"SELECT eid, {cols} FROM search.entries_delta").fetchall()
    by_eid = {r[0]: r[1:] for r in entries}
    variants = con.execute("SELECT h, v FROM search.deletes UNION ALL "
                           "SELECT h, v FROM search.deletes_delta").fetchall()
    return {
        "entries": Counter(by_eid.values()),
        "deletes": Counter((h, v & 0xFFFFFFFF, by_eid[v >> 32]) for h, v in variants
                           if (v >> 32) in by_eid),
        "docs": Counter(con.execute("SELECT * FROM search.docs").fetchall()),
        "postings": Counter(con.execute(
            "SELECT d.term, p.doc_id, p.tfw FROM search.postings p "
            "JOIN fts_search_docs.dict d ON d.termid = p.termid").fetchall()),
    }


def _queries(con: duckdb.DuckDBPyConnection, rng: random.Random) -> list[str]:
    ids = sorted({r[0] for r in con.execute(
        "SELECT id FROM search.entries UNION SELECT id FROM search.entries_delta").fetchall()})
    out = ["SN", "sn-0", "J-", "L-", "acme", "Kestrel Pharna Ltd", "acme ltx", "cracked housing",
           "scrach", "sn 005", "RES1", "nothing-like-this"]
    for text in rng.sample(ids, min(8, len(ids))):
        i = rng.randrange(len(text))
        out += [text, text.lower()[:max(1, len(text) - 2)], text[:i] + "Z" + text[i + 1:],
                text[:i] + text[i + 1:],
                text[:i] + text[i + 1:i + 2] + text[i:i + 1] + text[i + 2:]]
    return out


def _answers(con: duckdb.DuckDBPyConnection, queries: list[str]) -> list[Any]:
    return [(q, limit, find(con, q, limit=limit).as_dict()) for q in queries for limit in (3, 50)]


@pytest.mark.parametrize("seed", [1])
def test_runs_kept_up_answer_as_a_rebuild(lake: Lake, tmp_path: Path, seed: int,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    rng = random.Random(seed)
    plant = Plant(rng)
    modes: Counter[str] = Counter()
    for run in range(10):
        # mostly kept up, now and then merged into a new base (a rebuild)
        monkeypatch.setattr(upkeep, "MERGE_FRACTION", rng.choice([1000.0, 1000.0, 1000.0, 0.3]))
        landing = tmp_path / f"run-{run}"
        for table in rng.sample(TABLES, rng.randint(1, 5)) if run else TABLES:
            write_csv(landing / f"{table}.csv", _header(table), plant.rows(table))
        report = lake.ingest(landing)
        if report.search is None:
            continue
        modes[report.search["mode"]] += 1
        with _index_connection(lake) as con:
            kept, queries = _contents(con), _queries(con, rng)
            answers = _answers(con, queries)
            con.execute("BEGIN TRANSACTION")
            try:
                build_search_index(con)
                rebuilt = _contents(con)
                for part, counts in rebuilt.items():
                    assert counts == kept[part], (run, part, counts - kept[part],
                                                  kept[part] - counts)
                assert _answers(con, queries) == answers, f"run {run}"
            finally:
                con.execute("ROLLBACK")
    assert modes["incremental"] >= 5, modes  # the upkeep, not rebuilds, was what was compared
    assert modes["full"] >= 1, modes


def test_a_small_run_touches_only_its_keys(lake: Lake, tmp_path: Path) -> None:
    # the base stays as built: the run's entries go to the delta, the ones they replace die
    rows = [[f"SN-{i:04d}", "SPX-200", "J-1", "wip", "2026-10-01T08:00:00"] for i in range(200)]
    write_csv(tmp_path / "a" / "units.csv", _header("units"), rows)
    first = lake.ingest(tmp_path / "a")
    assert first.search is not None and first.search["mode"] == "full"
    write_csv(tmp_path / "b" / "units.csv", _header("units"),
              [["SN-0007", "SPX-200", "J-2", "released", "2026-10-02T08:00:00"],
               ["SN-9999", "SPX-200", "J-2", "wip", "2026-10-02T08:00:00"]])
    second = lake.ingest(tmp_path / "b")
    assert second.search is not None and second.search["mode"] == "incremental"
    assert second.search["steps"]["keys"] == 2 and second.search["entries"] == 201
    with _index_connection(lake) as con:
        assert con.execute("SELECT count(*) FROM search.entries").fetchone()[0] == 200
        assert con.execute("SELECT count(*) FROM search.dead").fetchone()[0] == 1
        assert sorted(r[0] for r in con.execute("SELECT id FROM search.entries_delta").fetchall()
                      ) == ["SN-0007", "SN-9999"]
        assert find(con, "SN-0007").hits[0]["context"] == "SPX-200 · job J-2 · released"
        assert [h["id"] for h in find(con, "SN-999", limit=3).hits] == ["SN-9999"]
