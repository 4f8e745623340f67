"""What a table contract is: a Pandera model plus what Pandera cannot say (natural key, references).

The Pandera model (``pandera.polars.DataFrameModel``) is the single source of truth for a table's
columns, types, required fields, allowed values and ranges; :class:`TableContract` adds the natural
key used for upserts and within-file uniqueness, and the references checked for orphans.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import pandera.polars as pa
import polars as pl
from pandera.engines import polars_engine

__all__ = ["UTC_DATETIME", "Reference", "TableContract", "utc_field"]

#: Every timestamp in the lake is stored in UTC; plant-local times are converted on the way in.
UTC_DATETIME = polars_engine.DateTime


def utc_field(*, nullable: bool = False, **kwargs: object) -> object:
    """A Pandera field for a timestamp held as UTC microseconds."""
    return pa.Field(nullable=nullable, dtype_kwargs={"time_zone": "UTC", "time_unit": "us"},
                    **kwargs)  # type: ignore[arg-type]


@dataclass(frozen=True)
class Reference:
    """Columns of this table that name a record of another table (an orphan if it is unknown)."""

    columns: tuple[str, ...]
    table: str
    target_columns: tuple[str, ...]
    kind: str  # job, serial, lot, equipment, product, ecn, ncr


@dataclass(frozen=True)
class TableContract:
    """A canonical table of the import contract."""

    name: str
    family: str  # master, executed, rig_logs, calibration
    model: type[pa.DataFrameModel]
    natural_key: tuple[str, ...]
    references: tuple[Reference, ...] = field(default=())
    #: Columns added by tracelake beyond the import contract (derived, never required).
    derived: tuple[str, ...] = field(default=())
    #: v2: what an empty (or absent) cell of a column means, as the contract says
    #: (``equipment.status`` empty is ``active``); such a column is never missing from a file
    defaults: tuple[tuple[str, str], ...] = field(default=())

    @cached_property
    def schema(self) -> pa.DataFrameSchema:
        """The Pandera schema behind the model."""
        return self.model.to_schema()

    @cached_property
    def dtypes(self) -> dict[str, pl.DataType]:
        """Column name to polars dtype, in contract order."""
        return {name: col.dtype.type for name, col in self.schema.columns.items()}

    @cached_property
    def columns(self) -> tuple[str, ...]:
        """The canonical columns, in contract order."""
        return tuple(self.schema.columns)

    @cached_property
    def input_columns(self) -> tuple[str, ...]:
        """The columns a source file may carry (the contract's, not the derived ones)."""
        return tuple(c for c in self.columns if c not in self.derived)

    @cached_property
    def required(self) -> tuple[str, ...]:
        """Columns that must be present in a file and filled on every row (``*`` in the contract)."""
        defaulted = {name for name, _ in self.defaults}
        return tuple(n for n, c in self.schema.columns.items()
                     if c.required and not c.nullable and n not in defaulted)

    @cached_property
    def allowed_values(self) -> dict[str, list[str]]:
        """Columns restricted to a set of values, with the set."""
        out: dict[str, list[str]] = {}
        for name, col in self.schema.columns.items():
            for check in col.checks:
                if check.name == "isin":
                    out[name] = list(check.statistics["allowed_values"])
        return out
