"""Where-used and where-from on small hand-made plants whose answers are worked out by hand.

Each test writes a few plant files (only the columns that matter), ingests them into a real lake,
opens the readers' snapshot and asks the library the question of the CLI contract's `trace`
section. The expected answers are written out in the tests, never computed by the code under test.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb
import pytest

from tests.helpers import SAMPLE, Lake, write_csv
from tracelake.derived.genealogy import supplier_recall, where_from, where_used
from tracelake.lake.snapshot import open_snapshot

UTC = dt.UTC

# ------------------------------------------------------------------------------------------
# writing a small plant

UNITS = ["serial_number", "product_code", "job_id", "status"]
FITS = ["serial_number", "component_code", "component_serial", "lot_number", "fitted_at",
        "fitted_by", "removed_at", "removed_by", "removal_ncr_id"]
ISSUES = ["issue_id", "job_id", "component_code", "lot_number", "component_serial", "quantity",
          "issued_at", "issued_by", "supplier"]
SHIPS = ["serial_number", "customer", "order_ref", "shipped_at"]

_issue_ids = itertools.count(1)


def unit(serial: str, job: str, product: str, status: str = "released") -> list[Any]:
    """A units row."""
    return [serial, product, job, status]


def fit(into: str, code: str, serial: str = "", lot: str = "", at: str = "2026-10-20T10:00",
        removed_at: str = "", ncr: str = "") -> list[Any]:
    """A unit_components row: ``serial`` and/or ``lot`` of ``code`` fitted into unit ``into``."""
    return [into, code, serial, lot, at, "T.Hughes", removed_at,
            "T.Hughes" if removed_at else "", ncr]


def issue(job: str, code: str, lot: str, serial: str = "", at: str = "2026-10-20T08:00",
          supplier: str = "") -> list[Any]:
    """A material_issues row: lot (or one serial of it) of ``code`` issued to ``job``."""
    return [f"MI-{next(_issue_ids):05d}", job, code, lot, serial, 1 if serial else 10, at,
            "D.Moss", supplier]


def ship(serial: str, customer: str, order: str, at: str = "2026-11-09T10:30") -> list[Any]:
    """A shipments row."""
    return [serial, customer, order, at]


def write_plant(folder: Path, *, units: Sequence[list[Any]] = (),
                fitments: Sequence[list[Any]] = (), issues: Sequence[list[Any]] = (),
                shipments: Sequence[list[Any]] = (), suffix: str = "") -> Path:
    """Write the non-empty tables as CSV files named after their table (plus ``suffix``)."""
    for table, header, rows in (("units", UNITS, units), ("unit_components", FITS, fitments),
                                ("material_issues", ISSUES, issues),
                                ("shipments", SHIPS, shipments)):
        if rows:
            write_csv(folder / f"{table}{suffix}.csv", header, list(rows))
    return folder


@contextmanager
def snapshot(lake: Lake) -> Iterator[duckdb.DuckDBPyConnection]:
    """The readers' snapshot of the lake, closed afterwards."""
    con = open_snapshot(lake.paths)
    try:
        yield con
    finally:
        con.close()


def tops(answer: Any) -> list[tuple[str, int, list[str]]]:
    """(serial, depth, path) of each affected unit, in serial order."""
    return sorted((a["serial_number"], a["depth"], a["path"]) for a in answer.affected)


def serials(rows: list[dict[str, Any]]) -> list[str]:
    return sorted(r["serial_number"] for r in rows)


def utc(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=UTC)


# ------------------------------------------------------------------------------------------
# levels of sub-assembly


def test_two_level_build_reaches_the_device_through_the_pcb(lake: Lake, landing: Path) -> None:
    # CAP-100 lot L77 is issued to the PCB job; each PCB is fitted into one device.
    write_plant(landing,
                units=[unit("PCB-0007", "J-P", "PCB-9"), unit("PCB-0008", "J-P", "PCB-9"),
                       unit("DEV-1007", "J-D", "DEV-9"), unit("DEV-1008", "J-D", "DEV-9", "wip")],
                issues=[issue("J-P", "CAP-100", "L77")],
                fitments=[fit("DEV-1007", "PCB-9", serial="PCB-0007"),
                          fit("DEV-1008", "PCB-9", serial="PCB-0008")])
    lake.ingest(landing)
    with snapshot(lake) as con:
        answer = where_used(con, "CAP-100", "L77")
    assert answer.query == {"direction": "forward", "component_code": "CAP-100",
                            "lot_number": "L77"}
    # the PCBs are on the path, not in the list: they are fitted into the devices
    assert tops(answer) == [
        ("DEV-1007", 2, ["CAP-100/L77", "PCB-0007", "DEV-1007"]),
        ("DEV-1008", 2, ["CAP-100/L77", "PCB-0008", "DEV-1008"])]
    first = next(a for a in answer.affected if a["serial_number"] == "DEV-1007")
    assert {k: first[k] for k in ("serial_number", "product_code", "job_id", "status",
                                  "customer", "shipped_at", "depth", "path")} == {
        "serial_number": "DEV-1007", "product_code": "DEV-9", "job_id": "J-D",
        "status": "released", "customer": None, "shipped_at": None, "depth": 2,
        "path": ["CAP-100/L77", "PCB-0007", "DEV-1007"]}
    assert answer.removed == []
    assert answer.summary["units"] == 2
    assert answer.summary["by_status"] == {"released": 1, "wip": 1}


def test_three_level_build_lot_pcb_module_device(lake: Lake, landing: Path) -> None:
    write_plant(landing,
                units=[unit("PCB-0007", "J-P", "PCB-9"), unit("MOD-0070", "J-M", "MOD-9"),
                       unit("DEV-1007", "J-D", "DEV-9")],
                issues=[issue("J-P", "CAP-100", "L77")],
                fitments=[fit("MOD-0070", "PCB-9", serial="PCB-0007"),
                          fit("DEV-1007", "MOD-9", serial="MOD-0070")])
    lake.ingest(landing)
    with snapshot(lake) as con:
        answer = where_used(con, "CAP-100", "L77")
    assert tops(answer) == [
        ("DEV-1007", 3, ["CAP-100/L77", "PCB-0007", "MOD-0070", "DEV-1007"])]
    assert answer.affected[0]["job_id"] == "J-D"


