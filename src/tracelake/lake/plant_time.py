"""Times as the plant reads them: the lake stores UTC, people sign and audit in plant-local time."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import duckdb

__all__ = ["plant_zone", "stamp"]

DEFAULT_ZONE = "Europe/London"


def plant_zone(con: duckdb.DuckDBPyConnection) -> ZoneInfo:
    """The plant's time zone: the one the latest ingest run read local times in."""
    try:
        row = con.execute("SELECT timezone FROM ingest_runs WHERE timezone IS NOT NULL "
                          "ORDER BY started_at DESC LIMIT 1").fetchone()
    except duckdb.CatalogException:
        row = None
    return ZoneInfo(row[0] if row and row[0] else DEFAULT_ZONE)


def stamp(value: dt.datetime | dt.date | None, zone: ZoneInfo, *, seconds: bool = False) -> str:
    """``2026-10-22 11:52 BST``: a UTC timestamp in plant-local time with its zone's abbreviation."""
    if value is None:
        return "—"
    if not isinstance(value, dt.datetime):
        return value.isoformat()
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    local = value.astimezone(zone)
    return local.strftime("%Y-%m-%d %H:%M:%S %Z" if seconds else "%Y-%m-%d %H:%M %Z")
