"""Synthetic plant generator: a deterministic, contract-exact set of CSV exports.

``generate_plant(out_dir, units, seed)`` writes one CSV file per import-contract table (split
into ``<table>-0001.csv``, ``-0002.csv``, ... past ``rows_per_file``) for a plant that built
``units`` finished devices. It exists for tests, demos and the ``tracelake-bench`` tiers
(perf-notes §1 and §4), so it is vectorised: columns are numpy arrays turned into strings by
polars, and only per-job, per-lot or per-equipment loops run in Python.

Genealogy shape (``bom_depth`` = 3, the default; perf-notes §1)::

    DEV-A / DEV-B (L3)  <- 2 x MOD-SENSE serial + BAT-LI18650 lot   (unit_components, per unit)
                        <- ENC-A|ENC-B, SCR-M3X8, LBL-UDI lots       (material_issues, per job)
    MOD-SENSE (L2)      <- 1 x PCBA-CTRL serial + SEN-PT100 lot      (unit_components, per unit)
                        <- CBL-HARN, GSK-SIL, SCR-M2X5, ADH-EPOXY, BRK-AL lots (per job)
    PCBA-CTRL (L1)      <- PCB-BARE, PASTE-SAC305, IC-MCU-32, CON-USBC lots   (per job)

Link grain. Serialised sub-assemblies and *critical* lots (battery, sensor element) are
unit-level fitments: one ``unit_components`` row per unit, with the exact serial or lot.
Every other lot reaches its units through the job only: it is issued to the job
(``material_issues``) and, as MRP exports record it, reaches every unit of that job.
Critical lots are *also* issued to the job (stores issue every lot; and the lake only knows a
lot it has seen issued), so the trace rule the generator's facts follow is:

    unit U consumed lot (c, l)  iff  U has a unit_components row (c, l), or
                                     U has no unit_components row for code c at all
                                     and U's job was issued (c, l).

A device therefore has 28 links at depth 3 (7 unit rows + 21 job-level lines), plus one
extra job-level link for each line where its job straddled a FIFO lot change (~5-10 %).
Intermediate levels (depth 4..8) repeat the MOD shape (1 serial + 6 lots).

Other rules worth knowing:

* Lots are consumed first-in first-out per component code in build order; a lot feeds
  1,000-5,000 units of its level; lot strings are unique only within a component code and
  deliberately repeat across codes (``L100001`` is both an M3 and an M2 screw lot).
* Serials are ``<serial_prefix><level letter><7+ digits>`` (``D`` device, ``M`` module,
  ``P`` PCBA, ``C``.. intermediate levels), numbered in build order.
* Rework (``rework_rate`` of devices): an NCR, the original module row gets ``removed_at`` /
  ``removed_by`` / ``removal_ncr_id``, a replacement is fitted. The replacement is the module
  removed by the previous rework, repaired (so serials are re-consumed); the first one comes
  from a spare; the last removed module stays ``quarantined``.
* ``hub_lot_share`` > 0: one solder-paste lot is issued to whole PCBA jobs adding up to about
  that share of PCBAs, hence of devices (at least one job, so small plants overshoot).
* Per device: 2 per-unit operations (ASSY, plus one EOL row per attempt), ``measurements_per_unit``
  EOL results per attempt, one firmware load (0.3 % preceded by an unapproved engineering
  build), one label check (0.3 % failed first). Sub-assemblies are recorded by batch
  operations, and every unit has one result at its test step (PCBA ``rail_3v3`` at ICT on
  RIG-ICT-01, module ``offset_after_cal`` at CAL on DMM-01/02).
* First article: the first unit of every job is built at least an hour before the next one,
  inspected (first-article results, ``test_step`` ``FAI-<op_seq>``) and signed off by an
  inspector (``signoffs`` record ``job_id/op_seq/serial``) before any other unit of the job
  starts the first-article step. At a batch step the first article has its own operation row
  and the batch row (the rest of the job) starts after the signature.
* NCRs are closed before the job's batch record review and release; only supplier NCRs
  raised in the last 5 % of the span (no job) stay ``pending``. ECNs are applied to every job
  built to the old revision that was open when the ECN took effect.
* A few PCBAs fail ICT and are scrapped (never fitted); ~2 % of devices fail EOL once and are
  retested, a tenth of those are scrapped. The last top-level job is ``in_progress`` (units
  ``wip``), the one before ``complete`` (units ``passed``), the rest ``released`` with units
  ``shipped`` except the newest 3 % and a random 2 % still in stock (``released``).
  Planned / on_hold / cancelled jobs without units are added.
* ``jobs.released_at`` is the QA batch release (top-level jobs only); sub-assembly jobs end
  ``complete`` with a batch-record-review signoff.
* Timestamps are UTC with ``Z``. Production starts a few days after ``options.start`` and
  runs ``clip(units / 400, 60, 1825)`` days; calibration records begin up to a year earlier.
* Existing ``<table>.csv`` / ``<table>-NNNN.csv`` files in ``out_dir`` are replaced; other
  files are left alone.

Planted defects. The records are clean under the findings rules (``tracelake.derived.findings``)
except for calibration: yearly calibrations find ~5 % of equipment out of tolerance, and
RIG-EOL-01 has one unscheduled out-of-tolerance find mid-span, so every job measured with such
an item since its previous calibration gets one ``calibration_out_of_tolerance`` finding per
find (the ISO 13485 7.6 impact assessment; ``tracelake impact calibration``). A small plant
may have none.

The returned :class:`PlantSummary` carries known-good facts (a lot and the finished serials
containing it, a serial and its ancestors, links per unit) computed from the generated arrays,
and ``planted``: every finding the plant should raise.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import polars as pl

from tracelake.synthetic import catalog as cat

__all__ = [
    "TABLES",
    "LotFact",
    "PlantOptions",
    "PlantSummary",
    "PlantedFinding",
    "SerialFact",
    "generate_plant",
]

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

    def __post_init__(self) -> None:
        if not 2 <= self.bom_depth <= 8:
            raise ValueError(f"bom_depth must be 2..8, got {self.bom_depth}")
        if not 0.0 <= self.hub_lot_share <= 1.0:
            raise ValueError("hub_lot_share must be within 0..1")
        if not 0.0 <= self.rework_rate <= 0.5:
            raise ValueError("rework_rate must be within 0..0.5")
        if self.measurements_per_unit < 1:
            raise ValueError("measurements_per_unit must be >= 1")
        if self.rows_per_file < 1:
            raise ValueError("rows_per_file must be >= 1")
        if self.start.tzinfo is None:
            raise ValueError("start must be timezone-aware")
        if any(c in self.serial_prefix for c in ',"\n\r'):
            raise ValueError("serial_prefix must not contain commas, quotes or newlines")


@dataclass(frozen=True)
class LotFact:
    """A lot and the finished serials that contain it.

    ``grain`` is ``"unit"`` (fitted per unit) or ``"job"`` (issued to jobs). ``finished_serials``
    follows the current genealogy (fitments not removed); ``finished_serials_ever`` also
    follows fitments later removed by rework.
    """

    component_code: str
    lot_number: str
    level: int
    grain: str
    finished_serials: tuple[str, ...]
    finished_serials_ever: tuple[str, ...]


@dataclass(frozen=True)
class SerialFact:
    """A finished serial (never reworked) and everything in its current genealogy."""

    serial_number: str
    serials: tuple[str, ...]  # ancestor sub-assembly serials
    lots: tuple[tuple[str, str], ...]  # ancestor (component_code, lot_number) pairs


@dataclass(frozen=True)
class PlantedFinding:
    """A finding the plant carries on purpose, keyed as the findings engine reports it."""

    rule: str
    job_id: str
    record: str  # e.g. "calibrations:RIG-EOL-01/CAL-2024-00003"
    why: str


@dataclass
class PlantSummary:
    """What :func:`generate_plant` wrote, plus known-good facts for tests."""

    out_dir: Path
    units: int
    seed: int
    options: PlantOptions
    files: list[Path] = field(default_factory=list)  # every file written, in write order
    table_files: dict[str, list[Path]] = field(default_factory=dict)  # the same, per table
    rows: dict[str, int] = field(default_factory=dict)
    links_per_unit: float = 0.0  # mean links per finished unit, current genealogy
    reworked: int = 0
    lot_facts: list[LotFact] = field(default_factory=list)
    serial_fact: SerialFact | None = None
    hub_fact: LotFact | None = None
    planted: list[PlantedFinding] = field(default_factory=list)  # every finding it should raise


def generate_plant(
    out_dir: Path,
    units: int,
    seed: int = 0,
    *,
    options: PlantOptions | None = None,
    progress: Callable[[str, int], None] | None = None,
) -> PlantSummary:
    """Write a synthetic plant of ``units`` finished devices to ``out_dir`` as CSV files.

    The same (units, seed, options) always gives the same bytes. ``progress(table, rows)``
    is called after each table is written.
    """
    if units < 1:
        raise ValueError("units must be >= 1")
    plant = _Plant(Path(out_dir), int(units), int(seed), options or PlantOptions(), progress)
    return plant.run()


# ------------------------------------------------------------------------------------------
# helpers


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


class _Plant:
    """One generation run: builds the arrays, writes the tables, derives the facts."""

    def __init__(
        self,
        out_dir: Path,
        n: int,
        seed: int,
        opts: PlantOptions,
        progress: Callable[[str, int], None] | None,
    ) -> None:
        self.out = out_dir
        self.n = n
        self.seed = seed
        self.opts = opts
        self.progress = progress
        self.depth = opts.bom_depth
        self.summary = PlantSummary(out_dir, n, seed, opts)
        self.start_s = int(opts.start.timestamp())
        self.span = int(np.clip(n / 400, 60, 1825)) * DAY
        self.step = self.span / n
        self.lead = DAY + int(self.step)  # build lead per BOM level
        self.t0 = self.start_s + self.depth * self.lead + DAY
        self.t_end = self.t0 + self.span + DAY
        self.n_rework = round(opts.rework_rate * n)
        self.spare = 1 if self.n_rework else 0
        self.specs = cat.build_levels(self.depth)
        self.levels: list[_Level] = []
        self.lot_strs: list[str] = []
        self.lot_supplier: list[str] = []
        self.lot_supplier_lot: list[str] = []
        self.lot_code: list[str] = []
        self.streams: dict[tuple[int, str], _Stream] = {}
        self.issue_frames: list[pl.DataFrame] = []
        self.serial_strs: dict[int, pl.Series] = {}  # level -> serial of every unit
        # every measurement: (equipment ids, index into them, tested_at, job gid) per frame
        self.uses: list[tuple[tuple[str, ...], np.ndarray, np.ndarray, np.ndarray]] = []

    def rng(self, tag: str) -> np.random.Generator:
        """An independent RNG per purpose, so one table's draws never shift another's."""
        return np.random.default_rng([self.seed, zlib.crc32(tag.encode())])

    # -- serial strings ------------------------------------------------------------------

    def serials(self, level: int, idx: np.ndarray) -> pl.Series:
        """Serial strings for units ``idx`` of ``level`` (1-based); empty where idx < 0."""
        every = self.serial_strs.get(level)
        if every is None:  # formatted once per level, then gathered (tables repeat serials)
            spec = self.specs[level - 1]
            n = self.levels[level - 1].n
            s = pl.Series(np.arange(n, dtype=_I64) + 1).cast(pl.String).str.zfill(self.width)
            every = self.serial_strs[level] = (self.opts.serial_prefix + spec.serial_letter) + s
        return _take(every, idx)

    def serial(self, level: int, i: int) -> str:
        letter = self.specs[level - 1].serial_letter
        return f"{self.opts.serial_prefix}{letter}{i + 1:0{self.width}d}"

    # -- run -----------------------------------------------------------------------------

    def run(self) -> PlantSummary:
        self.out.mkdir(parents=True, exist_ok=True)
        self._clear_old_files()
        self._build_levels()
        self.width = max(7, len(str(max(lv.n for lv in self.levels) + 1)))
        self._build_jobs()
        self._build_lots()
        self._build_top_events()
        self._build_rework()
        self._build_statuses()
        self._build_ncrs()
        self._write_master()
        self._write_jobs()
        self._write_material_issues()
        self._write_units()
        self._write_unit_components()
        self._write_operations()
        self._write_test_results()
        self._write_ncrs()
        self._write_ecns()
        self._write_firmware_and_labels()
        self._write_signoffs()
        self._write_shipments()
        self._derive_facts()
        return self.summary

    def _clear_old_files(self) -> None:
        for table in TABLES:
            numbered = self.out.glob(f"{table}-[0-9][0-9][0-9][0-9].csv")
            for p in [self.out / f"{table}.csv", *numbered]:
                if p.is_file():
                    p.unlink()

    def _write(self, table: str, df: pl.DataFrame) -> None:
        """Write ``df`` as ``table`` (split past ``rows_per_file``) and record it."""
        if self.opts.shuffle_rows and df.height > 1:
            df = df[self.rng(f"shuffle:{table}").permutation(df.height)]
        per = self.opts.rows_per_file
        parts = max(1, math.ceil(df.height / per))
        paths: list[Path] = []
        for i in range(parts):
            path = self.out / (f"{table}.csv" if parts == 1 else f"{table}-{i + 1:04d}.csv")
            df.slice(i * per, per).write_csv(
                path,
                datetime_format=_TS_FORMAT,
                date_format="%Y-%m-%d",
                float_scientific=False,
            )
            paths.append(path)
        self.summary.files.extend(paths)
        self.summary.table_files[table] = paths
        self.summary.rows[table] = df.height
        if self.progress is not None:
            self.progress(table, df.height)

    # -- levels, jobs, lots --------------------------------------------------------------

    def _build_levels(self) -> None:
        n, s = self.n, self.spare
        rng = self.rng("levels")
        jitter_hi = max(1, int(min(self.step / 2, HOUR)))
        for spec in self.specs:
            if spec.top:
                n_good, pos, lead = n, np.arange(n, dtype=np.float64), 0
            else:
                n_good = 2 * n + s
                pos = (np.arange(n_good, dtype=np.float64) - s) / 2.0
                lead = (self.depth - spec.level) * self.lead
            t_good = (
                self.t0
                + np.floor(pos * self.step).astype(_I64)
                - lead
                + rng.integers(0, jitter_hi, n_good)
            )
            if spec.level == 1:  # a few PCBAs fail ICT: built, scrapped, never fitted
                n_scrap = max(1, round(n_good * _PCBA_SCRAP_RATE))
                scrap = np.zeros(n_good + n_scrap, dtype=bool)
                scrap[rng.choice(n_good + n_scrap, n_scrap, replace=False)] = True
                good = np.flatnonzero(~scrap)
                t = np.empty(len(scrap), dtype=_I64)
                t[good] = t_good
                before = np.cumsum(~scrap)[scrap] - 1  # good units built before each scrap
                t[scrap] = np.where(
                    before >= 0, t_good[np.maximum(before, 0)] + MIN, t_good[0] - MIN
                )
            else:
                scrap = np.zeros(n_good, dtype=bool)
                good = np.arange(n_good, dtype=_I64)
                t = t_good
            sizes = _partition(len(t), 50, 500, rng, even_tail=True)
            first = np.cumsum(sizes) - sizes
            # The first unit of a job is its first article: built, inspected and signed off
            # (_FA_SIGNED after it is built) before any other unit starts the step.
            others = t.copy()
            others[first] = np.iinfo(_I64).max
            rest = np.where(sizes > 1, np.minimum.reduceat(others, first), _NAT)
            t[first] = np.where(sizes > 1, np.minimum(t[first], rest - _FA_LEAD), t[first])
            if spec.top:
                product = (rng.random(len(sizes)) >= 0.65).astype(np.int8)
            else:
                product = np.zeros(len(sizes), dtype=np.int8)
            self.levels.append(
                _Level(
                    spec=spec,
                    t=t,
                    scrap=scrap,
                    good=good,
                    job=np.repeat(np.arange(len(sizes), dtype=_I64), sizes),
                    job_first=first,
                    job_sizes=sizes,
                    job_product=product,
                    job_start=np.minimum.reduceat(t, first),
                    job_end=np.maximum.reduceat(t, first),
                    job_rest_start=rest,
                )
            )

    def _build_jobs(self) -> None:
        """Global jobs (ids in creation order), top-level phases, MBR revisions, ECNs."""
        rng = self.rng("jobs")
        top = self.levels[-1]
        # ECN effective times per top product: rev 01 -> 02 -> 03.
        self.ecn_at = np.array(
            [
                [
                    self.t0 + int((0.35 + 0.05 * p) * self.span),
                    self.t0 + int((0.70 + 0.05 * p) * self.span),
                ]
                for p in (0, 1)
            ],
            dtype=_I64,
        )
        rows: list[pl.DataFrame] = []
        for li, lv in enumerate(self.levels):
            nj = len(lv.job_sizes)
            created = lv.job_start - rng.integers(DAY, 5 * DAY, nj)
            created -= created % MIN
            rows.append(
                pl.DataFrame(
                    {
                        "level": np.full(nj, li, dtype=_I64),
                        "local": np.arange(nj, dtype=_I64),
                        "product": lv.job_product.astype(_I64),
                        "created": created,
                        "quantity": lv.job_sizes,
                        "extra": np.full(nj, -1, dtype=_I64),
                    }
                )
            )
        # Jobs without units: 2 planned, 1 on hold, 1 cancelled (top level).
        extra_created = np.array(
            [
                self.t_end - 2 * DAY,
                self.t_end - DAY,
                self.t0 + int(0.8 * self.span),
                self.t0 + int(0.3 * self.span),
            ],
            dtype=_I64,
        )
        rows.append(
            pl.DataFrame(
                {
                    "level": np.full(4, len(self.levels) - 1, dtype=_I64),
                    "local": np.full(4, -1, dtype=_I64),
                    "product": rng.integers(0, 2, 4).astype(_I64),
                    "created": extra_created,
                    "quantity": rng.integers(100, 400, 4).astype(_I64),
                    "extra": np.arange(4, dtype=_I64),
                }
            )
        )
        jobs = pl.concat(rows).sort(["created", "level", "local", "extra"])
        jobs = jobs.with_row_index("gid").with_columns(pl.col("gid").cast(pl.Int64))
        for li, lv in enumerate(self.levels):
            part = jobs.filter((pl.col("level") == li) & (pl.col("local") >= 0)).sort("local")
            lv.job_gid = part["gid"].to_numpy()
        self.n_jobs = jobs.height
        self.job_ids = "WO-" + pl.Series(np.arange(self.n_jobs, dtype=_I64) + 100001).cast(
            pl.String
        )
        # Phases of top jobs from build position: 0 released (units shipped or held in
        # stock), 2 complete (awaiting QA release), 3 in progress. The last job is in
        # progress and the one before complete once there are 4+ jobs.
        nj = len(top.job_sizes)
        q_mid = (top.job_first + top.job_sizes / 2) / self.n
        from_end = nj - 1 - np.arange(nj)
        use_rank = nj >= 4
        phase = np.zeros(nj, dtype=np.int8)
        phase[(q_mid >= 0.99) | (use_rank & (from_end <= 1))] = 2
        phase[(q_mid >= 0.995) | (use_rank & (from_end == 0))] = 3
        self.top_phase = phase
        released = phase <= 1
        self.top_released_at = np.where(
            released, top.job_end + 8 * HOUR + rng.integers(0, 16 * HOUR, nj), _NAT
        )
        self.jobs = jobs

    def _rev_of(self, product: np.ndarray, created: np.ndarray, top: np.ndarray) -> np.ndarray:
        """MBR revision number (1-based) in force at ``created`` for each job."""
        p = np.clip(product, 0, 1)
        rev = 1 + (created >= self.ecn_at[p, 0]).astype(_I64) + (created >= self.ecn_at[p, 1])
        return np.where(top, rev, 1)

    def _build_lots(self) -> None:
        """FIFO lot streams per (level, component code); job-level issues and unit lots."""
        rng = self.rng("lots")
        sup_seq = 0
        for lv in self.levels:
            spec = lv.spec
            codes: dict[str, tuple[cat.Component, list[int]]] = {}
            for pi, lines in enumerate(spec.lines):
                for comp in lines:
                    codes.setdefault(comp.code, (comp, []))[1].append(pi)
            lv.job_links = np.zeros(len(lv.job_sizes), dtype=_I64)
            for code, (comp, prods) in codes.items():
                pos = np.flatnonzero(np.isin(lv.unit_product, prods))
                ns = len(pos)
                hub_lot = -1
                if spec.level == 1 and code == "PASTE-SAC305" and self.opts.hub_lot_share > 0:
                    # One jar feeds whole jobs: the hub lot starts and ends at job boundaries
                    # (this stream covers every PCBA, so stream rank = unit index).
                    bounds = np.append(lv.job_first, ns)
                    want = self.opts.hub_lot_share * ns
                    first_job = int(rng.integers(0, len(lv.job_first)))
                    hub_start = int(bounds[first_job])
                    hub_end = int(bounds[np.argmin(np.abs(bounds - hub_start - want))])
                    if hub_end <= hub_start:
                        hub_end = int(bounds[first_job + 1])
                    if hub_end - hub_start < want and hub_start > 0 and hub_end == ns:
                        hub_start = int(bounds[np.argmin(np.abs(bounds - (ns - want)))])
                    hub_len = hub_end - hub_start
                    after = ns - hub_end
                    before = _partition(hub_start, 1000, 5000, rng, even_tail=False)
                    sizes = np.concatenate(
                        [before, [hub_len], _partition(after, 1000, 5000, rng, even_tail=False)]
                    )
                    hub_lot = len(before)
                else:
                    sizes = _partition(ns, 1000, 5000, rng, even_tail=False)
                ends = np.cumsum(sizes)
                lot_of = np.searchsorted(ends, np.arange(ns), side="right")
                lot0 = len(self.lot_strs)
                first_t = lv.t[pos[ends - sizes]]
                suppliers = rng.integers(0, len(comp.suppliers), len(sizes))
                for k in range(len(sizes)):
                    made = datetime.fromtimestamp(int(first_t[k]) - 14 * DAY, UTC).isocalendar()
                    self.lot_strs.append(
                        cat.lot_string(comp.lot_style, comp.lot_base + k, made.year, made.week)
                    )
                    self.lot_supplier.append(comp.suppliers[suppliers[k]])
                    sup_seq += 1
                    self.lot_supplier_lot.append(f"S{sup_seq:07d}")
                    self.lot_code.append(code)
                gl = lot_of + lot0
                if comp.unit_level:  # exact lot per unit, as well as the store issue
                    arr = np.full(lv.n, -1, dtype=_I64)
                    arr[pos] = gl
                    lv.unit_lots[code] = arr
                # Store issues to jobs: one row per (job, lot) run of the FIFO stream.
                job_of = lv.job[pos]
                starts, counts = _runs(job_of, gl)
                seg_job, seg_lot = job_of[starts], gl[starts]
                first_of_job = np.ones(len(starts), dtype=bool)
                first_of_job[1:] = seg_job[1:] != seg_job[:-1]
                issued = lv.t[pos[starts]] - np.where(first_of_job, 2 * HOUR, 30 * MIN)
                issued -= issued % MIN
                if not comp.unit_level:
                    lv.job_links += np.bincount(seg_job, minlength=len(lv.job_sizes))
                gid = lv.job_gid[seg_job]
                self.issue_frames.append(
                    pl.DataFrame(
                        {
                            "gid": gid,
                            "component_code": pl.Series([code] * len(starts), dtype=pl.String),
                            "lot": seg_lot,
                            "quantity": np.round(counts * float(comp.qty_per), 3),
                            "uom": pl.Series([comp.uom] * len(starts), dtype=pl.String),
                            "issued_at_s": issued,
                            "issued_by_i": (gid + lot0) % len(cat.STOREKEEPERS),
                        }
                    )
                )
                self.streams[(spec.level, code)] = _Stream(
                    comp,
                    spec.level,
                    lot0,
                    len(sizes),
                    seg_job,
                    seg_lot,
                    hub_lot + lot0 if hub_lot >= 0 else -1,
                )

    # -- top-level events ----------------------------------------------------------------

    def _build_top_events(self) -> None:
        """EOL tests (with failures and retests), firmware loads, label checks."""
        rng = self.rng("eol")
        top = self.levels[-1]
        n = self.n
        phase = self.top_phase[top.job]
        self.tested = phase < 3
        fail1 = self.tested & (rng.random(n) < _EOL_FAIL_RATE)
        self.fail1 = fail1
        self.scrap_top = fail1 & (rng.random(n) < _EOL_SCRAP_SHARE)
        self.fail_meas = rng.integers(0, self.opts.measurements_per_unit, n)
        self.eol1_at = top.t + 90 * MIN + rng.integers(0, 30 * MIN, n)
        self.eol2_at = self.eol1_at + 2 * HOUR
        self.final_pass_at = np.where(fail1, self.eol2_at, self.eol1_at)
        self.fw_at = top.t + 60 * MIN

    def _build_rework(self) -> None:
        """Pick reworked devices; chain replacements (removed module -> next rework)."""
        rng = self.rng("rework")
        k = self.n_rework
        top = self.levels[-1]
        f = np.sort(rng.choice(self.n, k, replace=False)) if k else np.zeros(0, dtype=_I64)
        r = top.t[f] + 10 * MIN  # removal time
        order = np.argsort(r, kind="stable")
        self.rw_f, self.rw_at = f[order].astype(_I64), r[order]
        self.rw_slot = rng.integers(0, 2, k).astype(_I64)
        good = self.levels[-2].good  # module unit index by consumption rank
        self.rw_removed = good[self.spare + 2 * self.rw_f + self.rw_slot]
        self.rw_fitted = np.concatenate([good[:1], self.rw_removed[:-1]]).astype(_I64)[:k]
        self.summary.reworked = k
        # Current children (module unit indices) of each device.
        sub = self.spare + 2 * np.arange(self.n, dtype=_I64)
        self.children = np.stack([good[sub], good[sub + 1]], axis=1)
        if k:
            self.children[self.rw_f, self.rw_slot] = self.rw_fitted

    def _build_statuses(self) -> None:
        rng = self.rng("status")
        top = self.levels[-1]
        phase = self.top_phase[top.job]
        st = np.array([_SHIPPED, _RELEASED, _PASSED, _WIP], dtype=np.int8)[phase]
        q = np.arange(self.n) / self.n  # the newest released units are still in stock
        held = (phase == 0) & ((rng.random(self.n) < _HELD_IN_STOCK) | (q >= 0.97))
        st[held] = _RELEASED
        st[self.scrap_top] = _SCRAPPED
        top.status = st
        for lv in self.levels[:-1]:
            s = np.full(lv.n, _PASSED, dtype=np.int8)
            s[lv.scrap] = _SCRAPPED
            lv.status = s
        if self.n_rework:
            self.levels[-2].status[self.rw_removed[-1]] = _QUARANTINED

    def _build_ncrs(self) -> None:
        """All NCRs (EOL failures, rework, PCBA scrap, supplier lots), ids by raise time."""
        rng = self.rng("ncrs")
        top, pcba = self.levels[-1], self.levels[0]
        meas = self._measurements()
        frames: list[pl.DataFrame] = []
        # EOL failures: one NCR per failing device, reworked-and-retested or scrapped.
        f = np.flatnonzero(self.fail1)
        scrap = self.scrap_top[f]
        names = pl.Series([m.name for m in meas])
        frames.append(
            pl.DataFrame(
                {
                    "kind": np.zeros(len(f), dtype=_I64),
                    "src": f.astype(_I64),
                    "raised_s": self.eol1_at[f] + 10 * MIN,
                    "gid": top.job_gid[top.job[f]],
                    "serial": self.serials(self.depth, f),
                    "component_code": None,
                    "lot": -1,
                    "defect_code": "EOL-" + names.gather(self.fail_meas[f]).str.to_uppercase(),
                    "description": "EOL " + names.gather(self.fail_meas[f]) + " out of limits",
                    "disposition": pl.Series(np.where(scrap, "scrap", "rework")),
                    # closed the same shift, before the batch record review and release
                    "closed_s": np.where(scrap, self.eol2_at[f] + 2 * HOUR, self.eol2_at[f] + HOUR),
                    "retest_ref": self._run_ids(f, 2),
                },
                schema_overrides={"component_code": pl.String},
            )
        )
        # Rework: a module removed and replaced.
        if self.n_rework:
            mod_code = self.specs[-2].products[0]
            frames.append(
                pl.DataFrame(
                    {
                        "kind": np.ones(self.n_rework, dtype=_I64),
                        "src": np.arange(self.n_rework, dtype=_I64),
                        "raised_s": self.rw_at - 5 * MIN,
                        "gid": top.job_gid[top.job[self.rw_f]],
                        "serial": self.serials(self.depth, self.rw_f),
                        "component_code": mod_code,
                        "lot": -1,
                        "defect_code": "ASSY-MOD-NC",
                        "description": "Module "
                        + self.serials(self.depth - 1, self.rw_removed)
                        + " intermittent at assembly check; replaced",
                        "disposition": "rework",
                        "closed_s": self.rw_at + 50 * MIN,
                        "retest_ref": None,
                    },
                    schema_overrides={"retest_ref": pl.String},
                )
            )
        # PCBAs failing ICT.
        sc = np.flatnonzero(pcba.scrap)
        frames.append(
            pl.DataFrame(
                {
                    "kind": np.full(len(sc), 2, dtype=_I64),
                    "src": sc.astype(_I64),
                    "raised_s": pcba.t[sc] + 30 * MIN,
                    "gid": pcba.job_gid[pcba.job[sc]],
                    "serial": self.serials(1, sc),
                    "component_code": None,
                    "lot": -1,
                    "defect_code": "ICT-FAIL",
                    "description": "In-circuit test failure, not repairable",
                    "disposition": "scrap",
                    "closed_s": pcba.t[sc] + DAY,
                    "retest_ref": None,
                },
                schema_overrides={"component_code": pl.String, "retest_ref": pl.String},
            )
        )
        # Supplier NCRs on ~1 % of lots (at least one): concession or return of the rest.
        n_lots = len(self.lot_strs)
        lots = np.sort(rng.choice(n_lots, max(1, n_lots // 100), replace=False)).astype(_I64)
        first_use = self._lot_first_use()
        raised = first_use[lots] + HOUR
        disp = np.where(rng.random(len(lots)) < 0.6, "use_as_is", "return_to_supplier")
        pending = raised > self.t0 + int(0.95 * self.span)
        pending[np.argmax(raised)] = True
        disp = np.where(pending, "pending", disp)
        frames.append(
            pl.DataFrame(
                {
                    "kind": np.full(len(lots), 3, dtype=_I64),
                    "src": lots,
                    "raised_s": raised,
                    "gid": np.full(len(lots), -1, dtype=_I64),
                    "serial": pl.Series([None] * len(lots), dtype=pl.String),
                    "component_code": _take(self.lot_code, lots),
                    "lot": lots,
                    "defect_code": pl.Series(
                        np.where(rng.random(len(lots)) < 0.5, "SUP-DIM", "SUP-DOC")
                    ),
                    "description": "Incoming inspection: lot nonconforming",
                    "disposition": pl.Series(disp),
                    "closed_s": np.where(pending, _NAT, raised + 3 * DAY),
                    "retest_ref": None,
                },
                schema_overrides={"retest_ref": pl.String},
            )
        )
        ncr = pl.concat(frames, how="vertical_relaxed").sort(["raised_s", "kind", "src"])
        ncr = ncr.with_columns(
            (
                "NCR-" + (pl.int_range(pl.len(), dtype=pl.Int64) + 1).cast(pl.String).str.zfill(6)
            ).alias("ncr_id")
        )
        self.ncr = ncr
        rw = ncr.filter(pl.col("kind") == 1).sort("src")
        self.rw_ncr_id = rw["ncr_id"]

    def _lot_first_use(self) -> np.ndarray:
        """Earliest issue or fitting time of every lot."""
        first = np.full(len(self.lot_strs), np.iinfo(_I64).max, dtype=_I64)
        for df in self.issue_frames:
            np.minimum.at(first, df["lot"].to_numpy(), df["issued_at_s"].to_numpy())
        for lv in self.levels:
            for arr in lv.unit_lots.values():
                m = arr >= 0
                np.minimum.at(first, arr[m], lv.t[m] - 20 * MIN)
        return first

    def _measurements(self) -> list[cat.Measurement]:
        base = list(cat.MEASUREMENTS)
        k = self.opts.measurements_per_unit
        extra = [
            cat.Measurement(f"channel_{j:03d}_gain", "dB", -1.0, 1.0, 0.0, 0.2)
            for j in range(1, max(0, k - len(base)) + 1)
        ]
        return (base + extra)[:k]

    def _run_ids(self, f: np.ndarray, attempt: int) -> pl.Series:
        run = f.astype(_I64) + (1 if attempt == 1 else self.n + 1)
        return "R" + pl.Series(run).cast(pl.String).str.zfill(8)

    # -- master data ---------------------------------------------------------------------

    def _write_master(self) -> None:
        prod_rows, mbr_rows, bom_rows, op_rows = [], [], [], []
        gtins = {"DEV-A": cat.gtin14("0501234500010"), "DEV-B": cat.gtin14("0501234500020")}
        self.gtins = gtins
        day0 = self.start_s
        for spec in self.specs:
            for pi, code in enumerate(spec.products):
                prod_rows.append(
                    {
                        "product_code": code,
                        "description": spec.descriptions[pi],
                        "gtin": gtins.get(code),
                        "serialised": True,
                    }
                )
                revs = (1, 2, 3, 4) if spec.top and pi == 0 else (1, 2, 3) if spec.top else (1,)
                for rev in revs:
                    if rev == 1:
                        approved, effective = day0 - 60 * DAY, day0 - 30 * DAY
                    elif rev <= 3:
                        effective = int(self.ecn_at[pi, rev - 2])
                        approved = effective - 5 * DAY
                    else:
                        approved = effective = _NAT
                    current = 3 if spec.top else 1
                    status = (
                        "draft" if rev > current else "approved" if rev == current else "superseded"
                    )
                    mbr_rows.append(
                        {
                            "product_code": code,
                            "mbr_revision": f"{rev:02d}",
                            "drawing_revision": "ABCD"[rev - 1],
                            "status": status,
                            "approved_by": None if rev > current else cat.QA_PEOPLE[rev % 3],
                            "approved_at": approved,
                            "effective_from": effective,
                        }
                    )
                    bom_rows.extend(self._bom_lines(spec, pi, code, rev))
                    for op in spec.ops:
                        acc = op.acceptance
                        if spec.top and op.op_code == "ASSY" and rev >= 3:
                            acc = "Screw torque 1.1 ± 0.1 N·m"
                        op_rows.append(
                            {
                                "product_code": code,
                                "mbr_revision": f"{rev:02d}",
                                "op_seq": op.op_seq,
                                "op_code": op.op_code,
                                "description": op.description,
                                "work_centre": op.work_centre,
                                "acceptance_criteria": acc,
                                "first_article": op.first_article,
                                "needs_calibrated_equipment": op.needs_cal,
                            }
                        )
        self._write("products", pl.DataFrame(prod_rows))
        mbr = pl.DataFrame(mbr_rows).with_columns(
            pl.Series(
                _ts(
                    np.array([r["approved_at"] for r in mbr_rows], dtype=_I64),
                    np.array([r["approved_at"] == _NAT for r in mbr_rows]),
                )
            ).alias("approved_at"),
            pl.Series(
                _ts(
                    np.array([r["effective_from"] for r in mbr_rows], dtype=_I64),
                    np.array([r["effective_from"] == _NAT for r in mbr_rows]),
                )
            ).alias("effective_from"),
        )
        self._write("mbr", mbr)
        self.mbr_bom = pl.DataFrame(bom_rows)
        self._write("mbr_bom", self.mbr_bom)
        self._write("mbr_operations", pl.DataFrame(op_rows))
        eq = pl.DataFrame(
            [
                dict(zip(("equipment_id", "description", "kind", "location"), e, strict=True))
                for e in cat.EQUIPMENT
            ]
        )
        self._write("equipment", eq)
        self._write("calibrations", self._calibrations())

    def _bom_lines(self, spec: cat.LevelSpec, pi: int, code: str, rev: int) -> list[dict]:
        lines: list[dict] = []
        base = {"product_code": code, "mbr_revision": f"{rev:02d}"}
        if spec.child_qty:
            child = self.specs[spec.level - 2]
            lines.append(
                {
                    **base,
                    "line_no": 10,
                    "component_code": child.products[0],
                    "component_revision": "A",
                    "qty_per": float(spec.child_qty),
                    "uom": "ea",
                    "serialised": True,
                    "critical": True,
                }
            )
        for comp in spec.lines[pi]:
            crev = comp.revision
            if spec.top and comp.code.startswith("ENC-") and rev >= 2:
                crev = "B"
            lines.append(
                {
                    **base,
                    "line_no": 10 * (len(lines) + 1),
                    "component_code": comp.code,
                    "component_revision": crev,
                    "qty_per": float(comp.qty_per),
                    "uom": comp.uom,
                    "serialised": False,
                    "critical": comp.critical,
                }
            )
        return lines

    def _calibrations(self) -> pl.DataFrame:
        """Yearly calibrations per equipment, first as found not_applicable, ~5 % found
        out of tolerance, plus one unscheduled out-of-tolerance find on RIG-EOL-01 mid-span."""
        rng = self.rng("calibrations")
        rows: list[tuple[str, int, int, str, str, str, str]] = []
        mid = self.t0 + self.span // 2
        for ei, (eid, _desc, kind, _loc) in enumerate(cat.EQUIPMENT):
            t = self.start_s - int(rng.integers(1, 330)) * DAY + int(rng.integers(8, 17)) * HOUR
            first = True
            forced = eid == "RIG-EOL-01"
            lab = (
                "Precision Cal Ltd (UKAS 0042)"
                if kind in ("rig", "meter")
                else "In-house metrology"
            )
            while t <= self.t_end + 30 * DAY:
                found = (
                    "not_applicable"
                    if first
                    else "out_of_tolerance"
                    if rng.random() < 0.05
                    else "in_tolerance"
                )
                rows.append(
                    (
                        eid,
                        t,
                        t + 365 * DAY,
                        found,
                        "in_tolerance",
                        cat.CALIBRATION_TECHS[(ei + len(rows)) % 3],
                        lab,
                    )
                )
                first = False
                nxt = t + 365 * DAY - int(rng.integers(0, 21)) * DAY
                if forced and t < mid < nxt:
                    rows.append(
                        (
                            eid,
                            mid,
                            mid + 365 * DAY,
                            "out_of_tolerance",
                            "in_tolerance",
                            cat.CALIBRATION_TECHS[0],
                            lab,
                        )
                    )
                    nxt = mid + 365 * DAY - int(rng.integers(0, 21)) * DAY
                    forced = False
                t = nxt
        cal = np.array([r[1] for r in rows], dtype=_I64)
        years = [datetime.fromtimestamp(int(c), UTC).year for c in cal]
        certs = [f"CAL-{y}-{i + 1:05d}" for i, y in enumerate(years)]
        # (equipment, previous calibration, this one, certificate) of each out-of-tolerance find
        self.oot_events = [
            (r[0], rows[i - 1][1], r[1], certs[i])
            for i, r in enumerate(rows)
            if r[3] == "out_of_tolerance"
        ]
        return pl.DataFrame(
            {
                "equipment_id": [r[0] for r in rows],
                "calibrated_at": _ts(cal),
                "due_at": _ts(np.array([r[2] for r in rows], dtype=_I64)),
                "certificate_no": certs,
                "as_found": [r[3] for r in rows],
                "as_left": [r[4] for r in rows],
                "calibrated_by": [r[5] for r in rows],
                "lab": [r[6] for r in rows],
            }
        )

    # -- executed records ----------------------------------------------------------------

    def _write_jobs(self) -> None:
        rng = self.rng("jobs-out")
        jobs = self.jobs
        nj = jobs.height
        top_li = len(self.levels) - 1
        level = jobs["level"].to_numpy()
        local = jobs["local"].to_numpy()
        extra = jobs["extra"].to_numpy()
        product = jobs["product"].to_numpy()
        created = jobs["created"].to_numpy()
        is_top = level == top_li
        rev = self._rev_of(product, created, is_top)
        self.job_rev = rev
        codes = [[c for c in lv.spec.products] for lv in self.levels]
        prod_names = pl.Series(
            [codes[lv][p] for lv, p in zip(level, product, strict=True)], dtype=pl.String
        )
        self.job_product_code = prod_names
        status = np.full(nj, "complete", dtype=object)
        released_at = np.full(nj, _NAT, dtype=_I64)
        tj = np.flatnonzero(is_top & (local >= 0))
        ph = self.top_phase[local[tj]]
        status[tj] = np.array(["released", "released", "complete", "in_progress"])[ph]
        released_at[tj] = self.top_released_at[local[tj]]
        ex = np.flatnonzero(extra >= 0)
        status[ex] = np.array(["planned", "planned", "on_hold", "cancelled"])[extra[ex]]
        self.job_status = status
        self.job_released_at = released_at
        self.job_end = np.full(nj, _NAT, dtype=_I64)
        for lv in self.levels:
            self.job_end[lv.job_gid] = lv.job_end
        po = np.where(is_top & (rng.random(nj) < 0.3), rng.integers(40000, 99999, nj), -1).astype(
            _I64
        )
        due = created + rng.integers(21, 43, nj) * DAY
        df = pl.DataFrame(
            {
                "job_id": self.job_ids,
                "product_code": prod_names,
                "mbr_revision": pl.Series(rev).cast(pl.String).str.zfill(2),
                "drawing_revision": _take(["A", "B", "C", "D"], rev - 1),
                "quantity": jobs["quantity"],
                "customer_po": ("PO-" + pl.Series(po).cast(pl.String)).set(pl.Series(po < 0), None),
                "due_date": _ts(due).dt.date(),
                "created_at": _ts(created),
                "released_at": _ts(released_at, released_at == _NAT),
                "released_by": _take(
                    list(cat.RELEASERS), np.where(released_at == _NAT, -1, np.arange(nj) % 2)
                ),
                "status": pl.Series(status.astype(str)),
            }
        )
        self._write("jobs", df)
        snap = (
            pl.DataFrame(
                {
                    "job_id": self.job_ids,
                    "product_code": prod_names,
                    "mbr_revision": df["mbr_revision"],
                    "gid": np.arange(nj),
                }
            )
            .join(self.mbr_bom, on=["product_code", "mbr_revision"])
            .sort(["gid", "line_no"])
            .select(
                "job_id",
                "line_no",
                "component_code",
                "component_revision",
                "qty_per",
                "uom",
                "serialised",
                "critical",
            )
        )
        self._write("bom_snapshot", snap)

    def _write_material_issues(self) -> None:
        mi = pl.concat(self.issue_frames).sort(["issued_at_s", "gid", "component_code", "lot"])
        self.issue_frames_all = mi
        lots = mi["lot"].to_numpy()
        df = pl.DataFrame(
            {
                "issue_id": "MI-"
                + pl.Series(np.arange(mi.height, dtype=_I64) + 1).cast(pl.String).str.zfill(8),
                "job_id": self.job_ids.gather(mi["gid"]),
                "component_code": mi["component_code"],
                "lot_number": _take(self.lot_strs, lots),
                "component_serial": pl.Series([None] * mi.height, dtype=pl.String),
                "quantity": mi["quantity"],
                "uom": mi["uom"],
                "issued_at": _ts(mi["issued_at_s"].to_numpy()),
                "issued_by": _take(list(cat.STOREKEEPERS), mi["issued_by_i"].to_numpy()),
                "supplier": _take(self.lot_supplier, lots),
                "supplier_lot": _take(self.lot_supplier_lot, lots),
            }
        )
        self._write("material_issues", df)

    def _write_units(self) -> None:
        frames = []
        status = pl.Series(list(_STATUS), dtype=pl.String)
        for lv in self.levels:
            idx = np.arange(lv.n, dtype=_I64)
            frames.append(
                pl.DataFrame(
                    {
                        "serial_number": self.serials(lv.spec.level, idx),
                        "product_code": _take(list(lv.spec.products), lv.unit_product.astype(_I64)),
                        "job_id": self.job_ids.gather(lv.job_gid[lv.job]),
                        "status": status.gather(lv.status.astype(_I64)),
                        "built_at": _ts(lv.t),
                    }
                )
            )
        self._write("units", pl.concat(frames))
        del frames

    def _write_unit_components(self) -> None:
        """Per unit: child serials then unit-level lots, in build order; rework rows last."""
        frames = []
        for li in range(1, len(self.levels)):
            lv, child = self.levels[li], self.levels[li - 1]
            n = lv.n
            lot_codes = list(lv.unit_lots)
            per = lv.spec.child_qty + len(lot_codes)
            if lv.spec.top:
                kids = self.children.copy()  # current children after rework ...
                kids[self.rw_f, self.rw_slot] = self.rw_removed  # ... but rows show originals
                comp_serial = [kids[:, 0], kids[:, 1]]
            else:
                comp_serial = [child.good[:n]]
            cols_serial = [*comp_serial, *[np.full(n, -1, dtype=_I64)] * len(lot_codes)]
            cols_lot = [
                *[np.full(n, -1, dtype=_I64)] * len(comp_serial),
                *[lv.unit_lots[c] for c in lot_codes],
            ]
            kind = np.tile(np.arange(per, dtype=_I64), n)
            names = [child.spec.products[0]] * len(comp_serial) + lot_codes
            parent = np.repeat(np.arange(n, dtype=_I64), per)
            fitted = np.repeat(lv.t - 20 * MIN, per)
            fitter = (np.repeat(lv.job_gid[lv.job], per) + kind) % len(cat.OPERATORS)
            cs = np.stack(cols_serial, axis=1).ravel()
            lt = np.stack(cols_lot, axis=1).ravel()
            removed = np.full(len(parent), _NAT, dtype=_I64)
            removed_by = np.full(len(parent), -1, dtype=_I64)
            ncr_idx = np.full(len(parent), -1, dtype=_I64)
            extra = None
            if lv.spec.top and self.n_rework:
                row = self.rw_f * per + self.rw_slot
                removed[row] = self.rw_at
                removed_by[row] = (self.rw_f + 3) % len(cat.OPERATORS)
                ncr_idx[row] = np.arange(self.n_rework)
                extra = pl.DataFrame(
                    {
                        "serial_number": self.serials(lv.spec.level, self.rw_f),
                        "component_code": pl.Series([names[0]] * self.n_rework, dtype=pl.String),
                        "component_serial": self.serials(child.spec.level, self.rw_fitted),
                        "lot_number": pl.Series([None] * self.n_rework, dtype=pl.String),
                        "fitted_at": _ts(self.rw_at + 15 * MIN),
                        "fitted_by": _take(
                            list(cat.OPERATORS), (self.rw_f + 3) % len(cat.OPERATORS)
                        ),
                        "removed_at": _ts(self.rw_at, np.ones(self.n_rework, dtype=bool)),
                        "removed_by": pl.Series([None] * self.n_rework, dtype=pl.String),
                        "removal_ncr_id": pl.Series([None] * self.n_rework, dtype=pl.String),
                    }
                )
            df = pl.DataFrame(
                {
                    "serial_number": self.serials(lv.spec.level, parent),
                    "component_code": _take(names, kind),
                    "component_serial": self.serials(child.spec.level, cs),
                    "lot_number": _take(self.lot_strs, lt),
                    "fitted_at": _ts(fitted),
                    "fitted_by": _take(list(cat.OPERATORS), fitter),
                    "removed_at": _ts(removed, removed == _NAT),
                    "removed_by": _take(list(cat.OPERATORS), removed_by),
                    "removal_ncr_id": _take(self.rw_ncr_id, ncr_idx),
                }
            )
            frames.append(df)
            if extra is not None:
                frames.append(extra)
        self._write("unit_components", pl.concat(frames))

    def _write_operations(self) -> None:
        """Batch steps per job (at a first-article step, the first article's own row and the
        rest of the job's); per-unit ASSY and EOL (one row per attempt) for devices."""
        frames = []
        n_ops = len(cat.OPERATORS)
        for lv in self.levels:
            gid = lv.job_gid
            nj = len(gid)
            phase = self.top_phase if lv.spec.top else np.zeros(nj, dtype=np.int8)
            for oi, op in enumerate(lv.spec.ops):
                if op.per_unit:
                    continue
                keep = np.ones(nj, dtype=bool)
                if lv.spec.top and op.op_seq > 20:
                    keep = phase < 3
                s_off, e_off, rel_end = _OP_WINDOWS[op.op_code]
                started = lv.job_start + s_off
                eq = (
                    _take(list(op.equipment), gid % len(op.equipment))
                    if op.equipment
                    else pl.Series([None] * nj, dtype=pl.String)
                )
                serial = pl.Series([None] * nj, dtype=pl.String)
                if op.first_article:
                    # the first article's own row, then the batch row for the rest of the job
                    fa = lv.job_first
                    frames.append(
                        self._op_frame(gid, op, self.serials(lv.spec.level, fa),
                                       (gid * 3 + oi) % n_ops, lv.t[fa] - 20 * MIN, lv.t[fa], eq)
                    )
                    keep &= lv.job_sizes > 1
                    started = np.where(keep, lv.job_rest_start, lv.job_start) + s_off
                finished = (lv.job_end + e_off) if rel_end else (started + e_off)
                finished = np.maximum(finished, started + 5 * MIN)
                frames.append(
                    self._op_frame(gid, op, serial, (gid * 3 + oi) % n_ops, started, finished, eq)
                    .filter(pl.Series(keep))
                )
        top = self.levels[-1]
        ops = {op.op_code: op for op in top.spec.ops}
        all_f = np.arange(self.n, dtype=_I64)
        gid = top.job_gid[top.job]
        assy = ops["ASSY"]
        frames.append(
            pl.DataFrame(
                {
                    "job_id": self.job_ids.gather(gid),
                    "op_seq": np.full(self.n, assy.op_seq, dtype=_I64),
                    "op_code": pl.Series(["ASSY"] * self.n, dtype=pl.String),
                    "serial_number": self.serials(self.depth, all_f),
                    "work_centre": pl.Series([assy.work_centre] * self.n, dtype=pl.String),
                    "operator": _take(list(cat.OPERATORS), (gid + all_f) % n_ops),
                    "started_at": _ts(top.t - 20 * MIN),
                    "finished_at": _ts(top.t),
                    "result": pl.Series(["done"] * self.n, dtype=pl.String),
                    "equipment_id": _take(list(assy.equipment), gid % len(assy.equipment)),
                }
            )
        )
        eol = ops["EOL"]
        dur = self.opts.measurements_per_unit * 7 + 60
        for attempt in (1, 2):
            f = np.flatnonzero(self.tested if attempt == 1 else self.fail1)
            at = self.eol1_at[f] if attempt == 1 else self.eol2_at[f]
            passed = ~self.fail1[f] if attempt == 1 else ~self.scrap_top[f]
            g = top.job_gid[top.job[f]]
            frames.append(
                pl.DataFrame(
                    {
                        "job_id": self.job_ids.gather(g),
                        "op_seq": np.full(len(f), eol.op_seq, dtype=_I64),
                        "op_code": pl.Series(["EOL"] * len(f), dtype=pl.String),
                        "serial_number": self.serials(self.depth, f),
                        "work_centre": pl.Series([eol.work_centre] * len(f), dtype=pl.String),
                        "operator": _take(list(cat.OPERATORS), (g * 5 + 1) % n_ops),
                        "started_at": _ts(at),
                        "finished_at": _ts(at + dur),
                        "result": pl.Series(np.where(passed, "pass", "fail")),
                        "equipment_id": _take(list(eol.equipment), g % len(eol.equipment)),
                    }
                )
            )
        self._write("operations", pl.concat(frames))

    def _op_frame(
        self,
        gid: np.ndarray,
        op: cat.OpSpec,
        serial: pl.Series,
        operator: np.ndarray,
        started: np.ndarray,
        finished: np.ndarray,
        equipment: pl.Series,
    ) -> pl.DataFrame:
        """Operation rows of one step, one per job in ``gid``."""
        n = len(gid)
        return pl.DataFrame(
            {
                "job_id": self.job_ids.gather(gid),
                "op_seq": np.full(n, op.op_seq, dtype=_I64),
                "op_code": pl.Series([op.op_code] * n, dtype=pl.String),
                "serial_number": serial,
                "work_centre": pl.Series([op.work_centre] * n, dtype=pl.String),
                "operator": _take(list(cat.OPERATORS), operator),
                "started_at": _ts(started),
                "finished_at": _ts(finished),
                "result": pl.Series([op.result] * n, dtype=pl.String),
                "equipment_id": equipment,
            }
        )

    def _write_test_results(self) -> None:
        """EOL measurements per device and attempt, first-article results per job, and the
        sub-assemblies' per-unit results; then the planted out-of-tolerance findings."""
        rng = self.rng("test-values")
        top = self.levels[-1]
        meas = self._measurements()
        k = len(meas)
        low = np.array([m.low for m in meas])
        high = np.array([m.high for m in meas])
        mean = np.array([m.mean for m in meas])
        sd = np.array([m.sd for m in meas])
        fail_high = np.array([m.name != "insulation_resistance" for m in meas])
        rig = top.spec.ops[[o.op_code for o in top.spec.ops].index("EOL")].equipment
        frames = []
        mid = self.t0 + self.span // 2
        for attempt in (1, 2):
            f = np.flatnonzero(self.tested if attempt == 1 else self.fail1)
            nf = len(f)
            at = self.eol1_at[f] if attempt == 1 else self.eol2_at[f]
            mi = np.tile(np.arange(k, dtype=_I64), nf)
            rf = np.repeat(f, k)
            span = high[mi] - low[mi]
            val = np.clip(
                rng.normal(mean[mi], sd[mi]), low[mi] + 0.002 * span, high[mi] - 0.002 * span
            )
            bad_unit = self.fail1[rf] if attempt == 1 else self.scrap_top[rf]
            bad = bad_unit & (mi == self.fail_meas[rf])
            over = np.abs(rng.normal(0, 1, len(mi))) * sd[mi] + 0.05 * span
            val = np.where(bad, np.where(fail_high[mi], high[mi] + over, low[mi] - over), val)
            g = top.job_gid[top.job[rf]]
            tested = np.repeat(at, k) + mi * 7
            self.uses.append((rig, g % len(rig), tested, g))
            frames.append(
                pl.DataFrame(
                    {
                        "serial_number": self.serials(self.depth, rf),
                        "equipment_id": _take(list(rig), g % len(rig)),
                        "test_step": pl.Series(["EOL"] * len(mi), dtype=pl.String),
                        "measurement": _take([m.name for m in meas], mi),
                        "value": np.round(val, 4),
                        "units": _take([m.units for m in meas], mi),
                        "low_limit": low[mi],
                        "high_limit": high[mi],
                        "result": pl.Series(np.where(bad, "fail", "pass")),
                        "tested_at": _ts(tested),
                        "operator": _take(list(cat.OPERATORS), (g * 5 + 1) % len(cat.OPERATORS)),
                        "software_version": pl.Series(
                            np.where(tested < mid, "EOLTest 4.1.0", "EOLTest 4.2.0")
                        ),
                        "run_id": self._run_ids(rf, attempt),
                        "attempt": np.full(len(mi), attempt, dtype=_I64),
                    }
                )
            )
        frames.extend(self._fai_frames(rng))
        frames.extend(self._unit_test_frames())
        self._write("test_results", pl.concat(frames))
        self.summary.planted = self._planted()
        self.uses.clear()

    def _unit_test_frames(self) -> list[pl.DataFrame]:
        """Sub-assembly measurements, one per unit at each step with a ``unit_test`` (PCBA
        rail check at ICT, module offset after CAL): all pass but the PCBAs scrapped at ICT."""
        rng = self.rng("unit-tests")
        frames = []
        for lv in self.levels[:-1]:
            for op in lv.spec.ops:
                m = op.unit_test
                if m is None:
                    continue
                n, span = lv.n, m.high - m.low
                gid = lv.job_gid[lv.job]
                idx = gid % len(op.equipment)
                at = lv.t + _UNIT_TEST_AT[op.op_code]
                self.uses.append((op.equipment, idx, at, gid))
                val = np.clip(
                    rng.normal(m.mean, m.sd, n), m.low + 0.002 * span, m.high - 0.002 * span
                )
                val[lv.scrap] = m.low - (0.05 + rng.random(int(lv.scrap.sum()))) * span
                frames.append(
                    pl.DataFrame(
                        {
                            "serial_number": self.serials(lv.spec.level, np.arange(n, dtype=_I64)),
                            "equipment_id": _take(list(op.equipment), idx),
                            "value": np.round(val, 4),
                            "bad": lv.scrap,
                            "tested_at": _ts(at),
                            "operator": _take(
                                list(cat.OPERATORS), (gid * 5 + 2) % len(cat.OPERATORS)
                            ),
                        }
                    ).select(
                        "serial_number",
                        "equipment_id",
                        test_step=pl.lit(op.op_code),
                        measurement=pl.lit(m.name),
                        value="value",
                        units=pl.lit(m.units),
                        low_limit=pl.lit(m.low, pl.Float64),
                        high_limit=pl.lit(m.high, pl.Float64),
                        result=pl.when("bad").then(pl.lit("fail")).otherwise(pl.lit("pass")),
                        tested_at="tested_at",
                        operator="operator",
                        software_version=pl.lit(None, pl.String),
                        run_id=pl.lit(None, pl.String),
                        attempt=pl.lit(1, pl.Int64),
                    )
                )
        return frames

    def _fai_frames(self, rng: np.random.Generator) -> list[pl.DataFrame]:
        """First-article inspection results: first unit of each job, at the FA step."""
        frames = []
        # (gid, op_seq, first-article serial, signed time) per level
        self.fai: list[tuple[np.ndarray, int, pl.Series, np.ndarray]] = []
        for lv in self.levels:
            kind = "top" if lv.spec.top else "pcba" if lv.spec.level == 1 else "module"
            op = next(o for o in lv.spec.ops if o.first_article)
            unit = lv.job_first
            gid = lv.job_gid
            at = lv.t[unit] + _FA_INSPECTED
            self.fai.append(
                (gid, op.op_seq, self.serials(lv.spec.level, unit), lv.t[unit] + _FA_SIGNED)
            )
            for j, (name, units, lo, hi, mu, sd, eqs) in enumerate(_FAI[kind]):
                self.uses.append((eqs, gid % len(eqs), at + j * MIN, gid))
                val = np.clip(
                    rng.normal(mu, sd, len(unit)), lo + 0.002 * (hi - lo), hi - 0.002 * (hi - lo)
                )
                nu = len(unit)
                frames.append(
                    pl.DataFrame(
                        {
                            "serial_number": self.serials(lv.spec.level, unit),
                            "equipment_id": _take(list(eqs), gid % len(eqs)),
                            "test_step": pl.Series([f"FAI-{op.op_seq}"] * nu, dtype=pl.String),
                            "measurement": pl.Series([name] * nu, dtype=pl.String),
                            "value": np.round(val, 4),
                            "units": pl.Series([units] * nu, dtype=pl.String),
                            "low_limit": np.full(nu, lo),
                            "high_limit": np.full(nu, hi),
                            "result": pl.Series(["pass"] * nu, dtype=pl.String),
                            "tested_at": _ts(at + j * MIN),
                            "operator": _take(list(cat.INSPECTORS), gid % len(cat.INSPECTORS)),
                            "software_version": pl.Series([None] * nu, dtype=pl.String),
                            "run_id": "FAI-" + self.job_ids.gather(gid),
                            "attempt": np.ones(nu, dtype=_I64),
                        }
                    )
                )
        return frames

    def _write_ncrs(self) -> None:
        ncr = self.ncr
        closed = ncr["closed_s"].to_numpy()
        open_ = closed == _NAT
        self.ncr_closed = (
            ncr["ncr_id"].filter(pl.Series(~open_)),
            closed[~open_],
            ncr["disposition"].filter(pl.Series(~open_)),
        )
        df = pl.DataFrame(
            {
                "ncr_id": ncr["ncr_id"],
                "raised_at": _ts(ncr["raised_s"].to_numpy()),
                "raised_by": _take(list(cat.INSPECTORS), ncr["src"].to_numpy() % 4),
                "job_id": _take(self.job_ids, ncr["gid"].to_numpy()),
                "serial_number": ncr["serial"],
                "component_code": ncr["component_code"],
                "lot_number": _take(self.lot_strs, ncr["lot"].to_numpy()),
                "supplier": _take(self.lot_supplier, ncr["lot"].to_numpy()),
                "defect_code": ncr["defect_code"],
                "description": ncr["description"],
                "disposition": ncr["disposition"],
                "closed_at": _ts(closed, open_),
                "closed_by": _take(
                    list(cat.QA_PEOPLE), np.where(open_, -1, ncr["src"].to_numpy() % 3)
                ),
                "retest_ref": ncr["retest_ref"],
            }
        )
        self._write("ncrs", df)

    def _write_ecns(self) -> None:
        rows = []
        for step in (0, 1):
            for p, code in enumerate(("DEV-A", "DEV-B")):
                rows.append((int(self.ecn_at[p, step]), code, step))
        rows.sort()
        ecn_ids = [f"ECN-{i + 1:04d}" for i in range(len(rows))]
        desc = (
            "Enclosure vent redesign (enclosure rev B)",
            "Final assembly torque raised to 1.1 N·m; EOL limits unchanged",
        )
        self._write(
            "ecns",
            pl.DataFrame(
                {
                    "ecn_id": ecn_ids,
                    "product_code": [r[1] for r in rows],
                    "from_revision": [f"{r[2] + 1:02d}" for r in rows],
                    "to_revision": [f"{r[2] + 2:02d}" for r in rows],
                    "effective_at": _ts(np.array([r[0] for r in rows], dtype=_I64)),
                    "approved_by": [cat.ENGINEERS[r[2]] for r in rows],
                    "description": [desc[r[2]] for r in rows],
                    "affected_ops": ["20" if r[2] == 0 else "20;40" for r in rows],
                }
            ),
        )
        # In-flight jobs: created on the old revision, still running when the ECN took effect.
        jobs = self.jobs
        top_li = len(self.levels) - 1
        level = jobs["level"].to_numpy()
        product = jobs["product"].to_numpy()
        created = jobs["created"].to_numpy()
        out = []
        rel = self.job_released_at
        for i, (eff, code, step) in enumerate(rows):
            p = 0 if code == "DEV-A" else 1
            # applied to every job built to the old revision that was open (created, not
            # yet released) when the ECN took effect
            m = (
                (level == top_li)
                & (product == p)
                & (self.job_rev == step + 1)
                & (created < eff)
                & (self.job_end != _NAT)
                & ((rel == _NAT) | (rel >= eff))
            )
            g = np.flatnonzero(m)
            out.append(
                pl.DataFrame(
                    {
                        "job_id": self.job_ids.gather(g),
                        "ecn_id": pl.Series([ecn_ids[i]] * len(g), dtype=pl.String),
                        "applied_at": _ts(np.full(len(g), eff + HOUR, dtype=_I64)),
                        "applied_by": pl.Series(
                            [cat.ENGINEERS[(i + 1) % 3]] * len(g), dtype=pl.String
                        ),
                        "pages": pl.Series((g % 3 + 1).astype(_I64)).cast(pl.String),
                    }
                )
            )
        self._write("job_ecns", pl.concat(out).sort(["job_id", "ecn_id"]))

    def _write_firmware_and_labels(self) -> None:
        rng = self.rng("fw-labels")
        top = self.levels[-1]
        f = np.flatnonzero(self.tested)
        at = self.fw_at[f]
        cut = self.t0 + (np.array([fw[0] for fw in cat.FIRMWARE]) * self.span).astype(_I64)
        vi = np.searchsorted(cut, at, side="right") - 1
        eng = rng.random(len(f)) < 0.003
        fe = f[eng]
        g = top.job_gid[top.job]
        fw = pl.concat(
            [
                pl.DataFrame(
                    {
                        "serial_number": self.serials(self.depth, fe),
                        "firmware_version": _take([v[1] + "-rc1" for v in cat.FIRMWARE], vi[eng]),
                        "build_id": _take([v[2] + "-eng" for v in cat.FIRMWARE], vi[eng]),
                        "loaded_at": _ts(at[eng] - 5 * MIN),
                        "loaded_by": _take(list(cat.OPERATORS), (g[fe] + 2) % len(cat.OPERATORS)),
                        "release_approved": np.zeros(len(fe), dtype=bool),
                    }
                ),
                pl.DataFrame(
                    {
                        "serial_number": self.serials(self.depth, f),
                        "firmware_version": _take([v[1] for v in cat.FIRMWARE], vi),
                        "build_id": _take([v[2] for v in cat.FIRMWARE], vi),
                        "loaded_at": _ts(at),
                        "loaded_by": _take(list(cat.OPERATORS), (g[f] + 2) % len(cat.OPERATORS)),
                        "release_approved": np.ones(len(f), dtype=bool),
                    }
                ),
            ]
        ).sort("loaded_at", maintain_order=True)
        self._write("firmware_loads", fw)
        # Label check after the final EOL pass; 0.3 % fail first and are reprinted.
        lab = np.flatnonzero(self.tested & ~self.scrap_top)
        first_fail = rng.random(len(lab)) < 0.003
        checked = self.final_pass_at[lab] + 30 * MIN
        prod = top.unit_product[lab].astype(_I64)
        gt = [self.gtins[c] for c in top.spec.products]
        data = "(01)" + _take(gt, prod) + "(21)" + self.serials(self.depth, lab)
        ff = np.flatnonzero(first_fail)
        checks = pl.concat(
            [
                pl.DataFrame(
                    {
                        "serial_number": self.serials(self.depth, lab[ff]),
                        "label_data": data.gather(ff),
                        "checked_at": _ts(checked[ff] - 5 * MIN),
                        "checked_by": _take(list(cat.INSPECTORS), g[lab[ff]] % len(cat.INSPECTORS)),
                        "result": pl.Series(["fail"] * len(ff), dtype=pl.String),
                    }
                ),
                pl.DataFrame(
                    {
                        "serial_number": self.serials(self.depth, lab),
                        "label_data": data,
                        "checked_at": _ts(checked),
                        "checked_by": _take(list(cat.INSPECTORS), g[lab] % len(cat.INSPECTORS)),
                        "result": pl.Series(["pass"] * len(lab), dtype=pl.String),
                    }
                ),
            ]
        ).sort("checked_at", maintain_order=True)
        self._write("label_checks", checks)

    def _write_signoffs(self) -> None:
        frames = []

        def add(
            rtype: str,
            rid: pl.Series,
            role: str,
            by: pl.Series,
            at: np.ndarray,
            meaning: str | pl.Series,
        ) -> None:
            n = len(at)
            frames.append(
                pl.DataFrame(
                    {
                        "record_type": pl.Series([rtype] * n, dtype=pl.String),
                        "record_id": rid,
                        "role": pl.Series([role] * n, dtype=pl.String),
                        "signed_by": by,
                        "signed_at": _ts(at),
                        "meaning": meaning
                        if isinstance(meaning, pl.Series)
                        else pl.Series([meaning] * n, dtype=pl.String),
                    }
                )
            )

        # Batch record review: every completed sub-assembly job, every released top job.
        status = self.job_status
        rel = self.job_released_at
        sub = np.flatnonzero(
            (status == "complete")
            & (rel == _NAT)
            & (self.job_end != _NAT)
            & (self.jobs["level"].to_numpy() < len(self.levels) - 1)
        )
        add(
            "job",
            self.job_ids.gather(sub),
            "qa",
            _take(list(cat.QA_PEOPLE), sub % 3),
            self.job_end[sub] + DAY,
            "Batch record reviewed and approved",
        )
        top = np.flatnonzero(rel != _NAT)
        add(
            "job",
            self.job_ids.gather(top),
            "qa",
            _take(list(cat.QA_PEOPLE), top % 3),
            rel[top] - HOUR,
            "Batch record reviewed and approved",
        )
        add(
            "release",
            self.job_ids.gather(top),
            "release",
            _take(list(cat.RELEASERS), top % 2),
            rel[top],
            "Released for distribution",
        )
        for gid, op_seq, serial, at in self.fai:
            add(
                "operation",
                self.job_ids.gather(gid) + f"/{op_seq}/" + serial,
                "inspector",
                _take(list(cat.INSPECTORS), gid % 4),
                at,
                "First article inspected and approved",
            )
        ids, closed, disp = self.ncr_closed
        add(
            "ncr",
            ids,
            "qa",
            _take(list(cat.QA_PEOPLE), np.arange(len(ids)) % 3),
            closed,
            "NCR closed, disposition " + disp,
        )
        self._write("signoffs", pl.concat(frames).sort("signed_at", maintain_order=True))

    def _write_shipments(self) -> None:
        rng = self.rng("shipments")
        top = self.levels[-1]
        f = np.flatnonzero(top.status == _SHIPPED)
        sizes = _partition(len(f), 1, 60, rng, even_tail=False)
        first = np.cumsum(sizes) - sizes
        ready = self.top_released_at[top.job[f]]
        at = (np.maximum.reduceat(ready, first) if len(f) else ready) + rng.integers(
            2 * HOUR, 4 * DAY, len(sizes)
        )
        custs = cat.customers(200)
        w = 1.0 / np.arange(1, len(custs) + 1) ** 0.8
        cust = rng.choice(len(custs), len(sizes), p=w / w.sum())
        order = np.repeat(np.arange(len(sizes), dtype=_I64), sizes)
        self._write(
            "shipments",
            pl.DataFrame(
                {
                    "serial_number": self.serials(self.depth, f),
                    "customer": _take([c[0] for c in custs], cust[order]),
                    "order_ref": "SO-" + pl.Series(order + 200001).cast(pl.String),
                    "shipped_at": _ts(np.repeat(at, sizes)),
                    "ship_to_country": _take([c[1] for c in custs], cust[order]),
                }
            ),
        )

    # -- facts ---------------------------------------------------------------------------

    def _module_parents(self) -> tuple[np.ndarray, list[tuple[int, int]]]:
        """Current device of each module (-1 if none) and extra (module, device) pairs
        from fitments later removed by rework."""
        mods = self.levels[-2]
        cur = np.full(mods.n, -1, dtype=_I64)
        cur[self.children.ravel()] = np.repeat(np.arange(self.n, dtype=_I64), 2)
        ever = [(int(m), int(f)) for m, f in zip(self.rw_removed, self.rw_f, strict=True)]
        return cur, ever

    def _finished_of(self, level: int, units: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Finished devices containing any of ``units`` of ``level``: (current, ever)."""
        if level == self.depth:
            u = np.unique(units)
            return u, u
        idx = units
        for li in range(level, self.depth - 1):  # climb to the module level (1:1 links)
            lv = self.levels[li - 1]
            rank = np.cumsum(~lv.scrap) - 1
            idx = rank[idx[~lv.scrap[idx]]]
        mods = self.levels[-2]
        idx = idx[~mods.scrap[idx]]
        cur, ever = self._module_parents()
        current = np.unique(cur[idx][cur[idx] >= 0])
        wanted = set(idx.tolist())
        extra = {f for m, f in ever if m in wanted}
        rank = (np.cumsum(~mods.scrap) - 1)[idx]
        orig = (rank[rank >= self.spare] - self.spare) // 2
        everset = np.unique(np.concatenate([current, orig, np.array(sorted(extra), dtype=_I64)]))
        return current, everset

    def _lot_fact(self, level: int, code: str, lot: int) -> LotFact:
        lv = self.levels[level - 1]
        st = self.streams[(level, code)]
        if st.comp.unit_level:
            units = np.flatnonzero(lv.unit_lots[code] == lot)
        else:
            jobs = st.seg_job[st.seg_lot == lot]
            units = np.flatnonzero(np.isin(lv.job, jobs))
        cur, ever = self._finished_of(level, units)
        return LotFact(
            code,
            self.lot_strs[lot],
            level,
            "unit" if st.comp.unit_level else "job",
            tuple(self.serial(self.depth, int(f)) for f in cur),
            tuple(self.serial(self.depth, int(f)) for f in ever),
        )

    def _planted(self) -> list[PlantedFinding]:
        """The calibration_out_of_tolerance findings the plant carries: one per job and
        out-of-tolerance find, for every job measured with the item since the calibration
        before that find."""
        found: set[tuple[int, str, str]] = set()
        for eid, before, at, cert in self.oot_events:
            for eqs, idx, t, gid in self.uses:
                if eid in eqs:
                    m = (idx == eqs.index(eid)) & (t >= before) & (t < at)
                    found.update((int(g), eid, cert) for g in np.unique(gid[m]))
        return [
            PlantedFinding(
                "calibration_out_of_tolerance",
                str(self.job_ids[g]),
                f"calibrations:{eid}/{cert}",
                f"{eid} found out of tolerance ({cert}) after measuring units of the job",
            )
            for g, eid, cert in sorted(found)
        ]

    def _derive_facts(self) -> None:
        facts = []
        picks = [(1, "IC-MCU-32"), (self.depth, "SCR-M3X8"), (self.depth, "BAT-LI18650")]
        if self.depth >= 3:
            picks.append((self.depth - 1, "SEN-PT100"))
        for level, code in picks:
            st = self.streams[(level, code)]
            facts.append(self._lot_fact(level, code, st.lot0 + st.n_lots // 2))
        self.summary.lot_facts = facts
        paste = self.streams[(1, "PASTE-SAC305")]
        if paste.hub_lot >= 0:
            self.summary.hub_fact = self._lot_fact(1, "PASTE-SAC305", paste.hub_lot)
        # Links per finished unit (current genealogy), bottom-up.
        links = None
        for li, lv in enumerate(self.levels):
            own = len(lv.unit_lots) + lv.spec.child_qty + lv.job_links[lv.job]
            if li == 0:
                links = own.astype(np.float64)
            elif lv.spec.top:
                assert links is not None
                links = own + links[self.children[:, 0]] + links[self.children[:, 1]]
            else:
                assert links is not None
                links = own + links[self.levels[li - 1].good[: lv.n]]
        assert links is not None
        self.summary.links_per_unit = float(links.mean())
        # A device never reworked, from the middle of production.
        reworked = np.zeros(self.n, dtype=bool)
        reworked[self.rw_f] = True
        cand = np.flatnonzero(~reworked)
        f = int(cand[len(cand) // 2])
        serials: list[str] = []
        lots: set[tuple[str, str]] = set()
        frontier = [(self.depth, f)]
        while frontier:
            level, u = frontier.pop()
            lv = self.levels[level - 1]
            for code, arr in lv.unit_lots.items():
                lots.add((code, self.lot_strs[int(arr[u])]))
            j = int(lv.job[u])
            for (lvl, _code), st in self.streams.items():
                if lvl == level and not st.comp.unit_level:
                    for gl in st.seg_lot[st.seg_job == j]:
                        lots.add((self.lot_code[int(gl)], self.lot_strs[int(gl)]))
            if level == self.depth:
                kids = [int(c) for c in self.children[u]]
            elif level > 1:
                kids = [int(self.levels[level - 2].good[u])]
            else:
                kids = []
            for c in kids:
                serials.append(self.serial(level - 1, c))
                frontier.append((level - 1, c))
        self.summary.serial_fact = SerialFact(
            self.serial(self.depth, f), tuple(sorted(serials)), tuple(sorted(lots))
        )
