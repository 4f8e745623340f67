"""Approvals: engineering changes (ECNs and the jobs they were applied to) and signoffs
(batch record reviews, releases, first articles, NCR closures)."""

from __future__ import annotations

import numpy as np
import polars as pl

from tracelake.synthetic import catalog as cat
from tracelake.synthetic.base import (
    _I64,
    _NAT,
    DAY,
    HOUR,
    _take,
    _ts,
)


class _Approvals:
    """Writes ECNs, job ECNs and signoffs."""

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