def test_where_used_of_a_sub_assembly_serial(lake: Lake, landing: Path) -> None:
    write_plant(landing,
                units=[unit("PCB-0007", "J-P", "PCB-9"), unit("MOD-0070", "J-M", "MOD-9"),
                       unit("DEV-1007", "J-D", "DEV-9")],
                fitments=[fit("MOD-0070", "PCB-9", serial="PCB-0007"),
                          fit("DEV-1007", "MOD-9", serial="MOD-0070")])
    lake.ingest(landing)
    with snapshot(lake) as con:
        answer = where_used(con, serial_number="PCB-0007")
    assert answer.query == {"direction": "forward", "serial_number": "PCB-0007"}
    assert tops(answer) == [("DEV-1007", 2, ["PCB-0007", "MOD-0070", "DEV-1007"])]


# ------------------------------------------------------------------------------------------
# job-level issues and unit-level fitments


def test_a_lot_split_across_two_jobs_affects_the_units_of_both(lake: Lake,
                                                               landing: Path) -> None:
    write_plant(landing,
                units=[unit("A-1", "J-1", "DEV"), unit("A-2", "J-1", "DEV"),
                       unit("B-1", "J-2", "DEV"), unit("C-1", "J-3", "DEV")],
                issues=[issue("J-1", "CAP-100", "L77"), issue("J-2", "CAP-100", "L77"),
                        issue("J-3", "CAP-100", "L78")])
    lake.ingest(landing)
    with snapshot(lake) as con:
        l77 = where_used(con, "CAP-100", "L77")
        l78 = where_used(con, "CAP-100", "L78")
    assert tops(l77) == [("A-1", 1, ["CAP-100/L77", "A-1"]), ("A-2", 1, ["CAP-100/L77", "A-2"]),
                         ("B-1", 1, ["CAP-100/L77", "B-1"])]
    assert {a["job_id"] for a in l77.affected} == {"J-1", "J-2"}
    assert tops(l78) == [("C-1", 1, ["CAP-100/L78", "C-1"])]


def test_a_lot_issued_to_a_second_job_in_a_later_run_reaches_both_jobs(lake: Lake,
                                                                       landing: Path) -> None:
    write_plant(landing, units=[unit("A-1", "J-1", "DEV"), unit("B-1", "J-2", "DEV")],
                issues=[issue("J-1", "CAP-100", "L77")])
    lake.ingest(landing)
    with snapshot(lake) as con:
        assert serials(where_used(con, "CAP-100", "L77").affected) == ["A-1"]
    write_plant(landing, issues=[issue("J-2", "CAP-100", "L77", at="2026-10-27T08:00")],
                suffix="_2026-10-27")
    lake.ingest(landing)
    with snapshot(lake) as con:
        assert serials(where_used(con, "CAP-100", "L77").affected) == ["A-1", "B-1"]


def test_issues_that_arrive_before_the_units_reach_them_when_they_arrive(lake: Lake,
                                                                         landing: Path) -> None:
    write_plant(landing, issues=[issue("J-1", "CAP-100", "L77")])
    lake.ingest(landing)
    with snapshot(lake) as con:
        early = where_used(con, "CAP-100", "L77")
    assert early.affected == []
    write_plant(landing, units=[unit("A-1", "J-1", "DEV"), unit("A-2", "J-1", "DEV")])
    lake.ingest(landing)
    with snapshot(lake) as con:
        assert tops(where_used(con, "CAP-100", "L77")) == [
            ("A-1", 1, ["CAP-100/L77", "A-1"]), ("A-2", 1, ["CAP-100/L77", "A-2"])]


def _two_screw_lots(landing: Path, *, with_fitments: bool) -> None:
    # J-1 builds U-1, U-2, U-3; two lots of screws and one lot of capacitors are issued to it
    write_plant(landing,
                units=[unit("U-1", "J-1", "DEV"), unit("U-2", "J-1", "DEV"),
                       unit("U-3", "J-1", "DEV")],
                issues=[issue("J-1", "SCR-M3", "L1"), issue("J-1", "SCR-M3", "L2"),
                        issue("J-1", "CAP-100", "L9")],
                fitments=[fit("U-1", "SCR-M3", lot="L1"), fit("U-2", "SCR-M3", lot="L1"),
                          fit("U-3", "SCR-M3", lot="L2")] if with_fitments else [])


def test_unit_components_say_which_units_took_which_lot(lake: Lake, landing: Path) -> None:
    _two_screw_lots(landing, with_fitments=True)
    lake.ingest(landing)
    with snapshot(lake) as con:
        l1 = where_used(con, "SCR-M3", "L1")
        l2 = where_used(con, "SCR-M3", "L2")
        cap = where_used(con, "CAP-100", "L9")
    assert tops(l1) == [("U-1", 1, ["SCR-M3/L1", "U-1"]), ("U-2", 1, ["SCR-M3/L1", "U-2"])]
    assert tops(l2) == [("U-3", 1, ["SCR-M3/L2", "U-3"])]
    # the fitments speak for SCR-M3 only: the capacitors still reach every unit of the job
    assert serials(cap.affected) == ["U-1", "U-2", "U-3"]


def test_a_lot_issued_but_named_by_no_fitment_reaches_every_unit_of_its_job(
        lake: Lake, landing: Path) -> None:
    # L3 was issued to J-1 too, but no fitment row says which unit took it: a recall must
    # assume any of them did
    write_plant(landing,
                units=[unit("U-1", "J-1", "DEV"), unit("U-2", "J-1", "DEV")],
                issues=[issue("J-1", "SCR-M3", "L1"), issue("J-1", "SCR-M3", "L3")],
                fitments=[fit("U-1", "SCR-M3", lot="L1"), fit("U-2", "SCR-M3", lot="L1")])
    lake.ingest(landing)
    with snapshot(lake) as con:
        assert serials(where_used(con, "SCR-M3", "L1").affected) == ["U-1", "U-2"]
        assert serials(where_used(con, "SCR-M3", "L3").affected) == ["U-1", "U-2"]


def test_without_unit_components_both_lots_reach_every_unit_of_the_job(lake: Lake,
                                                                       landing: Path) -> None:
    _two_screw_lots(landing, with_fitments=False)
    lake.ingest(landing)
    with snapshot(lake) as con:
        l1 = where_used(con, "SCR-M3", "L1")
        l2 = where_used(con, "SCR-M3", "L2")
    assert tops(l1) == [("U-1", 1, ["SCR-M3/L1", "U-1"]), ("U-2", 1, ["SCR-M3/L1", "U-2"]),
                        ("U-3", 1, ["SCR-M3/L1", "U-3"])]
    assert serials(l2.affected) == ["U-1", "U-2", "U-3"]


