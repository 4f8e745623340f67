"""The answers of a trace: WhereUsed (affected units kept as Arrow columns until read, in
AffectedColumns) and WhereFrom; ``as_dict()`` is the JSON of ``tracelake trace``."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable
from typing import Any

import numpy as np
import pyarrow as pa

from tracelake.derived.genealogy.columns import datetimes, no_gc_pauses

#: the keys of an affected unit, in the order of the CLI contract's JSON
AFFECTED_KEYS = ("serial_number", "product_code", "job_id", "status", "customer", "shipped_at",
                 "order_ref", "depth", "path")


def _summary(statuses: list[Any], customers: Iterable[Any], jobs: Iterable[Any]) -> dict[str, Any]:
    by_status = Counter(statuses)
    by_customer = Counter(c for c in customers if c)
    return {"units": len(statuses), "shipped": by_status.get("shipped", 0),
            "customers": len(by_customer), "by_status": dict(sorted(by_status.items())),
            "by_customer": dict(by_customer.most_common()), "jobs": len(set(jobs))}


class AffectedColumns:
    """The affected units of a where-used answer as columns, one row per unit in answer order,
    and each unit's path as row numbers into the closure rows it was traced through;
    ``rows()`` builds the contract's dicts (labels, datetimes, lists) in bulk."""

    def __init__(self, table: pa.Table, walks: list[tuple[np.ndarray, np.ndarray]],
                 labels: pa.Array | pa.ChunkedArray, extra_labels: dict[int, str], starts: dict[int, str],
                 start_at: np.ndarray, zone: dt.tzinfo | None) -> None:
        self.table = table  # serial_number, product_code, job_id, status, customer,
        self.walks = walks  # order_ref, shipped_us, depth; walks: (positions, path rows)
        self.labels = labels  # label of the holder of each closure row (null: not a unit)
        self.extra_labels = extra_labels  # closure row -> label of a holder that is no unit
        self.starts = starts  # start node -> label
        self.start_at = start_at  # start node of each unit
        self.zone = zone

    def __len__(self) -> int:
        return self.table.num_rows

    def column(self, name: str) -> list[Any]:
        """One column as Python values (``shipped_at`` as aware datetimes, ``path`` as lists
        of labels)."""
        if name == "shipped_at":
            return datetimes(self.table.column("shipped_us"), self.zone)
        if name == "path":
            return self._paths()
        return self.table.column(name).to_pylist()

    def _paths(self) -> list[list[str]]:
        out: list[list[str]] = [[] for _ in range(len(self))]
        if not self.walks:
            return out
        label_of = np.array(self.labels.to_pylist(), dtype=object)
        for row, label in self.extra_labels.items():
            label_of[row] = label
        uniq, inv = np.unique(self.start_at, return_inverse=True)
        start_labels = np.array([self.starts[int(a)] for a in uniq.tolist()], dtype=object)[inv]
        for at, steps in self.walks:
            path = np.empty((steps.shape[0], steps.shape[1] + 1), dtype=object)
            path[:, 0] = start_labels[at]
            path[:, 1:] = label_of[steps]
            for pos, p in zip(at.tolist(), path.tolist(), strict=True):
                out[pos] = p
        return out

    def rows(self) -> list[dict[str, Any]]:
        """One dict per unit, keys in the contract's order."""
        with no_gc_pauses():
            cols = [self.column(k) for k in AFFECTED_KEYS]
            return [dict(zip(AFFECTED_KEYS, row, strict=True))
                    for row in zip(*cols, strict=True)]

    def summary(self) -> dict[str, Any]:
        """The answer's summary, from the columns."""
        return _summary(self.column("status"), self.column("customer"), self.column("job_id"))


class WhereUsed:
    """Every top-level unit that contains a lot or serial (``trace forward``).

    ``affected`` is a list of dicts; an answer built by :func:`where_used` holds it as columns
    (``columns``) and builds the list the first time it is read.
    """

    def __init__(self, query: dict[str, Any], affected: list[dict[str, Any]] | None = None,
                 removed: list[dict[str, Any]] | None = None, message: str | None = None, *,
                 columns: AffectedColumns | None = None) -> None:
        self.query = query
        self._affected = affected
        self.columns = columns
        self.removed = removed if removed is not None else []
        self.message = message
        #: v2 (recall_details.py): goods-in records of the traced lots, consignees by customer,
        #: and (serial, order_ref) -> ship_to_country
        self.goods_in: list[dict[str, Any]] = []
        self.consignees: dict[str, dict[str, Any]] = {}
        self.ship_to: dict[tuple[str, str], str] = {}

    @property
    def affected(self) -> list[dict[str, Any]]:
        """One dict per affected unit (built from ``columns`` on first use)."""
        if self._affected is None:
            self._affected = self.columns.rows() if self.columns is not None else []
        return self._affected

    @affected.setter
    def affected(self, value: list[dict[str, Any]]) -> None:
        self._affected = value

    @property
    def summary(self) -> dict[str, Any]:
        """Counts by status and by customer of the affected units."""
        if self._affected is None and self.columns is not None:
            return self.columns.summary()
        units = [a for a in self.affected if not a.get("removed")]
        return _summary([a["status"] for a in units], [a["customer"] for a in units],
                        [a["job_id"] for a in units])

    def as_dict(self) -> dict[str, Any]:
        """The contract's JSON document (plus ``message`` when the answer is empty)."""
        with no_gc_pauses():
            out = {"query": self.query, "affected": self.affected, "removed": self.removed,
                   "summary": self.summary}
        if self.message:
            out["message"] = self.message
        out["goods_in"] = self.goods_in
        out["consignees"] = self.consignees
        return out

    def __eq__(self, other: object) -> bool:
        return isinstance(other, WhereUsed) and self.as_dict() == other.as_dict()

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return (f"WhereUsed(query={self.query!r}, affected=<{len(self.affected)} units>, "
                f"removed=<{len(self.removed)}>, message={self.message!r})")


class WhereFrom:
    """Everything in one unit, level by level (``trace backward``)."""

    def __init__(self, query: dict[str, Any], unit: dict[str, Any] | None,
                 components: list[dict[str, Any]] | None = None,
                 message: str | None = None) -> None:
        self.query = query
        self.unit = unit
        self.components = components if components is not None else []
        self.message = message

    def as_dict(self) -> dict[str, Any]:
        """The contract's JSON document."""
        out = {"query": self.query, "unit": self.unit, "components": self.components}
        if self.message:
            out["message"] = self.message
        return out

    def __eq__(self, other: object) -> bool:
        return isinstance(other, WhereFrom) and self.as_dict() == other.as_dict()

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return (f"WhereFrom(query={self.query!r}, unit={self.unit!r}, "
                f"components=<{len(self.components)}>, message={self.message!r})")
