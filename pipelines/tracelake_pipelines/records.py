"""Review by exception in Dagster: the findings of every batch record, one asset check per rule.

Findings are results, not failures: a check fails (ERROR for rules that block release, WARN for
the rest) so the run page shows what an auditor would find, but nothing downstream is blocked.
"""

from __future__ import annotations

from collections import Counter, defaultdict

import dagster as dg

from tracelake.derived.findings import RULES, list_findings, release_gate
from tracelake.lake.snapshot import open_snapshot
from tracelake_pipelines.assets import POOL, lake_snapshot
from tracelake_pipelines.resources import TracelakeResource

_SPECS = [dg.AssetCheckSpec(name, asset="record_findings",
                            description=(fn.__doc__ or name).split("\n")[0].strip())
          for name, (_severity, fn) in RULES.items()]


def _rule_check(name: str, found: list) -> dg.AssetCheckResult:  # type: ignore[type-arg]
    severity = RULES[name][0]
    mine = [f for f in found if f.rule == name]
    return dg.AssetCheckResult(
        check_name=name, passed=not mine,
        severity=dg.AssetCheckSeverity.ERROR if severity == "critical" else dg.AssetCheckSeverity.WARN,
        metadata={"findings": len(mine),
                  "jobs": dg.MetadataValue.json(dict(Counter(f.job_id for f in mine))),
                  # JSON, not Markdown: finding messages quote lake text, shown as stored
                  "first_findings": dg.MetadataValue.json(
                      [{"severity": f.severity, "job": f.job_id, "serial": f.serial_number,
                        "record": f.record, "message": f.message} for f in mine[:20]])})


@dg.asset(group_name="records", kinds={"duckdb"}, pool=POOL, deps=[lake_snapshot],
          check_specs=_SPECS)
def record_findings(tracelake: TracelakeResource) -> dg.MaterializeResult:
    """Every batch record's findings on the published snapshot, and which jobs release is blocked for."""
    con = open_snapshot(tracelake.lake_paths())
    try:
        found = list_findings(con)
        jobs = [r[0] for r in con.execute("SELECT job_id FROM jobs ORDER BY job_id").fetchall()]
        by_job: dict[str | None, list] = defaultdict(list)  # type: ignore[type-arg]
        for f in found:
            by_job[f.job_id].append(f)
        gates = {j: release_gate(con, j, by_job.get(j, [])) for j in jobs}
    finally:
        con.close()
    blocked = sorted(j for j, g in gates.items() if g.status == "release blocked")
    return dg.MaterializeResult(
        metadata={"findings": len(found),
                  "by_severity": dg.MetadataValue.json(dict(Counter(f.severity for f in found))),
                  "by_rule": dg.MetadataValue.json(dict(Counter(f.rule for f in found))),
                  "release_blocked": dg.MetadataValue.json(blocked),
                  "jobs": len(jobs)},
        check_results=[_rule_check(name, found) for name in RULES])