def test_fitments_arriving_later_narrow_a_job_level_issue(lake: Lake, landing: Path) -> None:
    _two_screw_lots(landing, with_fitments=False)
    lake.ingest(landing)
    with snapshot(lake) as con:
        assert serials(where_used(con, "SCR-M3", "L2").affected) == ["U-1", "U-2", "U-3"]
    write_plant(landing, fitments=[fit("U-1", "SCR-M3", lot="L1"), fit("U-2", "SCR-M3", lot="L1"),
                                   fit("U-3", "SCR-M3", lot="L2")], suffix="_2026-10-21")
    lake.ingest(landing)
    with snapshot(lake) as con:
        l1 = where_used(con, "SCR-M3", "L1")
        l2 = where_used(con, "SCR-M3", "L2")
        cap = where_used(con, "CAP-100", "L9")
    assert serials(l1.affected) == ["U-1", "U-2"]
    assert serials(l2.affected) == ["U-3"]
    assert serials(cap.affected) == ["U-1", "U-2", "U-3"]


def test_the_same_lot_number_on_two_components_is_two_lots(lake: Lake, landing: Path) -> None:
    write_plant(landing,
                units=[unit("PCB-1", "J-P", "PCB"), unit("DEV-1", "J-D", "DEV"),
                       unit("DEV-2", "J-D", "DEV"), unit("DEV-3", "J-E", "DEV")],
                issues=[issue("J-P", "CAP-100", "L-4471"), issue("J-D", "SCR-M3", "L-4471"),
                        issue("J-E", "SCR-M3", "L-4471")],
                fitments=[fit("DEV-1", "PCB", serial="PCB-1"), fit("DEV-2", "SCR-M3", lot="L-4471"),
                          fit("DEV-3", "SCR-M3", lot="L-4471")])
    lake.ingest(landing)
    with snapshot(lake) as con:
        cap = where_used(con, "CAP-100", "L-4471")
        scr = where_used(con, "SCR-M3", "L-4471")
        other = where_used(con, "RES-10K", "L-4471")
    assert tops(cap) == [("DEV-1", 2, ["CAP-100/L-4471", "PCB-1", "DEV-1"])]
    assert tops(scr) == [("DEV-2", 1, ["SCR-M3/L-4471", "DEV-2"]),
                         ("DEV-3", 1, ["SCR-M3/L-4471", "DEV-3"])]
    assert other.affected == [] and other.message


# ------------------------------------------------------------------------------------------
# rework


def _rework(landing: Path) -> None:
    # DEV-1's lamp D2-0001 (lot L-OLD) is removed under NCR-1 and D2-0002 (lot L-NEW) fitted;
    # DEV-2 keeps its lamp D2-0003 of lot L-OLD.
    write_plant(landing,
                units=[unit("DEV-1", "J-D", "DEV"), unit("DEV-2", "J-D", "DEV")],
                issues=[issue("J-D", "LAMP", "L-OLD", serial="D2-0001"),
                        issue("J-D", "LAMP", "L-OLD", serial="D2-0003"),
                        issue("J-D", "LAMP", "L-NEW", serial="D2-0002", at="2026-11-03T08:20"),
                        issue("J-D", "CASE", "L-C")],
                fitments=[fit("DEV-1", "LAMP", serial="D2-0001", lot="L-OLD",
                              at="2026-10-20T11:20", removed_at="2026-11-03T09:05", ncr="NCR-1"),
                          fit("DEV-2", "LAMP", serial="D2-0003", lot="L-OLD",
                              at="2026-10-20T12:25"),
                          fit("DEV-1", "LAMP", serial="D2-0002", lot="L-NEW",
                              at="2026-11-03T09:30")])


def test_a_removed_part_puts_the_unit_in_removed_not_affected(lake: Lake, landing: Path) -> None:
    _rework(landing)
    lake.ingest(landing)
    with snapshot(lake) as con:
        old = where_used(con, "LAMP", "L-OLD")
    assert tops(old) == [("DEV-2", 2, ["LAMP/L-OLD", "D2-0003", "DEV-2"])]
    assert [{k: r[k] for k in ("serial_number", "component_serial", "removed_at",
                               "removal_ncr_id")} for r in old.removed] == [
        {"serial_number": "DEV-1", "component_serial": "D2-0001",
         "removed_at": utc("2026-11-03T09:05"),  # GMT in November: local = UTC
         "removal_ncr_id": "NCR-1"}]
    assert old.summary["units"] == 1


def test_include_removed_lists_the_unit_in_both(lake: Lake, landing: Path) -> None:
    _rework(landing)
    lake.ingest(landing)
    with snapshot(lake) as con:
        old = where_used(con, "LAMP", "L-OLD", include_removed=True)
    assert serials(old.affected) == ["DEV-1", "DEV-2"]
    assert serials(old.removed) == ["DEV-1"]
    dev1 = next(a for a in old.affected if a["serial_number"] == "DEV-1")
    assert dev1["path"] == ["LAMP/L-OLD", "D2-0001", "DEV-1"]
    assert dev1["depth"] == 2


def test_the_replacement_part_affects_the_reworked_unit(lake: Lake, landing: Path) -> None:
    _rework(landing)
    lake.ingest(landing)
    with snapshot(lake) as con:
        new = where_used(con, "LAMP", "L-NEW")
        removed_serial = where_used(con, serial_number="D2-0001")
    assert tops(new) == [("DEV-1", 2, ["LAMP/L-NEW", "D2-0002", "DEV-1"])]
    assert new.removed == []
    assert removed_serial.affected == []
    assert [(r["serial_number"], r["removal_ncr_id"]) for r in removed_serial.removed] == [
        ("DEV-1", "NCR-1")]


def test_where_from_lists_the_removed_part_as_history(lake: Lake, landing: Path) -> None:
    _rework(landing)
    lake.ingest(landing)
    with snapshot(lake) as con:
        answer = where_from(con, "DEV-1")
    lamps = sorted(((c["component_serial"], c["lot_number"], c["depth"], c["parent_serial"],
                     c["fitted_at"], c["removed_at"], c["source"])
                    for c in answer.components if c["component_code"] == "LAMP"),
                   key=lambda t: t[0])
    assert lamps == [
        ("D2-0001", "L-OLD", 1, "DEV-1", utc("2026-10-20T10:20"),  # 11:20 BST
         utc("2026-11-03T09:05"), "unit_components"),
        ("D2-0002", "L-NEW", 1, "DEV-1", utc("2026-11-03T09:30"), None, "unit_components")]
    removed = next(c for c in answer.components if c["component_serial"] == "D2-0001")
    assert removed.get("removal_ncr_id") == "NCR-1"
    # the case lot, issued at job level, is there too; DEV-2's lamp is not
    assert [(c["component_code"], c["lot_number"], c["source"]) for c in answer.components
            if c["component_code"] == "CASE"] == [("CASE", "L-C", "material_issues")]
    assert "D2-0003" not in {c["component_serial"] for c in answer.components}


