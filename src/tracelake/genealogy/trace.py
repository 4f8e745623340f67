"""Where-used and where-from: the questions the genealogy exists to answer, as library calls.

Each answer is a small object whose ``as_dict()`` is the JSON of ``tracelake trace`` in the CLI
contract. All reads go through the index built by :mod:`tracelake.genealogy.index`. Where-used
is one lookup of the start and one query: the closure rows of the start with the unit row of
each holder; paths are walked in numpy along ``via_down``. The affected units stay Arrow
columns until someone reads ``affected`` (then the list of dicts is built once, in bulk), so a
recall of thousands of units, its summary and its export frame cost milliseconds.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from tracelake.errors import TracelakeError
from tracelake.genealogy.columns import ZONE_PROBE, datetimes

__all__ = ["WhereFrom", "WhereUsed", "supplier_lots", "supplier_recall", "where_from",
           "where_used"]

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
        cols = [self.column(k) for k in AFFECTED_KEYS]
        return [dict(zip(AFFECTED_KEYS, row, strict=True)) for row in zip(*cols, strict=True)]

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
        out = {"query": self.query, "affected": self.affected, "removed": self.removed,
               "summary": self.summary}
        if self.message:
            out["message"] = self.message
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


# ------------------------------------------------------------------------------------------
# lookups


def _lot_node(con: duckdb.DuckDBPyConnection, code: str, lot: str) -> tuple[int, Any] | None:
    """(node id, a timestamp carrying the session's zone) of a lot, or None."""
    row = con.execute(f"SELECT node_id, {ZONE_PROBE} FROM genealogy.lot_keys "
                      "WHERE component_code = ?::VARCHAR AND lot_number = ?::VARCHAR",
                      [code, lot]).fetchone()
    return None if row is None else (int(row[0]), row[1])


def _serial_node(con: duckdb.DuckDBPyConnection, serial: str) -> int | None:
    row = con.execute("SELECT node_id FROM genealogy.serial_keys WHERE serial_number = ?::VARCHAR",
                      [serial]).fetchone()
    return None if row is None else int(row[0])


def _serial_node_zone(con: duckdb.DuckDBPyConnection, serial: str) -> tuple[int, Any] | None:
    row = con.execute(f"SELECT node_id, {ZONE_PROBE} FROM genealogy.serial_keys "
                      "WHERE serial_number = ?::VARCHAR", [serial]).fetchone()
    return None if row is None else (int(row[0]), row[1])


# ------------------------------------------------------------------------------------------
# where-used


def where_used(con: duckdb.DuckDBPyConnection, component_code: str | None = None,
               lot_number: str | None = None, *, serial_number: str | None = None,
               include_removed: bool = False) -> WhereUsed:
    """Every top-level unit containing lot (component_code, lot_number), or a serial.

    A lot number is only unique within its component code, so both are needed. Units from
    which the part was later removed are listed in ``removed`` (and, with ``include_removed``,
    in ``affected`` too, marked ``removed: true``). An unknown lot gives an empty answer and a
    message, not an error.
    """
    if serial_number is not None:
        query: dict[str, Any] = {"direction": "forward", "serial_number": serial_number}
        found = _serial_node_zone(con, serial_number)
        label = serial_number
        what = f"serial {serial_number}"
    else:
        query = {"direction": "forward", "component_code": component_code,
                 "lot_number": lot_number}
        found = _lot_node(con, str(component_code), str(lot_number))
        label = f"{component_code}/{lot_number}"
        what = f"lot {lot_number} of component {component_code}"
    if found is None:
        return WhereUsed(query, message=f"no {what} in the lake: nothing to trace")
    node, probe = found
    return _forward(con, {node: label}, probe.tzinfo, query, include_removed,
                    lots=serial_number is None)


def supplier_lots(con: duckdb.DuckDBPyConnection, component_code: str, supplier: str,
                  issued_from: dt.datetime | dt.date | None = None,
                  issued_to: dt.datetime | dt.date | None = None) -> list[str]:
    """Lot numbers of a component received from a supplier and issued in a date window."""
    return [lot for lot, _node, _zone in _supplier_lot_nodes(con, component_code, supplier,
                                                              issued_from, issued_to)]


def _supplier_lot_nodes(con: duckdb.DuckDBPyConnection, component_code: str, supplier: str,
                        issued_from: dt.datetime | dt.date | None,
                        issued_to: dt.datetime | dt.date | None) -> list[tuple[str, Any, Any]]:
    """(lot number, node id or None, zone probe) of each lot of ``supplier_lots``."""
    return con.execute(f"""
        WITH lots AS (
            SELECT DISTINCT lot_number FROM material_issues
            WHERE component_code = $code::VARCHAR AND lower(supplier) = lower($supplier::VARCHAR)
              AND ($from::TIMESTAMPTZ IS NULL OR issued_at >= $from::TIMESTAMPTZ)
              AND ($to::TIMESTAMPTZ IS NULL OR issued_at < $to::TIMESTAMPTZ))
        SELECT l.lot_number, k.node_id, {ZONE_PROBE} FROM lots l
        LEFT JOIN genealogy.lot_keys k
             ON k.component_code = $code::VARCHAR AND k.lot_number = l.lot_number
        ORDER BY l.lot_number""",
                       {"code": component_code, "supplier": supplier, "from": issued_from,
                        "to": issued_to}).fetchall()


def supplier_recall(con: duckdb.DuckDBPyConnection, component_code: str, supplier: str,
                    issued_from: dt.datetime | dt.date | None = None,
                    issued_to: dt.datetime | dt.date | None = None, *,
                    include_removed: bool = False) -> WhereUsed:
    """Where-used for every lot of a component from one supplier issued in a window."""
    found = _supplier_lot_nodes(con, component_code, supplier, issued_from, issued_to)
    lots = [lot for lot, _node, _zone in found]
    query = {"direction": "forward", "component_code": component_code, "supplier": supplier,
             "issued_from": issued_from, "issued_to": issued_to, "lots": lots}
    starts = {int(node): f"{component_code}/{lot}" for lot, node, _zone in found
              if node is not None}
    if not starts:
        return WhereUsed(query, message=f"no lots of {component_code} from {supplier} issued "
                                        "in that window")
    return _forward(con, starts, found[0][2].tzinfo, query, include_removed, lots=True)


#: the holders of serials: their closure rows
_SERIAL_HOLDERS_SQL = """
    SELECT anc, des, depth, via_down FROM genealogy.closure_by_anc WHERE {where}"""

#: the holders of lots: each edge out of the lot, and the closure rows of its parent
_LOT_HOLDERS_SQL = """
    SELECT e.child AS anc, e.parent, u.des, u.depth, u.via_down
    FROM genealogy.edges e LEFT JOIN genealogy.closure_by_anc u ON u.anc = e.parent
    WHERE {where}"""

_UNIT_ATTRS = ["serial_number", "product_code", "job_id", "status", "customer", "order_ref",
               "shipped_us"]


def key_ranges(column: str, keys: np.ndarray, gap: int = 256, most: int = 48) -> str:
    """An SQL condition that ``column`` lies in one of a few ranges covering ``keys``.

    Constant ranges let DuckDB skip every row group (and vector) outside them and test the
    rest with plain comparisons, where a join on the keys would hash every row of each row
    group it cannot skip. Keys closer than ``gap`` share a range; at most ``most`` ranges (the
    smallest gaps are closed first). The caller still matches the rows to ``keys`` exactly.
    """
    keys = np.unique(keys)
    if not len(keys):
        return "false"
    cut = np.flatnonzero(np.diff(keys) > gap)
    if len(cut) >= most:  # keep the widest gaps open
        cut = np.sort(cut[np.argsort(np.diff(keys)[cut])[-(most - 1):]])
    starts = np.concatenate([[0], cut + 1])
    ends = np.concatenate([cut, [len(keys) - 1]])
    return "(" + " OR ".join(f"{column} BETWEEN {int(keys[a])} AND {int(keys[b])}"
                             for a, b in zip(starts.tolist(), ends.tolist(), strict=True)) + ")"


def _holders(con: duckdb.DuckDBPyConnection, nodes: list[int], lots: bool
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(anc, des, depth, via_down) of every holder of the start nodes, one row per pair (the
    shortest path, through the lowest key at equal length), sorted by (anc, des)."""
    where = ("{k} = $s::BIGINT" if len(nodes) == 1 else "{k} IN (SELECT unnest($s::BIGINT[]))")
    params = {"s": nodes[0] if len(nodes) == 1 else nodes}
    if not lots:
        got = con.execute(_SERIAL_HOLDERS_SQL.format(where=where.format(k="anc")),
                          params).fetchnumpy()
        anc, des = np.asarray(got["anc"]), np.asarray(got["des"])
        order = np.lexsort((des, anc))
        return anc[order], des[order], np.asarray(got["depth"])[order], \
            np.asarray(got["via_down"])[order]
    got = con.execute(_LOT_HOLDERS_SQL.format(where=where.format(k="e.child")),
                      params).fetchnumpy()
    anc, parent = np.asarray(got["anc"]), np.asarray(got["parent"])
    above = ~np.ma.getmaskarray(got["des"])  # the parent is inside something
    direct = np.unique(np.stack([anc, parent]), axis=1)  # each edge once: (lot, parent, 1, lot)
    anc = np.concatenate([direct[0], anc[above]])
    des = np.concatenate([direct[1], np.ma.getdata(got["des"])[above]])
    depth = np.concatenate([np.ones(direct.shape[1], dtype=np.int64),
                            np.ma.getdata(got["depth"])[above].astype(np.int64) + 1])
    via = np.concatenate([direct[0], np.ma.getdata(got["via_down"])[above]])
    order = np.lexsort((via, depth, des, anc))  # the first row of each pair is the one kept
    anc, des, depth, via = anc[order], des[order], depth[order], via[order]
    first = np.ones(len(anc), dtype=bool)
    first[1:] = (anc[1:] != anc[:-1]) | (des[1:] != des[:-1])
    return anc[first], des[first], depth[first], via[first]


#: the unit rows of the holders (``{ranges}``: key ranges covering them)
_UNITS_SQL = """
    SELECT node_id, serial_number, top, product_code, job_id, status, customer, order_ref,
           epoch_us(shipped_at) AS shipped_us
    FROM genealogy.unit_info WHERE {ranges}"""

#: fitments undone of the holders and of the starts
_REMOVED_SQL = """
    SELECT child, parent_serial, child_label, removed_at, removal_ncr_id, removed_by, fitted_at
    FROM genealogy.removed WHERE {ranges}
    ORDER BY removed_at, parent_serial"""


def _forward(con: duckdb.DuckDBPyConnection, starts: dict[int, str], zone: dt.tzinfo | None,
             query: dict[str, Any], include_removed: bool, *, lots: bool) -> WhereUsed:
    nodes = sorted(starts)
    anc, des, depth, via = _holders(con, nodes, lots)
    removed = _removed_links(con, des, nodes)
    if not len(des):
        return WhereUsed(query, [], removed)
    units = con.execute(_UNITS_SQL.format(ranges=key_ranges("node_id", des))).to_arrow_table()
    if not units.num_rows:  # no holder is a unit: a null row to point at
        units = pa.Table.from_pylist([{}], schema=units.schema)
    unit_keys = np.ma.getdata(units.column("node_id").to_numpy(zero_copy_only=False))
    unit_order = np.argsort(unit_keys, kind="stable")
    at = np.minimum(np.searchsorted(unit_keys[unit_order], des), len(unit_keys) - 1)
    unit_row = unit_order[at]
    is_unit = (unit_keys[unit_row] == des) & units.column("node_id").is_valid().to_numpy(
        zero_copy_only=False)[unit_row]
    top = is_unit & units.column("top").fill_null(False).to_numpy(zero_copy_only=False)[unit_row]
    # the top-level holders in answer order: depth, serial; a holder of several starts keeps
    # its row of least depth (at equal depth, the start with the lower key)
    tops = np.flatnonzero(top)
    serial = units.column("serial_number").take(pa.array(unit_row[tops]))
    ranked = pa.table({"depth": depth[tops], "serial": serial, "anc": anc[tops]})
    rows = tops[pc.sort_indices(ranked, sort_keys=[("depth", "ascending"),
                                                    ("serial", "ascending"),
                                                    ("anc", "ascending")]).to_numpy()]
    if len(nodes) > 1 and len(rows):
        _, first = np.unique(des[rows], return_index=True)
        rows = rows[np.sort(first)]
    walks, start_at = _walks(anc, des, via, depth, rows)
    labels = units.column("serial_number").take(pa.array(unit_row))
    labels = pc.if_else(pa.array(is_unit), labels, pa.nulls(len(des), pa.string()))
    extra = _non_unit_labels(con, labels, des, walks)
    kept = units.select(_UNIT_ATTRS).take(pa.array(unit_row[rows]))
    kept = kept.append_column("depth", pa.array(depth[rows]))
    answer = WhereUsed(query, removed=removed, columns=AffectedColumns(
        kept, walks, labels, extra, starts, start_at, zone))
    if include_removed and answer.removed:
        _add_removed(con, answer, nodes, anc, des, via)
    return answer


def _walks(anc: np.ndarray, des: np.ndarray, via: np.ndarray, depth: np.ndarray,
           rows: np.ndarray) -> tuple[list[tuple[np.ndarray, np.ndarray]], np.ndarray]:
    """The path of each row in ``rows`` (closure rows sorted by (anc, des)), from its start up
    to its holder, as the closure rows of the nodes on it; and each row's start.

    Every node on such a path above the start is itself a holder of that start, so its row
    gives the next node down (``via_down``); all rows of one depth are walked together.
    Returns [(positions in ``rows``, matrix of closure rows: one column per level)], starts.
    """
    walks: list[tuple[np.ndarray, np.ndarray]] = []
    if not len(rows):
        return walks, anc[rows]
    width = int(max(des.max(), via.max(), anc.max())) + 1
    keys = anc * width + des  # sorted: the query orders by (anc, des)

    def row_of(a: np.ndarray, node: np.ndarray) -> np.ndarray:
        want = a * width + node
        pos = np.minimum(np.searchsorted(keys, want), len(keys) - 1)
        if not np.array_equal(keys[pos], want):
            raise TracelakeError("the genealogy index is inconsistent (a path leaves the "
                                 "closure): rebuild it")
        return pos

    sel_depth = depth[rows]
    for d in np.unique(sel_depth).tolist():
        at = np.flatnonzero(sel_depth == d)
        r = rows[at]
        a = anc[r]
        steps = np.empty((len(r), d), dtype=np.int64)  # closure row of each node above the start
        steps[:, d - 1] = r
        for k in range(d - 2, -1, -1):
            steps[:, k] = row_of(a, via[steps[:, k + 1]])
        walks.append((at, steps))
    return walks, anc[rows]


def _non_unit_labels(con: duckdb.DuckDBPyConnection, labels: pa.Array, des: np.ndarray,
                     walks: list[tuple[np.ndarray, np.ndarray]]) -> dict[int, str]:
    """Labels of the holders on the paths that are not units (a serialised part fitted by
    serial): closure row -> label, from ``nodes`` (usually none)."""
    missing = np.flatnonzero(labels.is_null().to_numpy(zero_copy_only=False))
    if not len(missing) or not walks:
        return {}
    on_path = np.unique(np.concatenate([steps.ravel() for _, steps in walks]))
    missing = np.intersect1d(missing, on_path)
    if not len(missing):
        return {}
    found = dict(con.execute("SELECT node_id, label FROM genealogy.nodes "
                             "WHERE node_id IN (SELECT unnest($n::BIGINT[]))",
                             {"n": np.unique(des[missing]).tolist()}).fetchall())
    return {int(i): found[int(des[i])] for i in missing.tolist()}


def _removed_links(con: duckdb.DuckDBPyConnection, des: np.ndarray,
                   starts: list[int]) -> list[dict[str, Any]]:
    """Fitments of the traced part (or of anything holding it: ``des``) that were undone."""
    keys = np.concatenate([des, np.array(starts, dtype=np.int64)])
    rows = con.execute(_REMOVED_SQL.format(ranges=key_ranges("child", keys))).fetchall()
    if not rows:
        return []
    inside = np.isin(np.array([r[0] for r in rows], dtype=np.int64), keys)
    return [{"serial_number": p, "component_serial": c, "removed_at": at,
             "removal_ncr_id": ncr, "removed_by": by, "fitted_at": fitted}
            for (_child, p, c, at, ncr, by, fitted), keep in zip(rows, inside.tolist(),
                                                                  strict=True) if keep]


def _add_removed(con: duckdb.DuckDBPyConnection, answer: WhereUsed, starts: list[int],
                 anc: np.ndarray, des: np.ndarray, via: np.ndarray) -> None:
    """``include_removed``: the units the part was taken out of, through every level above,
    appended to ``affected`` marked ``removed`` (each unit once)."""
    below = dict(zip(zip(anc.tolist(), des.tolist(), strict=True), via.tolist(), strict=True))
    labels = _labels(con, set(via.tolist()) | set(starts))
    current = {a["serial_number"] for a in answer.affected}
    for r in answer.removed:
        child = _serial_node(con, r["component_serial"])
        if child is not None:
            labels[child] = r["component_serial"]
        anc_of = next((a for a in starts if a == child or (a, child) in below), starts[0])
        base = _path(below, labels, anc_of, child) if child is not None \
            else [r["component_serial"]]
        for extra in _tops_of(con, r["serial_number"]):
            if extra["serial_number"] not in current:
                current.add(extra["serial_number"])
                path = base + extra["path"][1:] if extra["path"][0] == base[-1] else \
                    base + extra["path"]
                answer.affected.append({**extra, "depth": len(path) - 1, "path": path,
                                        "removed": True, "removal_ncr_id": r["removal_ncr_id"]})


def _path(below: dict[tuple[int, int], int], labels: dict[int, str], anc: int,
          des: int) -> list[str]:
    """Labels from ``anc`` up to ``des`` along the stored shortest path."""
    path = [labels[des]]
    node = des
    while node != anc:
        node = below[(anc, node)]
        path.append(labels[node])
    return list(reversed(path))


def _labels(con: duckdb.DuckDBPyConnection, nodes: set[int]) -> dict[int, str]:
    """Labels of a few nodes (paths of one holder; not for thousands)."""
    if not nodes:
        return {}
    return dict(con.execute("SELECT node_id, label FROM genealogy.nodes "
                            "WHERE node_id IN (SELECT unnest($n::BIGINT[]))",
                            {"n": sorted(nodes)}).fetchall())


_UNIT_COLS = ("serial_number", "product_code", "job_id", "status", "customer", "order_ref",
              "shipped_at")


def _tops_of(con: duckdb.DuckDBPyConnection, serial: str) -> list[dict[str, Any]]:
    """The top-level units holding a serial now (the serial itself if it is top-level),
    each with the path from the serial up to it."""
    node = _serial_node(con, serial)
    if node is None:
        return []
    rows = con.execute("""
        SELECT u.node_id, 0 AS depth, NULL AS via_down, u.top, u.serial_number, u.product_code,
               u.job_id, u.status, u.customer, u.order_ref, u.shipped_at
        FROM genealogy.unit_info u WHERE u.node_id = $node
        UNION ALL
        SELECT c.des, c.depth, c.via_down, u.top, u.serial_number, u.product_code, u.job_id,
               u.status, u.customer, u.order_ref, u.shipped_at
        FROM genealogy.closure_by_anc c LEFT JOIN genealogy.unit_info u ON u.node_id = c.des
        WHERE c.anc = $node""", {"node": node}).fetchall()
    below = {(node, des): via for des, _d, via, *_ in rows if via is not None}
    labels = _labels(con, {node} | {r[0] for r in rows} | set(below.values()))
    out = []
    for des, depth, _via, top, *unit in rows:
        if not top:
            continue
        info = dict(zip(_UNIT_COLS, unit, strict=True))
        out.append({**info, "depth": depth,
                    "path": [serial] if des == node else _path(below, labels, node, des)})
    return out


# ------------------------------------------------------------------------------------------
# where-from


def where_from(con: duckdb.DuckDBPyConnection, serial_number: str) -> WhereFrom:
    """Every lot and serial in a unit, level by level, with when each was fitted or issued.

    ``source`` says whether a link comes from a fitment record (``unit_components``) or only
    from a job-level issue (``material_issues``). Parts removed in rework are listed with their
    ``removed_at`` as history; what was inside them is not.

    Three lookups: the unit's key; its row and its contents (``closure_by_des``); then the
    links into each holder (the unit and the serials inside it), with the names of both ends,
    and the removals from them, all by constant keys so that zone maps prune every scan.
    """
    query = {"direction": "backward", "serial_number": serial_number}
    found = _serial_node_zone(con, serial_number)
    rows = con.execute("""
        SELECT 0 AS depth, NULL::BIGINT AS anc, serial_number, product_code, job_id, status
        FROM genealogy.unit_info WHERE node_id = $node
        UNION ALL
        SELECT depth, anc, NULL, NULL, NULL, NULL FROM genealogy.closure_by_des
        WHERE des = $node""", {"node": found[0]}).fetchall() if found is not None else []
    unit = next((r[2:] for r in rows if r[1] is None), None)
    if found is None or unit is None:
        return WhereFrom(query, None, message=f"no unit {serial_number} in the lake")
    node, probe = found
    depth_of = {node: 0} | {anc: depth for depth, anc, *_ in rows if anc is not None}
    keys = ", ".join(str(int(k)) for k in depth_of)
    links = con.execute(f"""
        WITH n AS (SELECT node_id, kind, component_code, lot_number, serial_number, label
                   FROM genealogy.nodes WHERE node_id IN ({keys}))
        SELECT false AS removal, e.parent,
               CASE WHEN l.node_id IS NULL THEN c.kind ELSE 'lot' END AS kind,
               coalesce(l.component_code, c.component_code) AS component_code,
               coalesce(l.lot_number, c.lot_number) AS lot_number, c.serial_number, p.label,
               e.source::VARCHAR, epoch_us(e.linked_at), NULL::BIGINT, NULL::VARCHAR
        FROM genealogy.edges_by_parent e JOIN n p ON p.node_id = e.parent
        LEFT JOIN genealogy.lot_keys l ON l.node_id = e.child  -- lots: not in the closure
        LEFT JOIN n c ON c.node_id = e.child
        WHERE e.parent IN ({keys}) AND (l.node_id IS NOT NULL OR c.node_id IS NOT NULL)
        UNION ALL
        SELECT true, r.parent, NULL, r.component_code, r.lot_number, r.component_serial,
               p.label, NULL, epoch_us(r.fitted_at), epoch_us(r.removed_at), r.removal_ncr_id
        FROM genealogy.removed r JOIN n p ON p.node_id = r.parent
        WHERE r.parent IN ({keys})
        ORDER BY removal, 10, 7, 4, 5, 6""").fetchall()
    zone = probe.tzinfo
    times = datetimes(pa.array([r[8] for r in links] + [r[9] for r in links], pa.int64()), zone)
    linked, removed = times[:len(links)], times[len(links):]
    components: list[dict[str, Any]] = []
    member_lot: dict[str, str] = {}
    history: list[tuple[Any, ...]] = []
    for i, (is_removal, parent, kind, code, lot, serial, label, source, _t, _r, ncr) in \
            enumerate(links):
        if is_removal:
            history.append((label, code, serial, lot, linked[i], removed[i], ncr))
        elif source == "lot":  # the lot a serialised part came from: shown on the part's line
            member_lot[label] = lot
        else:
            components.append({"component_code": code,
                               "lot_number": lot if kind == "lot" else None,
                               "component_serial": serial if kind == "serial" else None,
                               "parent_serial": label, "depth": depth_of[parent] + 1,
                               "fitted_at": linked[i], "removed_at": None, "source": source})
    for comp in components:
        if comp["component_serial"] in member_lot:
            comp["lot_number"] = member_lot[comp["component_serial"]]
    depth_by_serial = {serial_number: 0} | {c["component_serial"]: c["depth"]
                                            for c in components if c["component_serial"]}
    for parent, code, cserial, lot, fitted, removed_at, ncr in history:
        components.append({"component_code": code, "lot_number": lot,
                           "component_serial": cserial, "parent_serial": parent,
                           "depth": depth_by_serial.get(parent, 0) + 1, "fitted_at": fitted,
                           "removed_at": removed_at, "source": "unit_components",
                           "removal_ncr_id": ncr})
    components.sort(key=lambda c: (c["depth"], c["parent_serial"], c["component_code"] or "",
                                   c["removed_at"] is not None))
    return WhereFrom(query, dict(zip(("serial_number", "product_code", "job_id", "status"),
                                     unit, strict=True)), components)
