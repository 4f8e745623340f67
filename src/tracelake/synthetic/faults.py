"""The faults the plant carries: NCRs (EOL failures, rework, PCBA scrap, supplier lots), the
calibrations with their out-of-tolerance finds, and the findings these plant on purpose."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import polars as pl

from tracelake.synthetic import catalog as cat
from tracelake.synthetic.base import (
    _I64,
    _NAT,
    DAY,
    HOUR,
    MIN,
    _take,
    _ts,
)
from tracelake.synthetic.summary import PlantedFinding


class _Faults:
    """Nonconformances, calibrations and the planted findings."""

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