def test_a_removal_in_a_later_run_moves_the_unit_to_removed(lake: Lake, landing: Path) -> None:
    write_plant(landing, units=[unit("DEV-1", "J-D", "DEV")],
                fitments=[fit("DEV-1", "LAMP", serial="D2-0001", lot="L-OLD",
                              at="2026-10-20T11:20")])
    lake.ingest(landing)
    with snapshot(lake) as con:
        assert serials(where_used(con, "LAMP", "L-OLD").affected) == ["DEV-1"]
    # the MRP re-exports the fitment with the removal, and the new lamp
    (landing / "unit_components.csv").unlink()
    write_plant(landing, fitments=[
        fit("DEV-1", "LAMP", serial="D2-0001", lot="L-OLD", at="2026-10-20T11:20",
            removed_at="2026-11-03T09:05", ncr="NCR-1"),
        fit("DEV-1", "LAMP", serial="D2-0002", lot="L-NEW", at="2026-11-03T09:30")],
        suffix="_2026-11-03")
    lake.ingest(landing)
    with snapshot(lake) as con:
        old = where_used(con, "LAMP", "L-OLD")
        new = where_used(con, "LAMP", "L-NEW")
    assert old.affected == []
    assert [(r["serial_number"], r["component_serial"]) for r in old.removed] == [
        ("DEV-1", "D2-0001")]
    assert serials(new.affected) == ["DEV-1"]


def test_a_replacement_from_the_same_lot_keeps_the_unit_affected(lake: Lake,
                                                                 landing: Path) -> None:
    # DEV-1's lamp D2-0001 is replaced by D2-0005 of the same lot: DEV-1 still holds lot L-OLD
    write_plant(landing, units=[unit("DEV-1", "J-D", "DEV")],
                fitments=[fit("DEV-1", "LAMP", serial="D2-0001", lot="L-OLD",
                              at="2026-10-20T11:20", removed_at="2026-11-03T09:05", ncr="NCR-1"),
                          fit("DEV-1", "LAMP", serial="D2-0005", lot="L-OLD",
                              at="2026-11-03T09:30")])
    lake.ingest(landing)
    with snapshot(lake) as con:
        answer = where_used(con, "LAMP", "L-OLD")
    assert tops(answer) == [("DEV-1", 2, ["LAMP/L-OLD", "D2-0005", "DEV-1"])]


def test_a_sub_assembly_removed_and_not_refitted_is_top_level_again(lake: Lake,
                                                                    landing: Path) -> None:
    write_plant(landing,
                units=[unit("PCB-1", "J-P", "PCB"), unit("DEV-1", "J-D", "DEV")],
                issues=[issue("J-P", "CAP-100", "L77")],
                fitments=[fit("DEV-1", "PCB", serial="PCB-1", at="2026-10-20T10:00",
                              removed_at="2026-10-22T09:00", ncr="NCR-3")])
    lake.ingest(landing)
    with snapshot(lake) as con:
        answer = where_used(con, "CAP-100", "L77")
    # PCB-1 is fitted into nothing now: it is the top-level unit holding the lot
    assert tops(answer) == [("PCB-1", 1, ["CAP-100/L77", "PCB-1"])]
    assert [(r["serial_number"], r["component_serial"], r["removal_ncr_id"])
            for r in answer.removed] == [("DEV-1", "PCB-1", "NCR-3")]


def test_a_module_moved_from_one_device_to_another(lake: Lake, landing: Path) -> None:
    # MOD-1 (holding PCB lot L77) is taken out of DEV-1 under NCR-5 and fitted into DEV-2
    write_plant(landing,
                units=[unit("MOD-1", "J-M", "MOD"), unit("DEV-1", "J-D", "DEV"),
                       unit("DEV-2", "J-D", "DEV")],
                issues=[issue("J-M", "CAP-100", "L77", at="2026-10-13T08:00")],
                fitments=[fit("DEV-1", "MOD", serial="MOD-1", at="2026-10-20T10:00",
                              removed_at="2026-11-02T10:00", ncr="NCR-5"),
                          fit("DEV-2", "MOD", serial="MOD-1", at="2026-11-03T10:00")])
    lake.ingest(landing)
    with snapshot(lake) as con:
        used = where_used(con, "CAP-100", "L77")
        ever = where_used(con, "CAP-100", "L77", include_removed=True)
        old = where_from(con, "DEV-1")
        new = where_from(con, "DEV-2")
    assert tops(used) == [("DEV-2", 2, ["CAP-100/L77", "MOD-1", "DEV-2"])]
    assert [(r["serial_number"], r["component_serial"]) for r in used.removed] == [
        ("DEV-1", "MOD-1")]
    assert serials(ever.affected) == ["DEV-1", "DEV-2"]
    # DEV-1 lists the module it lost as history, not what is inside it
    assert [(c["component_serial"], c["lot_number"], c["depth"], c["removed_at"])
            for c in old.components] == [("MOD-1", None, 1, utc("2026-11-02T10:00"))]
    assert sorted((c["component_code"], c["component_serial"], c["lot_number"], c["depth"],
                   c["removed_at"]) for c in new.components) == [
        ("CAP-100", None, "L77", 2, None), ("MOD", "MOD-1", None, 1, None)]


def test_include_removed_path_runs_through_every_level(lake: Lake, landing: Path) -> None:
    # lamp D2-0001 (lot L-OLD) is taken out of MOD-1, which sits in CHS-1, which sits in DEV-1
    write_plant(landing,
                units=[unit("MOD-1", "J-M", "MOD"), unit("CHS-1", "J-C", "CHS"),
                       unit("DEV-1", "J-D", "DEV")],
                fitments=[fit("MOD-1", "LAMP", serial="D2-0001", lot="L-OLD",
                              at="2026-10-13T10:00", removed_at="2026-11-03T09:05", ncr="NCR-1"),
                          fit("CHS-1", "MOD", serial="MOD-1", at="2026-10-14T10:00"),
                          fit("DEV-1", "CHS", serial="CHS-1", at="2026-10-15T10:00")])
    lake.ingest(landing)
    with snapshot(lake) as con:
        plain = where_used(con, "LAMP", "L-OLD")
        ever = where_used(con, "LAMP", "L-OLD", include_removed=True)
    assert plain.affected == []
    assert [(r["serial_number"], r["component_serial"]) for r in plain.removed] == [
        ("MOD-1", "D2-0001")]
    assert tops(ever) == [("DEV-1", 4, ["LAMP/L-OLD", "D2-0001", "MOD-1", "CHS-1", "DEV-1"])]


