"""Contracts of the executed records (the BMR and DHR side): jobs, material, units, operations, NCRs,
ECNs, firmware, labels, sign-offs and shipments."""

from __future__ import annotations

import pandera.polars as pa
import polars as pl

from tracelake.contracts.base import UTC_DATETIME, utc_field

__all__ = [
    "BomSnapshot",
    "Ecns",
    "FirmwareLoads",
    "JobEcns",
    "Jobs",
    "LabelChecks",
    "MaterialIssues",
    "Ncrs",
    "Operations",
    "Shipments",
    "Signoffs",
    "UnitComponents",
    "Units",
]

JOB_STATUS = ["planned", "in_progress", "complete", "released", "on_hold", "cancelled"]
UNIT_STATUS = ["wip", "passed", "released", "shipped", "scrapped", "quarantined"]
OPERATION_RESULT = ["pass", "fail", "done"]
NCR_DISPOSITION = ["pending", "rework", "scrap", "use_as_is", "return_to_supplier"]
PASS_FAIL = ["pass", "fail"]
SIGNOFF_RECORD_TYPES = ["job", "operation", "unit", "ncr", "release"]
SIGNOFF_ROLES = ["operator", "inspector", "qa", "release"]


def _not_before(later: str, earlier: str) -> pl.Expr:
    """True where ``later`` is empty or not before ``earlier`` (nulls are another rule's business)."""
    return pl.col(later).is_null() | pl.col(earlier).is_null() | (pl.col(later) >= pl.col(earlier))


