"""Master data tables: products, MBR revisions, their BOM and operations, equipment."""

from __future__ import annotations

import numpy as np
import polars as pl

from tracelake.synthetic import catalog as cat
from tracelake.synthetic.base import (
    _I64,
    _NAT,
    DAY,
    _ts,
)


class _MasterData:
    """Writes the master data tables (calibrations come from faults.py)."""

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