# ------------------------------------------------------------------------------------------
# top level


def test_a_sub_assembly_not_yet_fitted_is_itself_top_level(lake: Lake, landing: Path) -> None:
    write_plant(landing,
                units=[unit("PCB-1", "J-P", "PCB"), unit("PCB-2", "J-P", "PCB"),
                       unit("DEV-1", "J-D", "DEV"), unit("DEV-2", "J-D", "DEV", "wip")],
                issues=[issue("J-P", "CAP-100", "L77")],
                fitments=[fit("DEV-1", "PCB", serial="PCB-1")])
    lake.ingest(landing)
    with snapshot(lake) as con:
        before = where_used(con, "CAP-100", "L77")
    assert tops(before) == [("DEV-1", 2, ["CAP-100/L77", "PCB-1", "DEV-1"]),
                            ("PCB-2", 1, ["CAP-100/L77", "PCB-2"])]
    # next day PCB-2 goes into DEV-2: only the devices are top-level now
    write_plant(landing, fitments=[fit("DEV-2", "PCB", serial="PCB-2", at="2026-10-21T10:00")],
                suffix="_2026-10-21")
    lake.ingest(landing)
    with snapshot(lake) as con:
        after = where_used(con, "CAP-100", "L77")
    assert tops(after) == [("DEV-1", 2, ["CAP-100/L77", "PCB-1", "DEV-1"]),
                           ("DEV-2", 2, ["CAP-100/L77", "PCB-2", "DEV-2"])]


def test_a_device_fitted_before_its_units_row_arrives_is_still_traced(lake: Lake,
                                                                      landing: Path) -> None:
    # the fitment names DEV-9 before the units export does: an orphan reference, not a drop
    write_plant(landing, units=[unit("X-1", "J-X", "DEV")],
                fitments=[fit("DEV-9", "LAMP", serial="D2-1", lot="L1")])
    lake.ingest(landing)
    with snapshot(lake) as con:
        early = where_used(con, "LAMP", "L1")
    assert [(a["serial_number"], a["depth"], a["path"]) for a in early.affected] == [
        ("DEV-9", 2, ["LAMP/L1", "D2-1", "DEV-9"])]


def test_a_device_whose_units_row_arrives_later_gets_its_attributes(lake: Lake,
                                                                    landing: Path) -> None:
    write_plant(landing, units=[unit("X-1", "J-X", "DEV")],
                fitments=[fit("DEV-9", "LAMP", serial="D2-1", lot="L1")])
    lake.ingest(landing)
    write_plant(landing, units=[unit("DEV-9", "J-D", "DEV")], suffix="_2026-10-21")
    lake.ingest(landing)
    with snapshot(lake) as con:
        late = where_used(con, "LAMP", "L1")
    assert [(a["serial_number"], a["job_id"], a["depth"], a["path"]) for a in late.affected] == [
        ("DEV-9", "J-D", 2, ["LAMP/L1", "D2-1", "DEV-9"])]


def test_a_sub_assembly_whose_units_row_arrives_later_links_its_lots(lake: Lake,
                                                                     landing: Path) -> None:
    write_plant(landing, units=[unit("DEV-1", "J-D", "DEV")],
                fitments=[fit("DEV-1", "PCB", serial="PCB-1")])
    lake.ingest(landing)
    write_plant(landing, units=[unit("PCB-1", "J-P", "PCB")],
                issues=[issue("J-P", "CAP-100", "L77")], suffix="_2026-10-21")
    lake.ingest(landing)
    with snapshot(lake) as con:
        answer = where_used(con, "CAP-100", "L77")
    assert tops(answer) == [("DEV-1", 2, ["CAP-100/L77", "PCB-1", "DEV-1"])]


# ------------------------------------------------------------------------------------------
# shipments and summary


def test_shipments_give_customer_and_summary_counts(lake: Lake, landing: Path) -> None:
    write_plant(landing,
                units=[unit("U-1", "J-1", "DEV", "shipped"), unit("U-2", "J-1", "DEV", "shipped"),
                       unit("U-3", "J-1", "DEV", "shipped"), unit("U-4", "J-1", "DEV"),
                       unit("U-5", "J-2", "DEV", "quarantined")],
                issues=[issue("J-1", "CAP-100", "L77"), issue("J-2", "CAP-100", "L77")],
                shipments=[ship("U-1", "Acme Labs", "SO-1", "2026-11-09T10:30"),
                           ship("U-2", "Acme Labs", "SO-2", "2026-11-10T10:00"),
                           ship("U-3", "Norsk Analyse AS", "SO-3", "2026-11-10T14:20")])
    lake.ingest(landing)
    with snapshot(lake) as con:
        answer = where_used(con, "CAP-100", "L77")
    got = sorted((a["serial_number"], a["status"], a["customer"], a["shipped_at"])
                 for a in answer.affected)
    assert got == [("U-1", "shipped", "Acme Labs", utc("2026-11-09T10:30")),
                   ("U-2", "shipped", "Acme Labs", utc("2026-11-10T10:00")),
                   ("U-3", "shipped", "Norsk Analyse AS", utc("2026-11-10T14:20")),
                   ("U-4", "released", None, None),
                   ("U-5", "quarantined", None, None)]
    summary = answer.summary
    assert {k: summary[k] for k in ("units", "shipped", "customers", "by_status")} == {
        "units": 5, "shipped": 3, "customers": 2,
        "by_status": {"shipped": 3, "released": 1, "quarantined": 1}}


