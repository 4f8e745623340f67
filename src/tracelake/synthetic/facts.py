"""Known-good facts from the generated arrays (a lot's finished serials, a serial's genealogy,
links per unit) that tests check the lake's answers against."""

from __future__ import annotations

import numpy as np

from tracelake.synthetic.base import (
    _I64,
)
from tracelake.synthetic.summary import LotFact, SerialFact


class _Facts:
    """Derives the summary's facts."""

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
