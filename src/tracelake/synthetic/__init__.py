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

from collections.abc import Callable
from pathlib import Path

from tracelake.synthetic.options import TABLES, PlantOptions
from tracelake.synthetic.plant import _Plant
from tracelake.synthetic.summary import LotFact, PlantedFinding, PlantSummary, SerialFact

__all__ = [
    "TABLES",
    "LotFact",
    "PlantOptions",
    "PlantSummary",
    "PlantedFinding",
    "SerialFact",
    "generate_plant",
]


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
    summary = plant.run()
    if plant.opts.lot_shift:
        from tracelake.synthetic.lot_shift import plant_lot_shift

        summary.lot_shift = plant_lot_shift(summary, plant.opts.lot_shift)
    return summary