def test_a_shipment_in_a_later_run_shows_the_customer(lake: Lake, landing: Path) -> None:
    write_plant(landing, units=[unit("U-1", "J-1", "DEV"), unit("U-2", "J-1", "DEV")],
                issues=[issue("J-1", "CAP-100", "L77")])
    lake.ingest(landing)
    # the MRP re-exports U-1 as shipped, and the shipment arrives
    (landing / "units.csv").unlink()
    write_plant(landing, units=[unit("U-1", "J-1", "DEV", "shipped"), unit("U-2", "J-1", "DEV")],
                shipments=[ship("U-1", "Kestrel Pharma Ltd", "SO-5537", "2026-11-10T10:00")],
                suffix="_2026-11-10")
    lake.ingest(landing)
    with snapshot(lake) as con:
        answer = where_used(con, "CAP-100", "L77")
    assert sorted((a["serial_number"], a["status"], a["customer"], a["shipped_at"])
                  for a in answer.affected) == [
        ("U-1", "shipped", "Kestrel Pharma Ltd", utc("2026-11-10T10:00")),
        ("U-2", "released", None, None)]
    assert {k: answer.summary[k] for k in ("units", "shipped", "customers")} == {
        "units": 2, "shipped": 1, "customers": 1}


def test_a_shipment_alone_in_a_later_run_shows_the_customer(lake: Lake, landing: Path) -> None:
    write_plant(landing, units=[unit("U-1", "J-1", "DEV", "shipped")],
                issues=[issue("J-1", "CAP-100", "L77")])
    lake.ingest(landing)
    write_plant(landing, shipments=[ship("U-1", "Acme Labs", "SO-1", "2026-11-09T10:30")])
    lake.ingest(landing)
    with snapshot(lake) as con:
        answer = where_used(con, "CAP-100", "L77")
    assert [(a["serial_number"], a["customer"]) for a in answer.affected] == [
        ("U-1", "Acme Labs")]


# ------------------------------------------------------------------------------------------
# where-from


def test_where_from_goes_level_by_level_with_its_source(lake: Lake, landing: Path) -> None:
    # DEV-1 <- MOD-1 <- PCB-1: the capacitor lot is issued to the PCB job, the case lot to the
    # device job (both job level); the screws are fitted into the module by lot.
    write_plant(landing,
                units=[unit("PCB-1", "J-P", "PCB"), unit("MOD-1", "J-M", "MOD"),
                       unit("DEV-1", "J-D", "DEV")],
                issues=[issue("J-P", "CAP-100", "L77", at="2026-10-06T08:18"),
                        issue("J-D", "CASE", "L5", at="2026-10-20T08:05"),
                        issue("J-M", "SCR-M3", "L3", at="2026-10-13T08:00")],
                fitments=[fit("MOD-1", "PCB", serial="PCB-1", at="2026-10-14T10:00"),
                          fit("MOD-1", "SCR-M3", lot="L3", at="2026-10-14T10:10"),
                          fit("DEV-1", "MOD", serial="MOD-1", at="2026-10-21T11:00")])
    lake.ingest(landing)
    with snapshot(lake) as con:
        answer = where_from(con, "DEV-1")
    assert answer.query == {"direction": "backward", "serial_number": "DEV-1"}
    assert answer.unit == {"serial_number": "DEV-1", "product_code": "DEV", "job_id": "J-D",
                           "status": "released"}
    got = sorted((c["depth"], c["parent_serial"], c["component_code"], c["lot_number"],
                  c["component_serial"], c["fitted_at"], c["removed_at"], c["source"])
                 for c in answer.components)
    assert got == [
        (1, "DEV-1", "CASE", "L5", None, utc("2026-10-20T07:05"), None, "material_issues"),
        (1, "DEV-1", "MOD", None, "MOD-1", utc("2026-10-21T10:00"), None, "unit_components"),
        (2, "MOD-1", "PCB", None, "PCB-1", utc("2026-10-14T09:00"), None, "unit_components"),
        (2, "MOD-1", "SCR-M3", "L3", None, utc("2026-10-14T09:10"), None, "unit_components"),
        (3, "PCB-1", "CAP-100", "L77", None, utc("2026-10-06T07:18"), None, "material_issues")]
    # level by level: the list comes in depth order
    assert [c["depth"] for c in answer.components] == [1, 1, 2, 2, 3]


def test_where_from_of_a_part_that_carries_its_lot(lake: Lake, landing: Path) -> None:
    write_plant(landing, units=[unit("DEV-1", "J-D", "DEV")],
                issues=[issue("J-D", "LAMP", "L-8801", serial="D2-0311")],
                fitments=[fit("DEV-1", "LAMP", serial="D2-0311", lot="L-8801")])
    lake.ingest(landing)
    with snapshot(lake) as con:
        answer = where_from(con, "DEV-1")
    assert [(c["component_code"], c["lot_number"], c["component_serial"], c["depth"],
             c["source"]) for c in answer.components] == [
        ("LAMP", "L-8801", "D2-0311", 1, "unit_components")]


# ------------------------------------------------------------------------------------------
# supplier recall


def test_supplier_recall_takes_the_lots_issued_in_the_window(lake: Lake, landing: Path) -> None:
    write_plant(landing,
                units=[unit("A-1", "J-1", "DEV"), unit("B-1", "J-2", "DEV"),
                       unit("B-2", "J-2", "DEV"), unit("C-1", "J-3", "DEV"),
                       unit("D-1", "J-4", "DEV"), unit("E-1", "J-5", "DEV")],
                issues=[
                    issue("J-1", "CAP-100", "L1", at="2026-10-05T09:00", supplier="Farwell"),
                    issue("J-2", "CAP-100", "L2", at="2026-10-20T09:00", supplier="Farwell"),
                    # outside the window
                    issue("J-3", "CAP-100", "L3", at="2026-11-15T09:00", supplier="Farwell"),
                    # another supplier, in the window
                    issue("J-4", "CAP-100", "L4", at="2026-10-10T09:00", supplier="Other Ltd"),
                    # another component from the same supplier, in the window
                    issue("J-5", "RES-10K", "L5", at="2026-10-12T09:00", supplier="Farwell")])
    lake.ingest(landing)
    with snapshot(lake) as con:
        answer = supplier_recall(con, "CAP-100", "Farwell", dt.date(2026, 10, 1),
                                 dt.date(2026, 11, 1))
    assert answer.query["lots"] == ["L1", "L2"]
    assert answer.query["component_code"] == "CAP-100"
    assert answer.query["supplier"] == "Farwell"
    assert tops(answer) == [("A-1", 1, ["CAP-100/L1", "A-1"]), ("B-1", 1, ["CAP-100/L2", "B-1"]),
                            ("B-2", 1, ["CAP-100/L2", "B-2"])]
    assert answer.summary["units"] == 3


