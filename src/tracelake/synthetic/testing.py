"""Test records: EOL measurements per attempt, first-article and sub-assembly results,
firmware loads and label checks."""

from __future__ import annotations

import numpy as np
import polars as pl

from tracelake.synthetic import catalog as cat
from tracelake.synthetic.base import (
    _FA_INSPECTED,
    _FA_SIGNED,
    _FAI,
    _I64,
    _UNIT_TEST_AT,
    MIN,
    _take,
    _ts,
)


class _Testing:
    """Writes the test results, firmware loads and label checks."""

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
