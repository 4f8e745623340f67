"""What the generator returns: the files it wrote and known-good facts for tests (PlantSummary)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from tracelake.synthetic.options import PlantOptions


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
    lot_shift: object = None  # the planted lot effect (lot_shift.LotShift) when options ask for one
