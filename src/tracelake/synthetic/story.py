"""The story of the plant's batches: levels and units, jobs and their phases, FIFO lot streams,
EOL attempts, rework and unit statuses, as arrays the writers turn into tables."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import polars as pl

from tracelake.synthetic import catalog as cat
from tracelake.synthetic.base import (
    _EOL_FAIL_RATE,
    _EOL_SCRAP_SHARE,
    _FA_LEAD,
    _HELD_IN_STOCK,
    _I64,
    _NAT,
    _PASSED,
    _PCBA_SCRAP_RATE,
    _QUARANTINED,
    _RELEASED,
    _SCRAPPED,
    _SHIPPED,
    _WIP,
    DAY,
    HOUR,
    MIN,
    _Level,
    _partition,
    _runs,
    _Stream,
)


class _Story:
    """Builds the arrays of units, jobs and lots that every table is written from."""

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