def test_supplier_recall_takes_every_unit_of_a_recalled_lot(lake: Lake, landing: Path) -> None:
    # lot L1 is issued in the window to J-1 and again after it to J-2: the whole lot is recalled
    write_plant(landing, units=[unit("A-1", "J-1", "DEV"), unit("B-1", "J-2", "DEV")],
                issues=[
                    issue("J-1", "CAP-100", "L1", at="2026-10-05T09:00", supplier="Farwell"),
                    issue("J-2", "CAP-100", "L1", at="2026-11-20T09:00", supplier="Farwell")])
    lake.ingest(landing)
    with snapshot(lake) as con:
        answer = supplier_recall(con, "CAP-100", "Farwell", dt.date(2026, 10, 1),
                                 dt.date(2026, 11, 1))
    assert answer.query["lots"] == ["L1"]
    assert serials(answer.affected) == ["A-1", "B-1"]


def test_supplier_recall_with_no_lot_in_the_window_is_empty(lake: Lake, landing: Path) -> None:
    write_plant(landing, units=[unit("A-1", "J-1", "DEV")],
                issues=[issue("J-1", "CAP-100", "L1", at="2026-10-05T09:00", supplier="Farwell")])
    lake.ingest(landing)
    with snapshot(lake) as con:
        answer = supplier_recall(con, "CAP-100", "Farwell", dt.date(2026, 11, 1),
                                 dt.date(2026, 12, 1))
    assert answer.query["lots"] == []
    assert answer.affected == [] and answer.message


# ------------------------------------------------------------------------------------------
# unknowns


def test_an_unknown_lot_gives_an_empty_answer_with_a_message(lake: Lake, landing: Path) -> None:
    write_plant(landing, units=[unit("A-1", "J-1", "DEV")],
                issues=[issue("J-1", "CAP-100", "L77")])
    lake.ingest(landing)
    with snapshot(lake) as con:
        answer = where_used(con, "CAP-100", "NO-SUCH-LOT")
    assert answer.affected == [] and answer.removed == []
    assert answer.message and "NO-SUCH-LOT" in answer.message
    assert answer.summary["units"] == 0
    assert answer.as_dict()["message"] == answer.message


def test_an_unknown_serial_gives_no_unit_and_a_message(lake: Lake, landing: Path) -> None:
    write_plant(landing, units=[unit("A-1", "J-1", "DEV")],
                issues=[issue("J-1", "CAP-100", "L77")])
    lake.ingest(landing)
    with snapshot(lake) as con:
        answer = where_from(con, "NO-SUCH-SERIAL")
        lot = where_from(con, "L77")  # a lot is not a unit
    assert answer.unit is None and answer.components == []
    assert answer.message and "NO-SUCH-SERIAL" in answer.message
    assert lot.unit is None and lot.message


# ------------------------------------------------------------------------------------------
# anomalies in the data


def _cycle_rows(con: duckdb.DuckDBPyConnection) -> list[tuple[str, int]]:
    return sorted(con.execute("SELECT n.label, c.cycle_length FROM genealogy.cycles c "
                              "JOIN genealogy.nodes n USING (node_id)").fetchall())


@pytest.mark.timeout(60)
def test_a_cycle_is_recorded_and_tracing_into_it_terminates(lake: Lake, landing: Path) -> None:
    # A is fitted into B and B into A; a capacitor lot is fitted into A
    write_plant(landing, units=[unit("A", "J-1", "P"), unit("B", "J-1", "P")],
                fitments=[fit("A", "P", serial="B", at="2026-10-20T09:00"),
                          fit("B", "P", serial="A", at="2026-10-20T10:00"),
                          fit("A", "CAP-100", lot="L77", at="2026-10-20T09:30")])
    report = lake.ingest(landing)
    assert report.genealogy is not None and report.genealogy["cycles"] == 2
    with snapshot(lake) as con:
        assert _cycle_rows(con) == [("A", 2), ("B", 2)]
        answer = where_used(con, "CAP-100", "L77")
        back = where_from(con, "A")
    # neither A nor B is fitted into nothing, so nothing is top-level; each serial at most once
    found = [a["serial_number"] for a in answer.affected]
    assert set(found) <= {"A", "B"} and len(found) == len(set(found))
    assert back.unit is not None and back.unit["serial_number"] == "A"
    assert ("B", 1) in {(c["component_serial"], c["depth"]) for c in back.components}


@pytest.mark.timeout(60)
def test_a_cycle_closed_by_a_later_run_is_recorded(lake: Lake, landing: Path) -> None:
    write_plant(landing, units=[unit("A", "J-1", "P"), unit("B", "J-1", "P"),
                                unit("C", "J-1", "P")],
                fitments=[fit("A", "P", serial="B", at="2026-10-20T09:00"),
                          fit("B", "P", serial="C", at="2026-10-20T09:10"),
                          fit("C", "CAP-100", lot="L77", at="2026-10-20T09:20")])
    lake.ingest(landing)
    with snapshot(lake) as con:
        assert _cycle_rows(con) == []
        assert tops(where_used(con, "CAP-100", "L77")) == [
            ("A", 3, ["CAP-100/L77", "C", "B", "A"])]
    write_plant(landing, fitments=[fit("C", "P", serial="A", at="2026-10-21T09:00")],
                suffix="_2026-10-21")
    report = lake.ingest(landing)
    assert report.genealogy is not None and report.genealogy["cycles"] == 3
    with snapshot(lake) as con:
        assert _cycle_rows(con) == [("A", 3), ("B", 3), ("C", 3)]
        answer = where_used(con, "CAP-100", "L77")
    found = [a["serial_number"] for a in answer.affected]
    assert set(found) <= {"A", "B", "C"} and len(found) == len(set(found))


