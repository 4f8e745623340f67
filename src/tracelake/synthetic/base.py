"""What every part of the generator shares: time units, unit statuses, the plant's rates and
step timings, array helpers, and the per-level arrays (_Level) and lot streams (_Stream)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import polars as pl

from tracelake.synthetic import catalog as cat

MIN = 60
HOUR = 3600
DAY = 86400
_TS_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
_NAT = np.iinfo(np.int64).min
_I64 = np.int64
# Unit statuses (index into this tuple) and top-level job phases.
_STATUS = ("shipped", "released", "passed", "wip", "scrapped", "quarantined")
_SHIPPED, _RELEASED, _PASSED, _WIP, _SCRAPPED, _QUARANTINED = range(6)
_EOL_FAIL_RATE = 0.02
_EOL_SCRAP_SHARE = 0.1
_PCBA_SCRAP_RATE = 0.003
_HELD_IN_STOCK = 0.02

# Batch operation windows: op_code -> (start offset from job start, end offset, end is
# relative to the job end (True) or to the op start (False)).
_OP_WINDOWS: dict[str, tuple[int, int, bool]] = {
    "KIT": (-3 * HOUR, HOUR, False),
    "SMT": (-10 * MIN, 0, True),
    "REFLOW": (-5 * MIN, 10 * MIN, True),
    "AOI": (0, 20 * MIN, True),
    "ICT": (5 * MIN, 40 * MIN, True),
    "ASSY": (-20 * MIN, 0, True),
    "CAL": (10 * MIN, 30 * MIN, True),
    "INSP": (20 * MIN, HOUR, True),
    "FW": (40 * MIN, 70 * MIN, True),
    "LABEL": (2 * HOUR, 5 * HOUR, True),
    "PACK": (3 * HOUR, 7 * HOUR, True),
}


# First article: inspected 5 min after the unit is built, signed 20 min after; the unit is
# built at least an hour before the next one of its job, so the rest of the job starts the
# first-article step (at most 20 min before it is built) after the signature.
_FA_INSPECTED = 5 * MIN


_FA_SIGNED = 20 * MIN


_FA_LEAD = HOUR


# Per-unit measurement at a sub-assembly's batch test step, minutes after the unit is built
# (inside the step's batch window of _OP_WINDOWS).
_UNIT_TEST_AT: dict[str, int] = {"ICT": 25 * MIN, "CAL": 15 * MIN}


# First-article measurements per level kind: (name, units, low, high, mean, sd, equipment).
_FAI: dict[str, tuple[tuple[str, str, float, float, float, float, tuple[str, ...]], ...]] = {
    "pcba": (("placement_offset", "mm", 0.0, 0.05, 0.02, 0.006, ("AOI-01",)),),
    "module": (("bracket_height", "mm", 11.8, 12.2, 12.0, 0.04, ("GAU-HGT-01",)),),
    "top": (
        ("housing_gap", "mm", 0.2, 0.6, 0.4, 0.04, ("GAU-CAL-01", "GAU-CAL-02")),
        ("screw_torque", "N·m", 0.9, 1.1, 1.0, 0.02, ("TRQ-01", "TRQ-02")),
    ),
}


def _ts(seconds: np.ndarray, null: np.ndarray | None = None) -> pl.Series:
    """Epoch seconds -> polars Datetime; rows where ``null`` is True become empty."""
    ms = seconds.astype(_I64) * 1000
    if null is not None and null.any():
        ms = ms.copy()
        ms[null] = _NAT
    return pl.Series(ms.view("datetime64[ms]"))


def _take(values: list[str] | pl.Series, idx: np.ndarray) -> pl.Series:
    """``values[idx]`` as a string Series, empty where ``idx < 0``."""
    src = values if isinstance(values, pl.Series) else pl.Series(values, dtype=pl.String)
    if src.len() == 0:
        return pl.Series([None] * len(idx), dtype=pl.String)
    ix = pl.Series(np.maximum(idx, 0).astype(_I64))
    neg = idx < 0
    if neg.any():
        ix = ix.set(pl.Series(neg), None)
    return src.gather(ix)


def _partition(
    total: int, lo: int, hi: int, rng: np.random.Generator, *, even_tail: bool
) -> np.ndarray:
    """Sizes in [lo, hi] summing to ``total``; the tail is merged or halved if ``even_tail``."""
    if total <= 0:
        return np.zeros(0, dtype=_I64)
    if even_tail and total <= hi:
        return np.array([total], dtype=_I64)
    sizes = rng.integers(lo, hi + 1, size=total // lo + 2).astype(_I64)
    cum = np.cumsum(sizes)
    k = int(np.searchsorted(cum, total))
    sizes = sizes[: k + 1].copy()
    sizes[-1] -= int(cum[k]) - total
    if even_tail and len(sizes) > 1 and sizes[-1] < lo:
        both = int(sizes[-2] + sizes[-1])
        if both <= hi:
            sizes = np.append(sizes[:-2], both)
        else:
            sizes[-2], sizes[-1] = both - both // 2, both // 2
    return sizes


def _runs(*keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start positions and lengths of runs of equal consecutive key tuples."""
    n = len(keys[0])
    change = np.zeros(n, dtype=bool)
    if n:
        change[0] = True
        for k in keys:
            change[1:] |= k[1:] != k[:-1]
    starts = np.flatnonzero(change)
    return starts, np.diff(np.append(starts, n))


@dataclass
class _Level:
    """Arrays of one serialised level; unit index = build order (scrapped PCBAs included)."""

    spec: cat.LevelSpec
    t: np.ndarray  # built_at, epoch seconds
    scrap: np.ndarray  # scrapped (never fitted)
    good: np.ndarray  # indices of fittable units, in order; position = consumption rank
    job: np.ndarray  # local job index per unit
    job_first: np.ndarray  # first unit of each local job
    job_sizes: np.ndarray
    job_product: np.ndarray  # product index per local job
    job_start: np.ndarray
    job_end: np.ndarray
    job_rest_start: np.ndarray  # first build time after the first article (NAT: single unit)
    job_gid: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=_I64))
    job_links: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=_I64))
    unit_lots: dict[str, np.ndarray] = field(default_factory=dict)  # code -> global lot id
    status: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int8))

    @property
    def n(self) -> int:
        return len(self.t)

    @property
    def unit_product(self) -> np.ndarray:
        return self.job_product[self.job]


@dataclass
class _Stream:
    """FIFO lot stream of one component code at one level."""

    comp: cat.Component
    level: int
    lot0: int  # global id of its first lot
    n_lots: int
    seg_job: np.ndarray  # job-level streams: local job per (job, lot) segment
    seg_lot: np.ndarray  # global lot id per segment
    hub_lot: int = -1
