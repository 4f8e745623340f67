"""Typing: dates and times to UTC, booleans, numbers, allowed values; bad values named, not nulled."""

from __future__ import annotations

from datetime import UTC, datetime

import polars as pl
import pytest

from tracelake.contracts import CONTRACTS
from tracelake.intake.coerce import coerce_frame
from tracelake.intake.readers import ROW


def _ops(**cols: list[str | None]) -> pl.DataFrame:
    n = len(next(iter(cols.values())))
    base = {"job_id": ["J-1"] * n, "op_seq": ["10"] * n, "op_code": ["KIT"] * n,
            "operator": ["A"] * n, "started_at": ["2026-10-20T09:00"] * n,
            "finished_at": ["2026-10-20T10:00"] * n, "result": ["done"] * n}
    return pl.DataFrame(base | cols | {ROW: list(range(2, n + 2))})


def _utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.mark.parametrize(("text", "expected"), [
    ("2026-10-20T09:00", _utc(2026, 10, 20, 8, 0)),            # BST: plant-local, stored as UTC
    ("2026-11-20T09:00:00", _utc(2026, 11, 20, 9, 0)),         # GMT
    ("2026-10-20 09:00:00", _utc(2026, 10, 20, 8, 0)),
    ("2026-10-20T09:00:00Z", _utc(2026, 10, 20, 9, 0)),
    ("2026-10-20T09:00:00+02:00", _utc(2026, 10, 20, 7, 0)),
    ("2026-10-20T09:00:00.250-0500", _utc(2026, 10, 20, 14, 0, 0, 250000)),
    ("2026-10-20", _utc(2026, 10, 19, 23, 0)),                  # a date alone is local midnight
])
def test_iso_times_are_stored_as_utc(text: str, expected: datetime) -> None:
    typed = coerce_frame(_ops(started_at=[text], finished_at=["2026-12-01T00:00Z"]),
                         CONTRACTS["operations"])
    assert typed.failures.height == 0
    assert typed.frame["started_at"][0] == expected


def test_day_first_dates_need_the_mapping_to_say_so() -> None:
    frame = _ops(started_at=["25/10/2026 14:05"], finished_at=["25/10/2026 15:00"])
    refused = coerce_frame(frame, CONTRACTS["operations"])
    assert refused.failures["rule"].to_list() == ["wrong_type", "wrong_type"]
    assert "date_formats: ['%d/%m/%Y %H:%M'] (or dayfirst: true)" in refused.failures["message"][0]
    read = coerce_frame(frame, CONTRACTS["operations"], dayfirst=True)
    assert read.failures.height == 0
    assert read.frame["started_at"][0] == _utc(2026, 10, 25, 14, 5)  # GMT after the change


def test_a_local_time_repeated_at_the_clock_change_is_refused_not_guessed() -> None:
    typed = coerce_frame(_ops(started_at=["2026-10-25T01:30"], finished_at=["2026-10-25T03:00"]),
                         CONTRACTS["operations"])
    assert typed.failures["message"][0].startswith(
        "started_at = '2026-10-25T01:30' happens twice in Europe/London")


def test_a_local_time_skipped_at_the_clock_change_is_refused() -> None:
    typed = coerce_frame(_ops(started_at=["2026-03-29T01:30"], finished_at=["2026-03-29T03:00"]),
                         CONTRACTS["operations"])
    assert "does not exist in Europe/London" in typed.failures["message"][0]


def test_the_plant_time_zone_is_configurable() -> None:
    typed = coerce_frame(_ops(started_at=["2026-10-20T09:00"]), CONTRACTS["operations"],
                         timezone="America/Chicago")
    assert typed.frame["started_at"][0] == _utc(2026, 10, 20, 14, 0)


@pytest.mark.parametrize(("text", "value"), [
    ("true", True), ("Yes", True), ("y", True), ("1", True), ("FALSE", False), ("no", False),
    ("N", False), ("0", False)])
def test_booleans_in_any_of_the_contract_forms(text: str, value: bool) -> None:
    frame = pl.DataFrame({"product_code": ["P"], "description": ["d"], "serialised": [text],
                          ROW: [2]})
    assert coerce_frame(frame, CONTRACTS["products"]).frame["serialised"][0] is value


def test_values_of_the_wrong_type_are_failures_with_the_value() -> None:
    typed = coerce_frame(_ops(op_seq=["ten"], result=["done"]), CONTRACTS["operations"])
    assert typed.failures.rows() == [(2, "op_seq", "wrong_type",
                                      "op_seq = 'ten' is not a whole number")]


def test_allowed_values_ignore_case_and_spacing() -> None:
    frame = pl.DataFrame({"equipment_id": ["G"], "calibrated_at": ["2026-01-01T09:00"],
                          "due_at": ["2027-01-01T09:00"], "certificate_no": ["C"],
                          "as_found": ["Out of Tolerance"], "as_left": ["IN-TOLERANCE"],
                          "calibrated_by": ["lab"], ROW: [2]})
    typed = coerce_frame(frame, CONTRACTS["calibrations"])
    assert typed.frame.select("as_found", "as_left").row(0) == ("out_of_tolerance",
                                                                  "in_tolerance")


def test_decimal_comma_is_read_in_semicolon_files() -> None:
    frame = pl.DataFrame({"issue_id": ["I"], "job_id": ["J"], "component_code": ["C"],
                          "lot_number": ["L"], "quantity": ["2,5"], "issued_at": ["2026-10-20T09:00"],
                          "issued_by": ["x"], ROW: [2]})
    typed = coerce_frame(frame, CONTRACTS["material_issues"], decimal_comma=True)
    assert typed.frame["quantity"][0] == 2.5


def test_unknown_columns_are_kept_as_json() -> None:
    typed = coerce_frame(_ops(Shift=["B"]), CONTRACTS["operations"])
    assert typed.frame["_extra"][0] == '{"Shift":"B"}'


def test_a_visual_check_keeps_its_text_value_but_a_measured_one_must_be_a_number() -> None:
    frame = pl.DataFrame({
        "serial_number": ["S1", "S2"], "equipment_id": ["E", "E"], "test_step": ["VIS", "FT"],
        "measurement": ["finish", "noise"], "value": ["OK", "abc"], "low_limit": [None, "0"],
        "high_limit": [None, "1"], "result": ["pass", "pass"],
        "tested_at": ["2026-10-20T09:00"] * 2, "operator": ["x", "x"], ROW: [2, 3]})
    typed = coerce_frame(frame, CONTRACTS["test_results"])
    assert typed.frame["value_text"].to_list() == ["OK", "abc"]
    assert typed.failures[ROW].to_list() == [3]
    assert "numeric limits" in typed.failures["message"][0]
