"""A planted lot effect: one component lot whose finished devices read higher on one
measurement, for testing ``tracelake lot-effects`` (``generate --lot-shift SD``).

Off by default. After the plant is written, the lot the summary's facts pick (a sensor-element
lot fitted per module, so the effect reaches the devices two levels up; the battery lot of the
devices when the plant has no module level) gets ``shift_sd`` standard deviations of the
first end-of-line measurement added to every passing result of that measurement on the
devices holding it now (clipped inside the limits, so no result changes its verdict).
The test_results files are rewritten in place; every other byte stays as written.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import polars as pl

if TYPE_CHECKING:
    from tracelake.synthetic.summary import PlantSummary

__all__ = ["LotShift", "plant_lot_shift"]

#: the step whose measurements are shifted (the finished devices' end-of-line test)
STEP = "EOL"


@dataclass(frozen=True)
class LotShift:
    """The planted effect: which lot, which measurement, by how much, on which devices."""

    component_code: str
    lot_number: str
    test_step: str
    measurement: str
    shift: float  # in the measurement's units
    shift_sd: float  # in standard deviations of the measurement
    serials: tuple[str, ...]


def plant_lot_shift(summary: PlantSummary, shift_sd: float) -> LotShift:
    """Shift one lot's devices on one measurement by ``shift_sd`` standard deviations."""
    facts = {f.component_code: f for f in summary.lot_facts}
    fact = facts.get("SEN-PT100") or facts["BAT-LI18650"]
    paths = summary.table_files["test_results"]
    frames = [pl.read_csv(p, infer_schema=False) for p in paths]
    eol = pl.concat(frames).filter(pl.col("test_step") == STEP)
    measurement = sorted(eol["measurement"].unique().to_list())[0]
    passing = eol.filter((pl.col("measurement") == measurement) & (pl.col("result") == "pass"))
    sd = float(passing["value"].cast(pl.Float64).std() or 0.0)
    shift = shift_sd * sd
    serials = set(fact.finished_serials)
    hit = (pl.col("test_step") == STEP) & (pl.col("measurement") == measurement) \
        & (pl.col("result") == "pass") & pl.col("serial_number").is_in(list(serials))
    low, high = pl.col("low_limit").cast(pl.Float64), pl.col("high_limit").cast(pl.Float64)
    moved = (pl.col("value").cast(pl.Float64) + shift).clip(low + 0.002 * (high - low),
                                                            high - 0.002 * (high - low))
    for path, frame in zip(paths, frames, strict=True):
        frame.with_columns(pl.when(hit).then(moved.round(4).cast(pl.String))
                           .otherwise(pl.col("value")).alias("value")).write_csv(path)
    return LotShift(fact.component_code, fact.lot_number, STEP, measurement, shift, shift_sd,
                    tuple(sorted(serials)))
