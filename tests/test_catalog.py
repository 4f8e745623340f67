"""What the lake holds to pick from (lots, suppliers, jobs, serials) and the documented tables."""

from __future__ import annotations

import duckdb

from tracelake.contracts import CONTRACTS
from tracelake.lake import catalog
from tracelake.lake.storage import LINEAGE, SITE, SUPERSEDED


def test_lots_are_keyed_by_component_and_lot(sample: duckdb.DuckDBPyConnection) -> None:
    lots = {(r["component_code"], r["lot_number"]): r for r in catalog.lots(sample).iter_rows(
        named=True)}
    cap = lots[("CAP-100", "L-4471")]
    assert (cap["supplier"], cap["supplier_lot"], cap["jobs"]) == (
        "Farwell Components Ltd", "FW2609-88213", 2)
    screw = lots[("SCR-M3", "L-4471")]  # the same lot string on another component
    assert (screw["supplier"], screw["jobs"]) == ("Apex Fasteners Ltd", 1)
    assert ("LAMP-D2", "L-8840") in lots and ("PCB-MAIN", "J-1038") in lots


def test_suppliers_jobs_and_serials(sample: duckdb.DuckDBPyConnection) -> None:
    assert catalog.suppliers(sample, "CAP-100") == ["Farwell Components Ltd"]
    assert catalog.suppliers(sample, "NOPE") == []
    jobs = catalog.jobs(sample)
    assert jobs["job_id"].to_list() == ["J-1050", "J-1047", "J-1044", "J-1042", "J-1038"]
    assert catalog.serials_like(sample, "spx200-001") == [
        "SPX200-0010", "SPX200-0011", "SPX200-0012", "SPX200-0013", "SPX200-0014"]
    assert catalog.serials_like(sample, "0004") == ["CK5-0004", "SPX200-0004"]
    assert catalog.serials_like(sample, "  ") == []


def test_every_table_is_listed_with_what_it_holds(sample: duckdb.DuckDBPyConnection) -> None:
    tables = {r["table"]: r for r in catalog.tables(sample).iter_rows(named=True)}
    assert set(CONTRACTS) <= set(tables)
    assert {"quarantine", "ingest_runs", "ingest_files", "orphan_references",
            "history.units"} <= set(tables)
    assert tables["units"]["rows"] == 36 and tables["ncrs"]["rows"] == 3
    assert tables["units"]["holds"].startswith("A serialised unit")
    # written from the models' docstrings, without their ``literal`` marks
    assert tables["customers"]["holds"].startswith("A customer as shipments.customer names it")
    assert not any("``" in r["holds"] for r in tables.values())
    assert any(name.startswith("genealogy.") for name in tables)


def test_columns_are_documented_from_the_contract(sample: duckdb.DuckDBPyConnection) -> None:
    cols = {r["column"]: r for r in catalog.columns(sample, "test_results").iter_rows(named=True)}
    assert cols["serial_number"]["description"].startswith("key; required; names a row of units")
    assert "1 = first pass" in cols["attempt"]["description"]
    assert "one of pass, fail" in cols["result"]["description"]
    assert cols["_row"]["description"].startswith("lineage: row number")
    assert cols["value"]["type"] == "DOUBLE"
    history = {r["column"] for r in catalog.columns(sample, "history.units").iter_rows(
        named=True)}
    assert set(SUPERSEDED) <= history
    assert catalog.columns(sample, "nope").height == 0


def test_every_lineage_column_has_a_description() -> None:
    assert set(catalog._LINEAGE_DOCS) == set(LINEAGE) | set(SITE) | set(SUPERSEDED)
