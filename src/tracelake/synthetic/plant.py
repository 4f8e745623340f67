"""One generation run (_Plant): the shared state, and the order in which arrays are built and
tables written; the work itself lives in the mixins of story, faults, master, production,
testing, approvals, facts and writer."""

from __future__ import annotations

import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
import polars as pl

from tracelake.synthetic import catalog as cat
from tracelake.synthetic.approvals import _Approvals
from tracelake.synthetic.base import (
    _I64,
    DAY,
    _Level,
    _Stream,
    _take,
)
from tracelake.synthetic.facts import _Facts
from tracelake.synthetic.faults import _Faults
from tracelake.synthetic.master import _MasterData
from tracelake.synthetic.options import PlantOptions
from tracelake.synthetic.production import _Production
from tracelake.synthetic.story import _Story
from tracelake.synthetic.summary import PlantSummary
from tracelake.synthetic.testing import _Testing
from tracelake.synthetic.writer import _Writer


class _Plant(_Writer, _Story, _Faults, _MasterData, _Production, _Testing, _Approvals, _Facts):
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
