"""Contracts of the master records (the MBR side): products, MBRs, their BOMs and operations, equipment."""

from __future__ import annotations

import pandera.polars as pa

from tracelake.contracts.base import UTC_DATETIME, utc_field

__all__ = ["EQUIPMENT_STATUS", "Equipment", "Mbr", "MbrBom", "MbrOperations", "Products"]

MBR_STATUS = ["draft", "approved", "superseded"]
EQUIPMENT_KINDS = ["gauge", "meter", "rig", "tool"]
#: v2: whether a piece of equipment may be used; anything but ``active`` is out of service
EQUIPMENT_STATUS = ["active", "inactive", "out_for_repair", "scrapped", "missing"]


class Products(pa.DataFrameModel):
    """A product the plant makes."""

    product_code: str
    description: str
    gtin: str | None = pa.Field(nullable=True, str_matches=r"^\d{8}$|^\d{12,14}$")
    serialised: bool


class Mbr(pa.DataFrameModel):
    """A revision of a product's Master Batch Record."""

    product_code: str
    mbr_revision: str
    drawing_revision: str
    status: str = pa.Field(isin=MBR_STATUS)
    approved_by: str | None = pa.Field(nullable=True)
    approved_at: UTC_DATETIME | None = utc_field(nullable=True)
    effective_from: UTC_DATETIME | None = utc_field(nullable=True)


class MbrBom(pa.DataFrameModel):
    """A line of the bill of materials of one MBR revision."""

    product_code: str
    mbr_revision: str
    line_no: int
    component_code: str
    component_revision: str
    qty_per: float = pa.Field(gt=0)
    uom: str | None = pa.Field(nullable=True)
    serialised: bool | None = pa.Field(nullable=True)
    critical: bool | None = pa.Field(nullable=True)


class MbrOperations(pa.DataFrameModel):
    """A step of the routing of one MBR revision, with its acceptance criteria."""

    product_code: str
    mbr_revision: str
    op_seq: int
    op_code: str
    description: str
    work_centre: str | None = pa.Field(nullable=True)
    acceptance_criteria: str | None = pa.Field(nullable=True)
    first_article: bool | None = pa.Field(nullable=True)
    needs_calibrated_equipment: bool | None = pa.Field(nullable=True)


class Equipment(pa.DataFrameModel):
    """A rig, gauge, meter or tool that measures or makes product."""

    equipment_id: str
    description: str
    kind: str | None = pa.Field(nullable=True, isin=EQUIPMENT_KINDS)
    location: str | None = pa.Field(nullable=True)
    status: str = pa.Field(isin=EQUIPMENT_STATUS)  # v2; empty is ``active`` (see DEFAULTS)
    calibration_required: bool  # v2; empty is true: no calibration means never overdue

