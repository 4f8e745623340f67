"""The generator's options: the tables it writes and the shape of the plant (PlantOptions)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

TABLES: tuple[str, ...] = (
    "products",
    "mbr",
    "mbr_bom",
    "mbr_operations",
    "equipment",
    "calibrations",
    "jobs",
    "bom_snapshot",
    "material_issues",
    "units",
    "unit_components",
    "operations",
    "test_results",
    "ncrs",
    "ecns",
    "job_ecns",
    "firmware_loads",
    "label_checks",
    "signoffs",
    "shipments",
)


@dataclass(frozen=True)
class PlantOptions:
    """Shape of the synthetic plant; the defaults are the normal shape, the rest are the
    adversarial switches of perf-notes §4."""

    shuffle_rows: bool = False  # write each file's rows in shuffled order
    serial_prefix: str = ""  # e.g. "SN0000000": text serials sharing a long common prefix
    hub_lot_share: float = 0.0  # share of devices fed by one solder-paste hub lot
    rework_rate: float = 0.01  # share of devices with a module removed and replaced
    bom_depth: int = 3  # serialised levels, finished device included (2..8)
    start: datetime = datetime(2024, 1, 1, tzinfo=UTC)  # plant start
    measurements_per_unit: int = 5  # EOL measurements per device and attempt
    rows_per_file: int = 2_000_000  # split a table into numbered files beyond this
    lot_shift: float = 0.0  # > 0: plant a lot effect of this many SDs (synthetic/lot_shift.py)

    def __post_init__(self) -> None:
        if not 2 <= self.bom_depth <= 8:
            raise ValueError(f"bom_depth must be 2..8, got {self.bom_depth}")
        if not 0.0 <= self.hub_lot_share <= 1.0:
            raise ValueError("hub_lot_share must be within 0..1")
        if not 0.0 <= self.rework_rate <= 0.5:
            raise ValueError("rework_rate must be within 0..0.5")
        if self.measurements_per_unit < 1:
            raise ValueError("measurements_per_unit must be >= 1")
        if self.lot_shift < 0:
            raise ValueError("lot_shift must be >= 0")
        if self.rows_per_file < 1:
            raise ValueError("rows_per_file must be >= 1")
        if self.start.tzinfo is None:
            raise ValueError("start must be timezone-aware")
        if any(c in self.serial_prefix for c in ',"\n\r'):
            raise ValueError("serial_prefix must not contain commas, quotes or newlines")
