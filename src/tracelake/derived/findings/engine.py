"""The findings engine: the Finding row, the rule registry, and the release gate built on them."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

import duckdb

from tracelake.errors import RecordNotFound
from tracelake.lake.plant_time import plant_zone

__all__ = ["BATCH_FINDINGS_COUNT_PER_SERIAL", "RULES", "SEVERITIES", "Finding", "ReleaseGate",
           "RuleContext", "list_findings", "release_gate", "rule", "unit_finding_counts",
           "unit_findings"]

#: Most severe first; ``critical`` blocks release.
SEVERITIES = ("critical", "major", "minor")


@dataclass
class Finding:
    """One thing wrong with a record: what rule, how bad, which job/serial, which record, why."""

    rule: str
    severity: str
    job_id: str | None
    serial_number: str | None
    record: str
    message: str
    source: dict[str, Any] | None = None  # file and row of a quarantined or orphan source row

    def as_dict(self) -> dict[str, Any]:
        """The contract's JSON row (plus ``source`` when the finding comes from a source row)."""
        out = asdict(self)
        if out["source"] is None:
            del out["source"]
        return out


@dataclass
class RuleContext:
    """What every rule gets: the connection, the job in scope (None = all), the plant's zone."""

    con: duckdb.DuckDBPyConnection
    job_id: str | None
    zone: ZoneInfo

    def rows(self, sql: str, **params: Any) -> list[dict[str, Any]]:
        """Run a rule's query with ``$job`` bound to the job in scope; rows as dicts."""
        if "$job" in sql:
            params["job"] = self.job_id
        cur = self.con.execute(sql, params)
        names = [d[0] for d in cur.description]  # type: ignore[union-attr]
        return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]

    def has_table(self, name: str) -> bool:
        """True if the lake has this table (the genealogy index may not be built yet)."""
        schema, _, table = name.rpartition(".")
        return bool(self.con.execute(
            "SELECT count(*) FROM duckdb_tables() WHERE table_name = ? AND schema_name = ?",
            [table, schema or "main"]).fetchone()[0])  # type: ignore[index]


RuleFn = Callable[[RuleContext], list[Finding]]

#: rule name -> (default severity, function); filled by :func:`rule` in ``rules.py``.
RULES: dict[str, tuple[str, RuleFn]] = {}


def rule(name: str, severity: str) -> Callable[[RuleFn], RuleFn]:
    """Register a rule function under its contract name."""
    def register(fn: RuleFn) -> RuleFn:
        RULES[name] = (severity, fn)
        return fn
    return register


def list_findings(con: duckdb.DuckDBPyConnection, job_id: str | None = None, *,
                  rules: list[str] | None = None) -> list[Finding]:
    """Every finding in the lake, or of one job, most severe first.

    Raises:
        RecordNotFound: ``job_id`` names no job in the lake.
    """
    if job_id is not None and not con.execute("SELECT 1 FROM jobs WHERE job_id = ?::VARCHAR",
                                              [job_id]).fetchone():
        raise RecordNotFound(f"job {job_id} is not in the lake")
    ctx = RuleContext(con, job_id, plant_zone(con))
    found: list[Finding] = []
    for name, (_severity, fn) in RULES.items():
        if rules is not None and name not in rules:
            continue
        found.extend(f for f in fn(ctx) if job_id is None or f.job_id == job_id)
    order = {s: i for i, s in enumerate(SEVERITIES)}
    found.sort(key=lambda f: (order.get(f.severity, 9), f.job_id or "", f.rule,
                              f.serial_number or "", f.record))
    return found


#: Whether a job's findings that name no one unit (a revision, an ECN, a release signature, an
#: equipment event) count against each of its serials. They do: they concern every unit of the
#: job. Every count of a unit's findings (BMR serial list, DHR, dashboards) says so.
BATCH_FINDINGS_COUNT_PER_SERIAL = True


def unit_findings(findings: list[Finding], serial: str, job_id: str | None) -> list[Finding]:
    """The findings on one unit's record: its own, then its job's batch-level ones (which name no
    unit). The one rule the BMR, the DHR and the dashboards count a unit's findings by."""
    own = [f for f in findings if f.serial_number == serial]
    batch = [f for f in findings if f.serial_number is None and f.job_id == job_id
             and BATCH_FINDINGS_COUNT_PER_SERIAL]
    return own + batch


def unit_finding_counts(findings: list[Finding], serial: str, job_id: str | None) -> dict[str, int]:
    """``{"total", "own", "batch"}``: how many findings a unit's record carries (``total`` =
    ``own`` + ``batch`` while batch-level findings count per serial)."""
    mine = unit_findings(findings, serial, job_id)
    own = sum(1 for f in mine if f.serial_number == serial)
    return {"total": len(mine), "own": own, "batch": len(mine) - own}


@dataclass
class ReleaseGate:
    """Whether a job's record can be shown as releasable, and why not."""

    job_id: str
    status: str  # "released", "release blocked", "ready for release", "not complete"
    releasable: bool
    reasons: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return asdict(self)


def release_gate(con: duckdb.DuckDBPyConnection, job_id: str,
                 findings: list[Finding] | None = None) -> ReleaseGate:
    """The release decision for a job: blocked by any critical finding, whatever the MRP says."""
    if findings is None:
        findings = list_findings(con, job_id)
    row = con.execute("SELECT status, released_at FROM jobs WHERE job_id = ?::VARCHAR",
                      [job_id]).fetchone()
    if row is None:
        raise RecordNotFound(f"job {job_id} is not in the lake")
    job_status, released_at = row
    counts = dict(Counter(f.severity for f in findings))
    critical = [f for f in findings if f.severity == "critical"]
    reasons = [f"{f.rule}: {f.message}" for f in critical]
    if critical:
        status = "release blocked"
    elif released_at is not None or job_status == "released":
        status = "released"
    elif job_status == "complete":
        status = "ready for release"
    else:
        status = "not complete"
        reasons.append(f"the job is {job_status.replace('_', ' ')}")
    return ReleaseGate(job_id, status, releasable=not critical and job_status in ("complete", "released"),
                       reasons=reasons, counts={s: counts.get(s, 0) for s in SEVERITIES})
