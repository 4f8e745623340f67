"""Which part of the lake an EPCIS export covers: the trace commands' selectors turned into a
set of jobs and serials (``None``: the whole lake), plus the recall answer if there is one."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

import duckdb

from tracelake.derived.genealogy import WhereUsed, supplier_recall, where_from, where_used
from tracelake.errors import InputError

__all__ = ["Scope", "Selection", "resolve"]


@dataclasses.dataclass(frozen=True)
class Selection:
    """The selectors of ``tracelake export epcis`` (at most one group of them), or a recall
    answer already computed (the dashboards' recall page)."""

    job: str | None = None
    component: str | None = None
    lot: str | None = None
    serial: str | None = None
    supplier: str | None = None
    answer: WhereUsed | None = None

    def describe(self) -> dict[str, Any]:
        """The selectors given, for the document's header."""
        out = {k: v for k, v in dataclasses.asdict(self).items() if v is not None and k != "answer"}
        if self.answer is not None:
            out["recall"] = {k: (v.isoformat() if isinstance(v, dt.date) else v)
                             for k, v in self.answer.query.items() if v is not None}
        return out


@dataclasses.dataclass
class Scope:
    """Jobs and serials an export covers (None: everything) and, for a recall, the units to
    mark ``recalled`` and the lots recalled."""

    jobs: set[str] | None = None
    serials: set[str] | None = None
    recalled_units: list[str] = dataclasses.field(default_factory=list)
    recalled_lots: list[tuple[str, str]] = dataclasses.field(default_factory=list)
    message: str | None = None

    @property
    def everything(self) -> bool:
        return self.jobs is None and self.serials is None


def _check(sel: Selection) -> None:
    groups = [sel.job is not None, sel.component is not None or sel.lot is not None,
              sel.serial is not None, sel.answer is not None]
    if sum(groups) + (sel.supplier is not None and sel.lot is None and sel.component is None) > 1:
        raise InputError("give one selector: --job, --component with --lot, --serial or "
                         "--supplier (with or without --component)")
    if sel.lot is not None and sel.component is None:
        raise InputError("--lot needs --component (a lot number is unique only within its "
                         "component)")
    if sel.component is not None and sel.lot is None and sel.supplier is None:
        raise InputError("--component needs --lot or --supplier")
    if sel.lot is not None and sel.supplier is not None:
        raise InputError("give --lot or --supplier, not both")


def _jobs_of(con: duckdb.DuckDBPyConnection, serials: set[str]) -> set[str]:
    if not serials:
        return set()
    rows = con.execute("SELECT DISTINCT job_id FROM units WHERE list_contains($s, serial_number)",
                       {"s": sorted(serials)}).fetchall()
    return {r[0] for r in rows}


def _from_answer(con: duckdb.DuckDBPyConnection, answer: WhereUsed, scope: Scope) -> Scope:
    """Every serial on the answer's paths (top-level units, the sub-assemblies between), the
    units the part was removed from, and the jobs that consumed the lots traced."""
    serials: set[str] = set()
    for row in answer.affected:
        serials.update(row["path"][1:] if row.get("path") else [row["serial_number"]])
        if not row.get("removed"):
            scope.recalled_units.append(row["serial_number"])
    for row in answer.removed:
        serials.add(row["serial_number"])
    query = answer.query
    code = query.get("component_code")
    lots = [query["lot_number"]] if query.get("lot_number") else list(query.get("lots") or [])
    scope.recalled_lots.extend((str(code), str(lot)) for lot in lots if code)
    if query.get("serial_number"):
        serials.add(str(query["serial_number"]))
    jobs = _jobs_of(con, serials)
    for c, lot in scope.recalled_lots:
        jobs.update(r[0] for r in con.execute(
            "SELECT DISTINCT job_id FROM material_issues WHERE component_code = ? AND "
            "lot_number = ?", [c, lot]).fetchall())
    scope.serials, scope.jobs = serials, jobs
    scope.recalled_units = sorted(set(scope.recalled_units))
    scope.message = answer.message
    return scope


def resolve(con: duckdb.DuckDBPyConnection, sel: Selection) -> Scope:
    """The scope of a selection (raises InputError for a wrong combination of selectors)."""
    _check(sel)
    if sel.answer is not None:
        return _from_answer(con, sel.answer, Scope())
    if sel.job is not None:
        if con.execute("SELECT 1 FROM jobs WHERE job_id = ?", [sel.job]).fetchone() is None:
            return Scope(jobs=set(), serials=set(), message=f"no job {sel.job} in the lake")
        serials = {r[0] for r in con.execute("SELECT serial_number FROM units WHERE job_id = ?",
                                             [sel.job]).fetchall()}
        return Scope(jobs={sel.job}, serials=serials)
    if sel.lot is not None:
        return _from_answer(con, where_used(con, sel.component, sel.lot), Scope())
    if sel.supplier is not None:
        codes = [sel.component] if sel.component is not None else [r[0] for r in con.execute(
            "SELECT DISTINCT component_code FROM material_issues WHERE lower(supplier) = "
            "lower(?) ORDER BY 1", [sel.supplier]).fetchall()]
        scope = Scope(jobs=set(), serials=set())
        for code in codes:
            part = _from_answer(con, supplier_recall(con, code, sel.supplier), Scope())
            scope.jobs |= part.jobs or set()  # type: ignore[operator]
            scope.serials |= part.serials or set()  # type: ignore[operator]
            scope.recalled_units = sorted(set(scope.recalled_units) | set(part.recalled_units))
            scope.recalled_lots += part.recalled_lots
        if not codes:
            scope.message = f"no material from supplier {sel.supplier} in the lake"
        return scope
    if sel.serial is not None:
        found = where_from(con, sel.serial)
        if found.unit is None:
            return Scope(jobs=set(), serials=set(), message=found.message)
        serials = {sel.serial} | {c["component_serial"] for c in found.components
                                  if c.get("component_serial")}
        used = where_used(con, serial_number=sel.serial)
        for row in used.affected:
            serials.update(row["path"][1:])
        return Scope(jobs=_jobs_of(con, serials), serials=serials)
    return Scope()
