"""Production records: jobs and their BOM snapshots, material issues, units, fitments
(unit_components), operations and shipments."""

from __future__ import annotations

import numpy as np
import polars as pl

from tracelake.synthetic import catalog as cat
from tracelake.synthetic.base import (
    _I64,
    _NAT,
    _OP_WINDOWS,
    _SHIPPED,
    _STATUS,
    DAY,
    HOUR,
    MIN,
    _partition,
    _take,
    _ts,
)


class _Production:
    """Writes what was built, from what, by whom and where it went."""

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