class Jobs(pa.DataFrameModel):
    """A works order: one batch of one product built to one MBR revision."""

    job_id: str
    product_code: str
    mbr_revision: str
    drawing_revision: str
    quantity: int = pa.Field(gt=0)
    customer_po: str | None = pa.Field(nullable=True)
    due_date: pl.Date | None = pa.Field(nullable=True)
    created_at: UTC_DATETIME = utc_field()
    released_at: UTC_DATETIME | None = utc_field(nullable=True)
    released_by: str | None = pa.Field(nullable=True)
    status: str = pa.Field(isin=JOB_STATUS)

    @pa.dataframe_check(name="released_at >= created_at")
    def released_after_created(cls, data: pa.PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(_not_before("released_at", "created_at"))


class BomSnapshot(pa.DataFrameModel):
    """The BOM as it stood on the job when it was released to the floor."""

    job_id: str
    line_no: int
    component_code: str
    component_revision: str
    qty_per: float = pa.Field(gt=0)
    uom: str | None = pa.Field(nullable=True)
    serialised: bool | None = pa.Field(nullable=True)
    critical: bool | None = pa.Field(nullable=True)


class MaterialIssues(pa.DataFrameModel):
    """Stores issuing a component lot (or one serialised component) to a job."""

    issue_id: str
    job_id: str
    component_code: str
    lot_number: str
    component_serial: str | None = pa.Field(nullable=True)
    quantity: float = pa.Field(gt=0)
    uom: str | None = pa.Field(nullable=True)
    issued_at: UTC_DATETIME = utc_field()
    issued_by: str
    supplier: str | None = pa.Field(nullable=True)
    supplier_lot: str | None = pa.Field(nullable=True)


class Units(pa.DataFrameModel):
    """A serialised unit built on a job (a finished device or an in-house sub-assembly)."""

    serial_number: str
    product_code: str
    job_id: str
    status: str = pa.Field(isin=UNIT_STATUS)
    built_at: UTC_DATETIME | None = utc_field(nullable=True)


class UnitComponents(pa.DataFrameModel):
    """A lot or serialised component fitted into a unit (and, after rework, removed from it)."""

    serial_number: str
    component_code: str
    component_serial: str | None = pa.Field(nullable=True)
    lot_number: str | None = pa.Field(nullable=True)
    fitted_at: UTC_DATETIME = utc_field()
    fitted_by: str
    removed_at: UTC_DATETIME | None = utc_field(nullable=True)
    removed_by: str | None = pa.Field(nullable=True)
    removal_ncr_id: str | None = pa.Field(nullable=True)

    @pa.dataframe_check(name="component_serial or lot_number required")
    def serial_or_lot(cls, data: pa.PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(
            pl.col("component_serial").is_not_null() | pl.col("lot_number").is_not_null())

    @pa.dataframe_check(name="removed_at >= fitted_at")
    def removed_after_fitted(cls, data: pa.PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(_not_before("removed_at", "fitted_at"))


class Operations(pa.DataFrameModel):
    """A routing step carried out on a job (whole batch) or on one serial, by whom and when."""

    job_id: str
    op_seq: int
    op_code: str
    serial_number: str | None = pa.Field(nullable=True)
    work_centre: str | None = pa.Field(nullable=True)
    operator: str
    started_at: UTC_DATETIME = utc_field()
    finished_at: UTC_DATETIME = utc_field()
    result: str = pa.Field(isin=OPERATION_RESULT)
    equipment_id: str | None = pa.Field(nullable=True)

    @pa.dataframe_check(name="finished_at >= started_at")
    def finished_after_started(cls, data: pa.PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(_not_before("finished_at", "started_at"))


class Ncrs(pa.DataFrameModel):
    """A nonconformance report: what was wrong, with what, and what was decided."""

    ncr_id: str
    raised_at: UTC_DATETIME = utc_field()
    raised_by: str
    job_id: str | None = pa.Field(nullable=True)
    serial_number: str | None = pa.Field(nullable=True)
    component_code: str | None = pa.Field(nullable=True)
    lot_number: str | None = pa.Field(nullable=True)
    supplier: str | None = pa.Field(nullable=True)
    defect_code: str
    description: str
    disposition: str = pa.Field(isin=NCR_DISPOSITION)
    closed_at: UTC_DATETIME | None = utc_field(nullable=True)
    closed_by: str | None = pa.Field(nullable=True)
    retest_ref: str | None = pa.Field(nullable=True)

    @pa.dataframe_check(name="closed_at >= raised_at")
    def closed_after_raised(cls, data: pa.PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(_not_before("closed_at", "raised_at"))


class Ecns(pa.DataFrameModel):
    """An engineering change notice moving a product from one revision to another."""

    ecn_id: str
    product_code: str
    from_revision: str
    to_revision: str
    effective_at: UTC_DATETIME = utc_field()
    approved_by: str
    description: str
    affected_ops: str | None = pa.Field(nullable=True)


class JobEcns(pa.DataFrameModel):
    """An ECN applied to a job, by whom, when, and which record pages it touched."""

    job_id: str
    ecn_id: str
    applied_at: UTC_DATETIME = utc_field()
    applied_by: str
    pages: str | None = pa.Field(nullable=True)


class FirmwareLoads(pa.DataFrameModel):
    """Firmware loaded into a unit, and whether that build was approved for release."""

    serial_number: str
    firmware_version: str
    build_id: str
    loaded_at: UTC_DATETIME = utc_field()
    loaded_by: str
    release_approved: bool


class LabelChecks(pa.DataFrameModel):
    """A check of the printed label (GS1 element string or UDI) against the unit."""

    serial_number: str
    label_data: str
    checked_at: UTC_DATETIME = utc_field()
    checked_by: str
    result: str = pa.Field(isin=PASS_FAIL)


class Signoffs(pa.DataFrameModel):
    """A signature: who signed which record, when, and what the signature means (21 CFR 11.50)."""

    record_type: str = pa.Field(isin=SIGNOFF_RECORD_TYPES)
    record_id: str
    role: str = pa.Field(isin=SIGNOFF_ROLES)
    signed_by: str
    signed_at: UTC_DATETIME = utc_field()
    meaning: str


class Shipments(pa.DataFrameModel):
    """A unit shipped to a customer on an order."""

    serial_number: str
    customer: str
    order_ref: str
    shipped_at: UTC_DATETIME = utc_field()
    ship_to_country: str | None = pa.Field(nullable=True)
