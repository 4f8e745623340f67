"""Contracts added in v2: goods-in lots (supplier, certificate, expiry) and customers (recall contacts)."""

from __future__ import annotations

import pandera.polars as pa

from tracelake.contracts.base import UTC_DATETIME, utc_field

__all__ = ["LOT_INSPECTION_STATUS", "LOT_UNUSABLE", "Customers", "Lots"]

LOT_INSPECTION_STATUS = ["pending", "accepted", "rejected", "on_hold", "recalled"]
#: a lot used while in one of these states is a finding
LOT_UNUSABLE = ["rejected", "on_hold", "recalled"]


class Lots(pa.DataFrameModel):
    """A lot of a bought-in component as received: supplier, supplier's lot, certificate, expiry."""

    component_code: str
    lot_number: str
    supplier: str
    supplier_lot: str | None = pa.Field(nullable=True)
    received_at: UTC_DATETIME = utc_field()
    quantity: float | None = pa.Field(nullable=True, gt=0)
    uom: str | None = pa.Field(nullable=True)
    expires_at: UTC_DATETIME | None = utc_field(nullable=True)
    certificate_ref: str | None = pa.Field(nullable=True)
    inspection_status: str | None = pa.Field(nullable=True, isin=LOT_INSPECTION_STATUS)


class Customers(pa.DataFrameModel):
    """A customer as ``shipments.customer`` names it, with whom to reach in a recall."""

    customer: str
    contact_name: str | None = pa.Field(nullable=True)
    email: str | None = pa.Field(nullable=True)
    phone: str | None = pa.Field(nullable=True)
    address: str | None = pa.Field(nullable=True)
    country: str | None = pa.Field(nullable=True)
    account_ref: str | None = pa.Field(nullable=True)
