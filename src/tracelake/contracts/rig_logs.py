"""Contract of the test-rig logs: every measurement and inspection result on a serial."""

from __future__ import annotations

import pandera.polars as pa
import polars as pl

from tracelake.contracts.base import UTC_DATETIME, utc_field

__all__ = ["TestResults"]


class TestResults(pa.DataFrameModel):
    """One measurement of one test step on one serial, with its limits and verdict.

    ``value`` holds the number; ``value_text`` (added by tracelake) keeps what the rig wrote,
    so a visual check's ``OK`` is kept rather than refused.
    """

    __test__ = False  # not a pytest class

    serial_number: str
    equipment_id: str
    test_step: str
    measurement: str
    value: float | None = pa.Field(nullable=True)
    units: str | None = pa.Field(nullable=True)
    low_limit: float | None = pa.Field(nullable=True)
    high_limit: float | None = pa.Field(nullable=True)
    result: str = pa.Field(isin=["pass", "fail"])
    tested_at: UTC_DATETIME = utc_field()
    operator: str
    software_version: str | None = pa.Field(nullable=True)
    run_id: str | None = pa.Field(nullable=True)
    attempt: int | None = pa.Field(nullable=True, ge=1)
    value_text: str | None = pa.Field(nullable=True)

    @pa.dataframe_check(name="low_limit <= high_limit")
    def limits_ordered(cls, data: pa.PolarsData) -> pl.LazyFrame:
        lo, hi = pl.col("low_limit"), pl.col("high_limit")
        return data.lazyframe.select(lo.is_null() | hi.is_null() | (lo <= hi))
