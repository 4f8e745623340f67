"""Tests for the synthetic plant generator: contract validity, integrity and known facts.

The contract (columns, required fields, allowed values, natural keys) is restated here from
the import contract on purpose: the generator must satisfy the document, not itself.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterable
from datetime import UTC, datetime
from functools import cache
from pathlib import Path

import polars as pl
import pytest

from tests.helpers import Lake
from tracelake.derived.findings import list_findings
from tracelake.lake.snapshot import open_snapshot
from tracelake.synthetic import TABLES, PlantOptions, PlantSummary, generate_plant

N = 1500
SEED = 7

# table -> columns in contract order; a trailing "*" marks a required field.
CONTRACT: dict[str, list[str]] = {
    "products": ["product_code*", "description*", "gtin", "serialised*"],
    "mbr": [
        "product_code*",
        "mbr_revision*",
        "drawing_revision*",
        "status*",
        "approved_by",
        "approved_at",
        "effective_from",
    ],
    "mbr_bom": [
        "product_code*",
        "mbr_revision*",
        "line_no*",
        "component_code*",
        "component_revision*",
        "qty_per*",
        "uom",
        "serialised",
        "critical",
    ],
    "mbr_operations": [
        "product_code*",
        "mbr_revision*",
        "op_seq*",
        "op_code*",
        "description*",
        "work_centre",
        "acceptance_criteria",
        "first_article",
        "needs_calibrated_equipment",
    ],
    "equipment": ["equipment_id*", "description*", "kind", "location"],
    "jobs": [
        "job_id*",
        "product_code*",
        "mbr_revision*",
        "drawing_revision*",
        "quantity*",
        "customer_po",
        "due_date",
        "created_at*",
        "released_at",
        "released_by",
        "status*",
    ],
    "bom_snapshot": [
        "job_id*",
        "line_no*",
        "component_code*",
        "component_revision*",
        "qty_per*",
        "uom",
        "serialised",
        "critical",
    ],
    "material_issues": [
        "issue_id*",
        "job_id*",
        "component_code*",
        "lot_number*",
        "component_serial",
        "quantity*",
        "uom",
        "issued_at*",
        "issued_by*",
        "supplier",
        "supplier_lot",
    ],
    "units": ["serial_number*", "product_code*", "job_id*", "status*", "built_at"],
    "unit_components": [
        "serial_number*",
        "component_code*",
        "component_serial",
        "lot_number",
        "fitted_at*",
        "fitted_by*",
        "removed_at",
        "removed_by",
        "removal_ncr_id",
    ],
    "operations": [
        "job_id*",
        "op_seq*",
        "op_code*",
        "serial_number",
        "work_centre",
        "operator*",
        "started_at*",
        "finished_at*",
        "result*",
        "equipment_id",
    ],
    "ncrs": [
        "ncr_id*",
        "raised_at*",
        "raised_by*",
        "job_id",
        "serial_number",
        "component_code",
        "lot_number",
        "supplier",
        "defect_code*",
        "description*",
        "disposition*",
        "closed_at",
        "closed_by",
        "retest_ref",
    ],
    "ecns": [
        "ecn_id*",
        "product_code*",
        "from_revision*",
        "to_revision*",
        "effective_at*",
        "approved_by*",
        "description*",
        "affected_ops",
    ],
    "job_ecns": ["job_id*", "ecn_id*", "applied_at*", "applied_by*", "pages"],
    "firmware_loads": [
        "serial_number*",
        "firmware_version*",
        "build_id*",
        "loaded_at*",
        "loaded_by*",
        "release_approved*",
    ],
    "label_checks": ["serial_number*", "label_data*", "checked_at*", "checked_by*", "result*"],
    "signoffs": ["record_type*", "record_id*", "role*", "signed_by*", "signed_at*", "meaning*"],
    "shipments": ["serial_number*", "customer*", "order_ref*", "shipped_at*", "ship_to_country"],
    "test_results": [
        "serial_number*",
        "equipment_id*",
        "test_step*",
        "measurement*",
        "value",
        "units",
        "low_limit",
        "high_limit",
        "result*",
        "tested_at*",
        "operator*",
        "software_version",
        "run_id",
        "attempt",
    ],
    "calibrations": [
        "equipment_id*",
        "calibrated_at*",
        "due_at*",
        "certificate_no*",
        "as_found*",
        "as_left*",
        "calibrated_by*",
        "lab",
    ],
}

ALLOWED: dict[tuple[str, str], set[str]] = {
    ("mbr", "status"): {"draft", "approved", "superseded"},
    ("equipment", "kind"): {"gauge", "meter", "rig", "tool"},
    ("jobs", "status"): {"planned", "in_progress", "complete", "released", "on_hold", "cancelled"},
    ("units", "status"): {"wip", "passed", "released", "shipped", "scrapped", "quarantined"},
    ("operations", "result"): {"pass", "fail", "done"},
    ("ncrs", "disposition"): {"pending", "rework", "scrap", "use_as_is", "return_to_supplier"},
    ("label_checks", "result"): {"pass", "fail"},
    ("signoffs", "record_type"): {"job", "operation", "unit", "ncr", "release"},
    ("signoffs", "role"): {"operator", "inspector", "qa", "release"},
    ("test_results", "result"): {"pass", "fail"},
    ("calibrations", "as_found"): {"in_tolerance", "out_of_tolerance", "not_applicable"},
    ("calibrations", "as_left"): {"in_tolerance", "out_of_tolerance", "not_applicable"},
}
BOOLEANS = {
    ("products", "serialised"),
    ("mbr_bom", "serialised"),
    ("mbr_bom", "critical"),
    ("mbr_operations", "first_article"),
    ("mbr_operations", "needs_calibrated_equipment"),
    ("bom_snapshot", "serialised"),
    ("bom_snapshot", "critical"),
    ("firmware_loads", "release_approved"),
}
INTEGERS = {
    ("mbr_bom", "line_no"),
    ("mbr_operations", "op_seq"),
    ("jobs", "quantity"),
    ("bom_snapshot", "line_no"),
    ("operations", "op_seq"),
    ("test_results", "attempt"),
}
POSITIVE = {
    ("mbr_bom", "qty_per"),
    ("jobs", "quantity"),
    ("bom_snapshot", "qty_per"),
    ("material_issues", "quantity"),
}
FLOATS = POSITIVE | {
    ("test_results", "value"),
    ("test_results", "low_limit"),
    ("test_results", "high_limit"),
}
TIMESTAMPS: dict[str, list[str]] = {
    "mbr": ["approved_at", "effective_from"],
    "jobs": ["created_at", "released_at"],
    "material_issues": ["issued_at"],
    "units": ["built_at"],
    "unit_components": ["fitted_at", "removed_at"],
    "operations": ["started_at", "finished_at"],
    "ncrs": ["raised_at", "closed_at"],
    "ecns": ["effective_at"],
    "job_ecns": ["applied_at"],
    "firmware_loads": ["loaded_at"],
    "label_checks": ["checked_at"],
    "signoffs": ["signed_at"],
    "shipments": ["shipped_at"],
    "test_results": ["tested_at"],
    "calibrations": ["calibrated_at", "due_at"],
}
NATURAL_KEYS: dict[str, list[str]] = {
    "products": ["product_code"],
    "mbr": ["product_code", "mbr_revision"],
    "mbr_bom": ["product_code", "mbr_revision", "line_no"],
    "mbr_operations": ["product_code", "mbr_revision", "op_seq"],
    "equipment": ["equipment_id"],
    "jobs": ["job_id"],
    "bom_snapshot": ["job_id", "line_no"],
    "material_issues": ["issue_id"],
    "units": ["serial_number"],
    "unit_components": ["serial_number", "component_code", "_serial_or_lot", "fitted_at"],
    "operations": ["job_id", "op_seq", "serial_number", "started_at"],
    "ncrs": ["ncr_id"],
    "ecns": ["ecn_id"],
    "job_ecns": ["job_id", "ecn_id"],
    "firmware_loads": ["serial_number", "build_id", "loaded_at"],
    "label_checks": ["serial_number", "checked_at"],
    "signoffs": ["record_type", "record_id", "role", "signed_at"],
    "shipments": ["serial_number", "order_ref"],
    "test_results": ["serial_number", "test_step", "measurement", "tested_at"],
    "calibrations": ["equipment_id", "calibrated_at"],
}
TS_RE = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$"
FINISHED = ("DEV-A", "DEV-B")


# ------------------------------------------------------------------------------------------
# helpers


def table_of(name: str) -> str | None:
    """The table a file name belongs to: the longest table name it starts with."""
    hits = [t for t in TABLES if name.startswith(t)]
    return max(hits, key=len) if hits else None


def read(out: Path, table: str) -> pl.DataFrame:
    """Every file of ``table`` as one all-string frame (empty fields -> null)."""
    files = sorted(p for p in out.iterdir() if table_of(p.name) == table)
    assert files, f"no file for {table}"
    return pl.concat([pl.read_csv(p, infer_schema=False) for p in files])


def ts(col: str) -> pl.Expr:
    return pl.col(col).str.to_datetime("%Y-%m-%dT%H:%M:%SZ", strict=True)


def file_bytes(out: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(out.iterdir())}


class Plant:
    """The generated files loaded into plain dictionaries, traced independently."""

    def __init__(self, out: Path) -> None:
        self.out = out
        self.t = {t: read(out, t) for t in TABLES}
        units = self.t["units"]
        self.product = dict(zip(units["serial_number"], units["product_code"], strict=True))
        self.job = dict(zip(units["serial_number"], units["job_id"], strict=True))
        self.job_lots: dict[str, set[tuple[str, str]]] = defaultdict(set)
        for j, c, lot in (
            self.t["material_issues"].select("job_id", "component_code", "lot_number").iter_rows()
        ):
            self.job_lots[j].add((c, lot))
        self.children: dict[tuple[str, bool], list[tuple[str, str | None, str | None]]] = (
            defaultdict(list)
        )
        self.parents: dict[tuple[str, bool], set[str]] = defaultdict(set)
        self.fitted_lot: dict[tuple[str, str, bool], set[str]] = defaultdict(set)
        uc = self.t["unit_components"]
        for p, c, cs, lot, removed in uc.select(
            "serial_number", "component_code", "component_serial", "lot_number", "removed_at"
        ).iter_rows():
            for current in (True, False):
                if current and removed is not None:
                    continue
                self.children[(p, current)].append((c, cs, lot))
                if cs is not None:
                    self.parents[(cs, current)].add(p)
                if lot is not None:
                    self.fitted_lot[(c, lot, current)].add(p)

    def fitted_codes(self, serial: str) -> set[str]:
        """Component codes fitted to ``serial`` per unit (these override job issues)."""
        return {c for c, _cs, _lot in self.children.get((serial, False), [])}

    def job_lots_of(self, serial: str) -> set[tuple[str, str]]:
        """Job-issued lots that reach ``serial``: codes it has no unit-level row for."""
        fitted = self.fitted_codes(serial)
        return {
            (c, lot) for c, lot in self.job_lots.get(self.job[serial], set()) if c not in fitted
        }

    def finished_containing(self, code: str, lot: str, current: bool = True) -> set[str]:
        """Forward trace: finished serials whose genealogy holds (code, lot)."""
        jobs = {j for j, lots in self.job_lots.items() if (code, lot) in lots}
        frontier = {
            s for s, j in self.job.items() if j in jobs and code not in self.fitted_codes(s)
        }
        frontier |= self.fitted_lot.get((code, lot, current), set())
        seen = set(frontier)
        while frontier:
            nxt = set()
            for s in frontier:
                nxt |= self.parents.get((s, current), set())
            frontier = nxt - seen
            seen |= frontier
        return {s for s in seen if self.product[s] in FINISHED}

    def ancestors(self, serial: str) -> tuple[set[str], set[tuple[str, str]]]:
        """Backward trace (current genealogy): ancestor serials and (code, lot) pairs."""
        serials: set[str] = set()
        lots: set[tuple[str, str]] = set()
        frontier = [serial]
        while frontier:
            s = frontier.pop()
            lots |= self.job_lots_of(s)
            for c, cs, lot in self.children.get((s, True), []):
                if cs is not None:
                    serials.add(cs)
                    frontier.append(cs)
                if lot is not None:
                    lots.add((c, lot))
        return serials, lots

    @cache  # noqa: B019 - one Plant per module, tiny
    def links(self, serial: str) -> int:
        """Consumption links in the current tree below ``serial`` (unit rows + job lots)."""
        own = self.children.get((serial, True), [])
        n = len(own) + len(self.job_lots_of(serial))
        return n + sum(self.links(cs) for _c, cs, _l in own if cs is not None)

    def finished(self) -> list[str]:
        return [s for s, p in self.product.items() if p in FINISHED]


@pytest.fixture(scope="module")
def plant_dir(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, PlantSummary]:
    out = tmp_path_factory.mktemp("plant")
    seen: list[tuple[str, int]] = []
    summary = generate_plant(out, N, SEED, progress=lambda t, n: seen.append((t, n)))
    assert [t for t, _ in seen] == list(TABLES)
    assert dict(seen) == summary.rows
    return out, summary


@pytest.fixture(scope="module")
def plant(plant_dir: tuple[Path, PlantSummary]) -> Plant:
    return Plant(plant_dir[0])


# ------------------------------------------------------------------------------------------
# files and determinism


def test_every_file_is_named_for_a_table(plant_dir: tuple[Path, PlantSummary]) -> None:
    out, summary = plant_dir
    names = sorted(p.name for p in out.iterdir())
    assert all(n.endswith(".csv") and table_of(n) for n in names), names
    assert {table_of(n) for n in names} == set(TABLES)
    written = sorted(p.name for p in summary.files)
    assert written == sorted(p.name for paths in summary.table_files.values() for p in paths)
    assert written == names
    for table, n in summary.rows.items():
        assert read(out, table).height == n


def test_same_seed_same_bytes_other_seed_differs(tmp_path: Path) -> None:
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    generate_plant(a, 600, 3)
    generate_plant(b, 600, 3)
    generate_plant(c, 600, 4)
    assert file_bytes(a) == file_bytes(b)
    differing = {k for k, v in file_bytes(c).items() if file_bytes(a).get(k) != v}
    assert {"units.csv", "unit_components.csv", "test_results.csv"} <= differing


def test_large_tables_split_into_numbered_files(tmp_path: Path) -> None:
    whole, split = tmp_path / "whole", tmp_path / "split"
    generate_plant(whole, 400, 1)
    s = generate_plant(split, 400, 1, options=PlantOptions(rows_per_file=500))
    units = s.table_files["units"]
    assert [p.name for p in units][:2] == ["units-0001.csv", "units-0002.csv"]
    assert all(read(split, "units").height <= 500 * len(units) for _ in [0])
    assert read(split, "units").equals(read(whole, "units"))
    assert read(split, "test_results").equals(read(whole, "test_results"))
    # a second run into the same folder replaces the numbered files, never mixes them
    generate_plant(split, 400, 1)
    assert file_bytes(split) == file_bytes(whole)


# ------------------------------------------------------------------------------------------
# contract validity


def test_columns_required_fields_and_types(plant: Plant) -> None:
    for table, spec in CONTRACT.items():
        df = plant.t[table]
        assert df.columns == [c.rstrip("*") for c in spec], table
        assert df.height > 0, table
        for c in spec:
            col = c.rstrip("*")
            if c.endswith("*"):
                assert df[col].null_count() == 0, f"{table}.{col} has empty required values"
            if (table, col) in BOOLEANS:
                assert set(df[col].drop_nulls()) <= {"true", "false"}, (table, col)
            if (table, col) in INTEGERS:
                df[col].drop_nulls().cast(pl.Int64, strict=True)
            if (table, col) in FLOATS:
                vals = df[col].drop_nulls().cast(pl.Float64, strict=True)
                if (table, col) in POSITIVE:
                    assert (vals > 0).all(), (table, col)
        for col in TIMESTAMPS.get(table, []):
            vals = df[col].drop_nulls()
            assert vals.str.contains(TS_RE).all(), (table, col)
            vals.str.to_datetime("%Y-%m-%dT%H:%M:%SZ", strict=True)
    due = plant.t["jobs"]["due_date"].drop_nulls()
    assert due.str.contains(r"^\d{4}-\d{2}-\d{2}$").all()


def test_allowed_values(plant: Plant) -> None:
    for (table, col), allowed in ALLOWED.items():
        got = set(plant.t[table][col].drop_nulls())
        assert got <= allowed, (table, col, got - allowed)
    # the mix the benchmark relies on
    statuses = plant.t["units"].filter(pl.col("product_code").is_in(FINISHED))["status"]
    counts = statuses.value_counts().rows()
    mix = dict(counts)
    assert mix["shipped"] > 0.5 * statuses.len()
    assert {"released", "passed", "wip", "scrapped"} <= set(mix)
    assert set(plant.t["calibrations"]["as_found"]) >= {"in_tolerance", "out_of_tolerance"}


def test_natural_keys_unique(plant: Plant) -> None:
    for table, key in NATURAL_KEYS.items():
        df = plant.t[table]
        if table == "unit_components":
            df = df.with_columns(
                pl.coalesce("component_serial", "lot_number").alias("_serial_or_lot")
            )
        dupes = df.select(key).is_duplicated().sum()
        assert dupes == 0, f"{table}: {dupes} rows share a natural key"


def test_row_rules(plant: Plant) -> None:
    t = plant.t
    cal = t["calibrations"]
    assert cal.filter(ts("due_at") <= ts("calibrated_at")).height == 0
    assert t["operations"].filter(ts("finished_at") < ts("started_at")).height == 0
    tr = t["test_results"].with_columns(pl.col("value", "low_limit", "high_limit").cast(pl.Float64))
    assert tr.filter(pl.col("low_limit") > pl.col("high_limit")).height == 0
    inside = pl.col("value").is_between(pl.col("low_limit"), pl.col("high_limit"))
    assert tr.filter(inside != (pl.col("result") == "pass")).height == 0
    uc = t["unit_components"]
    assert (
        uc.filter(pl.col("component_serial").is_null() & pl.col("lot_number").is_null()).height == 0
    )
    assert uc.filter(ts("removed_at") <= ts("fitted_at")).height == 0
    ncr = t["ncrs"]
    assert ncr.filter(ts("closed_at") < ts("raised_at")).height == 0
    assert (
        ncr.filter(pl.col("closed_at").is_null() != (pl.col("disposition") == "pending")).height
        == 0
    )


def test_tests_fall_inside_a_calibration_window(plant: Plant) -> None:
    cal = plant.t["calibrations"].select(
        "equipment_id", ts("calibrated_at").alias("c"), ts("due_at").alias("d")
    )
    tr = plant.t["test_results"].select("equipment_id", ts("tested_at").alias("t"))
    tr = tr.unique().with_row_index("i")
    ok = (
        tr.join(cal, on="equipment_id")
        .filter((pl.col("t") >= pl.col("c")) & (pl.col("t") < pl.col("d")))["i"]
        .n_unique()
    )
    assert ok == tr.height


def test_children_built_before_fitted(plant: Plant) -> None:
    built = plant.t["units"].select(
        pl.col("serial_number").alias("component_serial"), ts("built_at").alias("b")
    )
    uc = plant.t["unit_components"].join(built, on="component_serial")
    assert uc.height > 0
    assert uc.filter(pl.col("b") >= ts("fitted_at")).height == 0


def test_referential_integrity(plant: Plant) -> None:
    t = plant.t
    jobs = set(t["jobs"]["job_id"])
    serials = set(t["units"]["serial_number"])
    equipment = set(t["equipment"]["equipment_id"])
    products = set(t["products"]["product_code"])
    ncr_ids = set(t["ncrs"]["ncr_id"])
    # a lot is known to the lake once it has been issued (material_issues); fitted lots too
    lots = set(t["material_issues"].select("component_code", "lot_number").iter_rows())
    fitted = t["unit_components"].drop_nulls("lot_number").select("component_code", "lot_number")
    assert fitted.height > 0 and set(fitted.iter_rows()) <= lots

    def within(values: Iterable[str | None], known: set[str], what: str) -> None:
        missing = {v for v in values if v is not None} - known
        assert not missing, f"{what}: {sorted(missing)[:5]}"

    for table in ("bom_snapshot", "material_issues", "units", "operations", "ncrs", "job_ecns"):
        within(t[table]["job_id"], jobs, f"{table}.job_id")
    for table in (
        "units",
        "unit_components",
        "operations",
        "ncrs",
        "firmware_loads",
        "label_checks",
        "shipments",
        "test_results",
    ):
        within(t[table]["serial_number"], serials, f"{table}.serial_number")
    within(t["unit_components"]["component_serial"], serials, "component_serial")
    for table in ("operations", "test_results", "calibrations"):
        within(t[table]["equipment_id"], equipment, f"{table}.equipment_id")
    for table in ("mbr", "units", "jobs", "ecns"):
        within(t[table]["product_code"], products, f"{table}.product_code")
    within(t["job_ecns"]["ecn_id"], set(t["ecns"]["ecn_id"]), "job_ecns.ecn_id")
    within(t["unit_components"]["removal_ncr_id"], ncr_ids, "removal_ncr_id")
    mbr = set(t["mbr"].select("product_code", "mbr_revision").iter_rows())
    assert set(t["jobs"].select("product_code", "mbr_revision").iter_rows()) <= mbr
    ncr_lots = t["ncrs"].drop_nulls("lot_number").select("component_code", "lot_number")
    assert ncr_lots.height > 0 and set(ncr_lots.iter_rows()) <= lots
    # every equipment item is calibrated; every job with units has a BOM snapshot
    assert set(t["calibrations"]["equipment_id"]) == equipment
    assert set(t["units"]["job_id"]) <= set(t["bom_snapshot"]["job_id"])
    # signoff record ids point at real records
    so = t["signoffs"]
    ops = {
        f"{j}/{s}" + (f"/{u}" if u else "")
        for j, s, u in t["operations"].select("job_id", "op_seq", "serial_number").iter_rows()
    }
    for rtype, known in (("job", jobs), ("release", jobs), ("ncr", ncr_ids), ("operation", ops)):
        within(so.filter(pl.col("record_type") == rtype)["record_id"], known, rtype)
    # issued components are on the job's BOM snapshot
    bom = set(t["bom_snapshot"].select("job_id", "component_code").iter_rows())
    assert set(t["material_issues"].select("job_id", "component_code").iter_rows()) <= bom


def test_lot_numbers_repeat_across_component_codes(plant: Plant) -> None:
    mi = plant.t["material_issues"].select("component_code", "lot_number").unique()
    shared = mi.group_by("lot_number").agg(pl.col("component_code").n_unique().alias("n"))
    assert shared.filter(pl.col("n") > 1).height > 0


def test_labels_are_gs1_element_strings(plant: Plant) -> None:
    gtin = dict(plant.t["products"].drop_nulls("gtin").select("product_code", "gtin").iter_rows())
    for code in gtin.values():
        digits = [int(c) for c in code]
        weights = [3 if i % 2 == 0 else 1 for i in range(13)][::-1]
        assert (
            sum(d * w for d, w in zip(digits[:13], weights, strict=True)) + digits[13]
        ) % 10 == 0
    for serial, data in plant.t["label_checks"].select("serial_number", "label_data").iter_rows():
        assert data == f"(01){gtin[plant.product[serial]]}(21){serial}"


# ------------------------------------------------------------------------------------------
# genealogy shape and known facts


def test_about_28_links_per_finished_unit(
    plant: Plant, plant_dir: tuple[Path, PlantSummary]
) -> None:
    finished = plant.finished()
    assert len(finished) == N
    mean = sum(plant.links(s) for s in finished) / len(finished)
    assert 28 <= mean <= 32
    assert mean == pytest.approx(plant_dir[1].links_per_unit)
    # unit-level rows in place: 7 per device (2 modules, battery, 2 x (PCBA, sensor)), plus
    # the 2 of the spare module that the first rework fits
    uc = plant.t["unit_components"]
    assert uc.filter(pl.col("removed_at").is_null()).height == 7 * N + 2


def test_lots_fifo_and_shared_across_jobs(plant: Plant) -> None:
    mi = plant.t["material_issues"]
    per_lot = mi.group_by("component_code", "lot_number").agg(pl.col("job_id").n_unique())
    assert per_lot["job_id"].max() > 1
    # FIFO: in issue order, a component never goes back to an older lot
    for _code, grp in mi.sort("issue_id").group_by("component_code"):
        order = grp["lot_number"].unique(maintain_order=True).to_list()
        runs = grp["lot_number"].rle().struct.field("value").to_list()
        assert runs == order


def test_summary_facts_hold_in_files(plant: Plant, plant_dir: tuple[Path, PlantSummary]) -> None:
    summary = plant_dir[1]
    assert len(summary.lot_facts) == 4
    assert {f.grain for f in summary.lot_facts} == {"unit", "job"}
    for fact in summary.lot_facts:
        got = plant.finished_containing(fact.component_code, fact.lot_number)
        assert got == set(fact.finished_serials), fact.component_code
        ever = plant.finished_containing(fact.component_code, fact.lot_number, current=False)
        assert ever == set(fact.finished_serials_ever), fact.component_code
        assert got
    sf = summary.serial_fact
    assert sf is not None
    serials, lots = plant.ancestors(sf.serial_number)
    assert serials == set(sf.serials) and lots == set(sf.lots)
    assert 18 <= len(serials) + len(lots) <= 24


def test_rework_removes_and_refits_modules(
    plant: Plant, plant_dir: tuple[Path, PlantSummary]
) -> None:
    summary = plant_dir[1]
    uc = plant.t["unit_components"]
    removed = uc.drop_nulls("removed_at")
    assert removed.height == summary.reworked == round(0.01 * N)
    assert removed["removal_ncr_id"].null_count() == 0
    assert removed["removed_by"].null_count() == 0
    ncr = plant.t["ncrs"].filter(pl.col("ncr_id").is_in(removed["removal_ncr_id"].implode()))
    assert set(ncr["disposition"]) == {"rework"}
    # removed modules are repaired and re-consumed: fitted into two devices over time
    fits = uc.drop_nulls("component_serial").group_by("component_serial").len()
    assert fits.filter(pl.col("len") == 2).height == summary.reworked - 1
    units = plant.t["units"]
    assert units.filter(pl.col("status") == "quarantined").height == 1


# ------------------------------------------------------------------------------------------
# clean records: the findings are the planted defects


def findings_of(out: Path, lake_dir: Path) -> Counter[tuple[str, str | None, str]]:
    """Ingest a generated plant into a fresh lake; its findings keyed (rule, job, record)."""
    lake = Lake(lake_dir)
    lake.ingest(out)
    con = open_snapshot(lake.paths)
    try:
        return Counter((f.rule, f.job_id, f.record) for f in list_findings(con))
    finally:
        con.close()


def planted(summary: PlantSummary) -> Counter[tuple[str, str | None, str]]:
    return Counter((p.rule, p.job_id, p.record) for p in summary.planted)


def test_findings_are_exactly_the_planted_defects(
    plant_dir: tuple[Path, PlantSummary], tmp_path: Path
) -> None:
    out, summary = plant_dir
    assert summary.planted, "this plant should carry out-of-tolerance finds to compare"
    assert {p.rule for p in summary.planted} == {"calibration_out_of_tolerance"}
    assert findings_of(out, tmp_path / "lake") == planted(summary)


def test_adversarial_plant_findings_are_the_planted_defects(tmp_path: Path) -> None:
    opts = PlantOptions(serial_prefix="SN0000000", hub_lot_share=0.2, bom_depth=5, rework_rate=0.05,
                        shuffle_rows=True, measurements_per_unit=8)
    summary = generate_plant(tmp_path / "adv", 1200, 5, options=opts)
    assert findings_of(tmp_path / "adv", tmp_path / "lake") == planted(summary)


def test_every_sub_assembly_unit_has_its_test_result(plant: Plant) -> None:
    tr = plant.t["test_results"]
    units = plant.t["units"].filter(~pl.col("product_code").is_in(FINISHED))
    got = units.join(tr, on="serial_number", how="left")
    assert got["test_step"].null_count() == 0
    steps = got.filter(~pl.col("test_step").str.starts_with("FAI-"))
    # scrapped PCBAs fail ICT; every other sub-assembly unit passes its test step
    assert set(steps.group_by("product_code").agg(pl.col("test_step").first()).rows()) == {
        ("PCBA-CTRL", "ICT"),
        ("MOD-SENSE", "CAL"),
    }
    assert steps.filter(pl.col("status") == "scrapped").height > 0
    assert steps.filter((pl.col("status") == "scrapped") != (pl.col("result") == "fail")).height == 0


def test_first_article_signed_before_the_rest_of_its_job(plant: Plant) -> None:
    fa = (
        plant.t["signoffs"]
        .filter(pl.col("meaning").str.starts_with("First article"))
        .with_columns(pl.col("record_id").str.split("/").list.to_struct(fields=["job_id", "op_seq", "fa"]))
        .unnest("record_id")
    )
    units = plant.t["units"]
    jobs_with_units = set(units["job_id"])
    assert set(fa["job_id"]) == jobs_with_units
    # the first article is the job's first unit built
    first = units.sort("built_at").group_by("job_id").agg(pl.col("serial_number").first())
    assert dict(first.rows()) == dict(fa.select("job_id", "fa").rows())
    ops = plant.t["operations"].join(fa, on=["job_id", "op_seq"])
    early = ops.filter(
        (pl.col("serial_number").is_null() | (pl.col("serial_number") != pl.col("fa")))
        & (ts("started_at") < ts("signed_at"))
    )
    assert ops.height > len(jobs_with_units) and early.height == 0
    # ... and was inspected, on its own operation row, before it was signed
    fai = (
        plant.t["test_results"]
        .filter(pl.col("test_step").str.starts_with("FAI-"))
        .join(fa, left_on="serial_number", right_on="fa")
    )
    assert fai.filter(ts("tested_at") >= ts("signed_at")).height == 0
    assert set(fai["job_id"]) == jobs_with_units
    assert ops.filter(pl.col("serial_number") == pl.col("fa")).height == len(jobs_with_units)


# ------------------------------------------------------------------------------------------
# adversarial switches


def test_options_serial_prefix_hub_depth_and_shuffle(tmp_path: Path) -> None:
    opts = PlantOptions(serial_prefix="SN0000000", hub_lot_share=0.2, bom_depth=5, rework_rate=0.02)
    s = generate_plant(tmp_path / "adv", 1000, 2, options=opts)
    p = Plant(tmp_path / "adv")
    assert p.t["units"]["serial_number"].str.starts_with("SN0000000").all()
    hub = s.hub_fact
    assert hub is not None and hub.component_code == "PASTE-SAC305"
    got = p.finished_containing(hub.component_code, hub.lot_number)
    assert got == set(hub.finished_serials)
    assert 0.1 <= len(got) / 1000 <= 0.35  # whole PCBA jobs of 50-500 boards
    # depth 5: 6 + 3 x 2 x 7 + 2 x 4 = 56 links per device, plus FIFO lot changes
    mean = sum(p.links(x) for x in p.finished()) / 1000
    assert 56 <= mean <= 62 and mean == pytest.approx(s.links_per_unit)
    for fact in s.lot_facts:
        assert p.finished_containing(fact.component_code, fact.lot_number) == set(
            fact.finished_serials
        )
    sh = generate_plant(
        tmp_path / "shuf",
        1000,
        2,
        options=PlantOptions(
            serial_prefix="SN0000000",
            hub_lot_share=0.2,
            bom_depth=5,
            rework_rate=0.02,
            shuffle_rows=True,
        ),
    )
    for table in ("units", "unit_components", "test_results"):
        a, b = read(tmp_path / "adv", table), read(tmp_path / "shuf", table)
        assert not a.equals(b)
        assert a.sort(a.columns, nulls_last=True).equals(b.sort(b.columns, nulls_last=True))
    assert sh.rows == s.rows


def test_options_are_validated() -> None:
    with pytest.raises(ValueError):
        PlantOptions(bom_depth=9)
    with pytest.raises(ValueError):
        PlantOptions(hub_lot_share=1.5)
    with pytest.raises(ValueError):
        PlantOptions(start=datetime(2024, 1, 1))
    assert PlantOptions().start == datetime(2024, 1, 1, tzinfo=UTC)
    assert re.fullmatch(r"\d+", str(PlantOptions().rows_per_file))