def test_a_serial_fitted_into_two_units_at_once_is_recorded(lake: Lake, landing: Path) -> None:
    write_plant(landing,
                units=[unit("PCB-1", "J-P", "PCB"), unit("PCB-2", "J-P", "PCB"),
                       unit("DEV-1", "J-D", "DEV"), unit("DEV-2", "J-D", "DEV"),
                       unit("DEV-3", "J-D", "DEV"), unit("DEV-4", "J-D", "DEV")],
                issues=[issue("J-P", "CAP-100", "L77")],
                fitments=[fit("DEV-1", "PCB", serial="PCB-1", at="2026-10-20T10:00"),
                          fit("DEV-2", "PCB", serial="PCB-1", at="2026-10-20T11:00"),
                          # PCB-2 moved from DEV-3 to DEV-4 with a removal: not an anomaly
                          fit("DEV-3", "PCB", serial="PCB-2", at="2026-10-20T12:00",
                              removed_at="2026-10-21T09:00", ncr="NCR-7"),
                          fit("DEV-4", "PCB", serial="PCB-2", at="2026-10-21T10:00")])
    report = lake.ingest(landing)
    assert report.genealogy is not None and report.genealogy["multi_parent"] == 1
    with snapshot(lake) as con:
        rows = con.execute("SELECT n.label, m.parents FROM genealogy.multi_parent m "
                           "JOIN genealogy.nodes n USING (node_id)").fetchall()
        answer = where_used(con, "CAP-100", "L77")
    assert rows == [("PCB-1", ["DEV-1", "DEV-2"])]
    # the data say PCB-1 is in both devices, so the trace names both
    assert tops(answer) == [("DEV-1", 2, ["CAP-100/L77", "PCB-1", "DEV-1"]),
                            ("DEV-2", 2, ["CAP-100/L77", "PCB-1", "DEV-2"]),
                            ("DEV-4", 2, ["CAP-100/L77", "PCB-2", "DEV-4"])]
    assert [(r["serial_number"], r["component_serial"]) for r in answer.removed] == [
        ("DEV-3", "PCB-2")]


# ------------------------------------------------------------------------------------------
# the sample plant's documented story (data/sample/README.md, "Facts the tests check")


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Iterator[duckdb.DuckDBPyConnection]:
    lake = Lake(tmp_path_factory.mktemp("genealogy-sample") / "lake")
    lake.ingest(SAMPLE, exclude=["bad/*"])
    with snapshot(lake) as con:
        yield con


def _spx(*numbers: int) -> list[str]:
    return [f"SPX200-{n:04d}" for n in numbers]


def test_sample_cap_100_l4471_reaches_j1042_devices_and_the_spare_pcbs(sample) -> None:  # type: ignore[no-untyped-def]
    answer = where_used(sample, "CAP-100", "L-4471")
    # PCB-M-0101..0110 are fitted (on paths); the two spares are top-level themselves
    assert serials(answer.affected) == ["PCB-M-0111", "PCB-M-0112", *_spx(*range(1, 11))]
    by_serial = {a["serial_number"]: a for a in answer.affected}
    assert by_serial["PCB-M-0111"]["path"] == ["CAP-100/L-4471", "PCB-M-0111"]
    assert by_serial["SPX200-0001"]["depth"] == 1  # issued to J-1042 at job level too
    assert answer.removed == []
    # each device holds it through its PCB as well: all 12 PCBs of J-1038 carry the lot
    for n in range(1, 11):
        comps = where_from(sample, f"SPX200-{n:04d}").components
        via = {(c["parent_serial"], c["depth"], c["source"]) for c in comps
               if (c["component_code"], c["lot_number"]) == ("CAP-100", "L-4471")}
        assert via == {(f"SPX200-{n:04d}", 1, "material_issues"),
                       (f"PCB-M-{100 + n:04d}", 2, "material_issues")}, n
    summary = answer.summary
    assert {k: summary[k] for k in ("units", "shipped", "customers", "by_status")} == {
        "units": 12, "shipped": 8, "customers": 3, "by_status": {"shipped": 8, "released": 4}}


def test_sample_customers_of_j1042(sample) -> None:  # type: ignore[no-untyped-def]
    answer = where_used(sample, "CAP-100", "L-4471")
    got = {a["serial_number"]: (a["customer"], a.get("order_ref")) for a in answer.affected
           if a["job_id"] == "J-1042"}
    leeds = "University of Leeds — School of Chemistry"
    assert got == {
        "SPX200-0001": (leeds, "SO-5521"), "SPX200-0002": (leeds, "SO-5521"),
        "SPX200-0003": (leeds, "SO-5521"), "SPX200-0004": ("Kestrel Pharma Ltd", "SO-5537"),
        "SPX200-0005": ("Kestrel Pharma Ltd", "SO-5530"),
        "SPX200-0006": ("Kestrel Pharma Ltd", "SO-5530"),
        "SPX200-0007": (None, None), "SPX200-0008": ("Norsk Analyse AS", "SO-5541"),
        "SPX200-0009": ("Norsk Analyse AS", "SO-5541"), "SPX200-0010": (None, None)}
    assert next(a for a in answer.affected
                if a["serial_number"] == "SPX200-0004")["shipped_at"] == utc("2026-11-10T10:00")


def test_sample_other_lots_of_cap_100_and_the_screw_lots(sample) -> None:  # type: ignore[no-untyped-def]
    assert serials(where_used(sample, "CAP-100", "L-4502").affected) == _spx(11, 12, 13, 14)
    screws = where_used(sample, "SCR-M3", "L-4471")
    assert tops(screws) == [(s, 1, ["SCR-M3/L-4471", s]) for s in _spx(1, 2, 3, 4, 5, 6)]
    assert serials(where_used(sample, "SCR-M3-SS", "L-5120").affected) == _spx(
        7, 8, 9, 10, 11, 12, 14)


def test_sample_lamp_rework_of_spx200_0004_and_0007(sample) -> None:  # type: ignore[no-untyped-def]
    old = where_used(sample, "LAMP-D2", "L-8801")
    assert serials(old.affected) == _spx(1, 2, 3, 5, 6, 8, 9, 10)
    assert [(r["serial_number"], r["component_serial"], r["removed_at"], r["removal_ncr_id"])
            for r in sorted(old.removed, key=lambda r: r["serial_number"])] == [
        ("SPX200-0004", "D2-26-0314", utc("2026-11-03T09:05"), "NCR-0231"),
        ("SPX200-0007", "D2-26-0317", utc("2026-11-03T09:50"), "NCR-0232")]
    ever = where_used(sample, "LAMP-D2", "L-8801", include_removed=True)
    assert serials(ever.affected) == _spx(*range(1, 11))
    new = where_used(sample, "LAMP-D2", "L-8840")
    assert serials(new.affected) == _spx(4, 7, 11, 12, 13, 14)
    assert new.removed == []
    lamps = sorted((c["component_serial"], c["lot_number"], c["removed_at"], c.get("removal_ncr_id"))
                   for c in where_from(sample, "SPX200-0004").components
                   if c["component_code"] == "LAMP-D2")
    assert lamps == [("D2-26-0314", "L-8801", utc("2026-11-03T09:05"), "NCR-0231"),
                     ("D2-26-0457", "L-8840", None, None)]
