"""Contracts: one Pandera model per table; required, allowed values, ranges, order and keys."""

from __future__ import annotations

import polars as pl
import pytest

from tracelake.contracts import CONTRACTS, contract_for
from tracelake.intake.checks import check_frame, missing_required_columns
from tracelake.intake.coerce import coerce_frame
from tracelake.intake.readers import ROW

IMPORT_CONTRACT_TABLES = [
    "products", "mbr", "mbr_bom", "mbr_operations", "equipment", "lots", "customers", "jobs",
    "bom_snapshot",
    "material_issues", "units", "unit_components", "operations", "ncrs", "ecns", "job_ecns",
    "firmware_loads", "label_checks", "signoffs", "shipments", "test_results", "calibrations"]


def test_every_table_of_the_import_contract_has_a_model() -> None:
    assert list(CONTRACTS) == IMPORT_CONTRACT_TABLES


def test_unknown_table_names_the_known_ones() -> None:
    with pytest.raises(KeyError, match="known: products"):
        contract_for("stock_levels")


def test_required_columns_follow_the_contract_stars() -> None:
    assert CONTRACTS["operations"].required == (
        "job_id", "op_seq", "op_code", "operator", "started_at", "finished_at", "result")
    assert CONTRACTS["calibrations"].allowed_values["as_found"] == [
        "in_tolerance", "out_of_tolerance", "not_applicable", "not_recorded"]  # v2: left empty
    # v2: a column with a default (equipment status, calibration results) is never missing
    assert CONTRACTS["equipment"].required == ("equipment_id", "description")
    assert "as_found" not in CONTRACTS["calibrations"].required


def _check(table: str, rows: dict[str, list[str | None]]) -> list[tuple[int, str | None, str]]:
    contract = CONTRACTS[table]
    n = len(next(iter(rows.values())))
    frame = pl.DataFrame(rows | {ROW: list(range(2, n + 2))})
    typed = coerce_frame(frame, contract)
    fails = check_frame(typed.frame, contract, typed.failures)
    return sorted((r, c, rule) for r, c, rule, _ in fails.iter_rows())


def _cal(**kw: list[str | None]) -> dict[str, list[str | None]]:
    base: dict[str, list[str | None]] = {
        "equipment_id": ["G1"], "calibrated_at": ["2026-01-10T09:00"],
        "due_at": ["2027-01-10T09:00"], "certificate_no": ["C-1"], "as_found": ["in_tolerance"],
        "as_left": ["in_tolerance"], "calibrated_by": ["Lab"]}
    return base | kw


def test_a_valid_row_passes() -> None:
    assert _check("calibrations", _cal()) == []


def test_required_field_blank_is_named() -> None:
    assert _check("calibrations", _cal(certificate_no=[None])) == [(2, "certificate_no",
                                                                    "required")]


def test_value_outside_its_allowed_set() -> None:
    assert _check("calibrations", _cal(as_found=["broken"])) == [(2, "as_found", "not_allowed")]


def test_due_must_be_after_calibrated() -> None:
    assert _check("calibrations", _cal(due_at=["2025-01-10T09:00"])) == [
        (2, "due_at", "inconsistent")]


def test_quantity_must_be_positive() -> None:
    rows = {"issue_id": ["I1"], "job_id": ["J"], "component_code": ["C"], "lot_number": ["L"],
            "quantity": ["0"], "issued_at": ["2026-10-20T09:00"], "issued_by": ["x"]}
    assert _check("material_issues", rows) == [(2, "quantity", "out_of_range")]


def test_limits_must_be_ordered() -> None:
    rows = {"serial_number": ["S"], "equipment_id": ["E"], "test_step": ["FT"],
            "measurement": ["m"], "value": ["1"], "low_limit": ["2"], "high_limit": ["1"],
            "result": ["fail"], "tested_at": ["2026-10-20T09:00"], "operator": ["o"]}
    assert _check("test_results", rows) == [(2, "low_limit", "inconsistent")]


def test_finished_before_started_is_refused() -> None:
    rows = {"job_id": ["J"], "op_seq": ["10"], "op_code": ["K"], "operator": ["o"],
            "started_at": ["2026-10-20T10:00"], "finished_at": ["2026-10-20T09:00"],
            "result": ["done"]}
    assert _check("operations", rows) == [(2, "finished_at", "inconsistent")]


def test_unit_component_needs_a_serial_or_a_lot() -> None:
    rows = {"serial_number": ["S"], "component_code": ["C"], "component_serial": [None],
            "lot_number": [None], "fitted_at": ["2026-10-20T09:00"], "fitted_by": ["o"]}
    assert _check("unit_components", rows) == [(2, None, "inconsistent")]


def test_duplicate_natural_keys_in_a_file_quarantine_every_copy() -> None:
    rows = {"job_id": ["J", "J", "K"], "ecn_id": ["E", "E", "E"],
            "applied_at": ["2026-10-20T09:00", "2026-10-21T09:00", "2026-10-21T09:00"],
            "applied_by": ["a", "b", "c"]}
    assert _check("job_ecns", rows) == [(2, None, "duplicate_key"), (3, None, "duplicate_key")]


def test_a_blank_row_is_one_failure_not_one_per_column() -> None:
    assert _check("calibrations", {k: [None] for k in _cal()}) == [(2, None, "blank_row")]


def test_missing_required_columns_are_listed() -> None:
    assert missing_required_columns(["serial_number", "status"], CONTRACTS["units"]) == [
        "product_code", "job_id"]
    assert missing_required_columns(["serial_number", "status", "job_id"], CONTRACTS["units"],
                                    {"product_code": "SPX-200"}) == []
