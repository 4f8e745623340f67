"""Contract of the calibration register: each calibration of each piece of equipment."""

from __future__ import annotations

import pandera.polars as pa
import polars as pl

from tracelake.contracts.base import UTC_DATETIME, utc_field

__all__ = ["NOT_RECORDED", "TOLERANCE", "Calibrations"]

TOLERANCE = ["in_tolerance", "out_of_tolerance", "not_applicable", "not_recorded"]
#: v2: an as-found or as-left left empty is stored as this (and an empty as-found is a finding)
NOT_RECORDED = "not_recorded"


class Calibrations(pa.DataFrameModel):
    """A calibration: when, by whom, certificate, condition as found and as left, and when next due."""

    equipment_id: str
    calibrated_at: UTC_DATETIME = utc_field()
    due_at: UTC_DATETIME = utc_field()
    certificate_no: str
    as_found: str = pa.Field(isin=TOLERANCE)
    as_left: str = pa.Field(isin=TOLERANCE)
    calibrated_by: str
    lab: str | None = pa.Field(nullable=True)

    # A due date equal to the calibration date is a verification with no recall interval (a
    # register's "verification only", frequency 0): a real record, valid for the day it was made
    # (see derived/calibration/status.py). Only a due date before the calibration contradicts it.
    @pa.dataframe_check(name="due_at >= calibrated_at")
    def due_after_calibrated(cls, data: pa.PolarsData) -> pl.LazyFrame:
        due, cal = pl.col("due_at"), pl.col("calibrated_at")
        return data.lazyframe.select(due.is_null() | cal.is_null() | (due >= cal))
