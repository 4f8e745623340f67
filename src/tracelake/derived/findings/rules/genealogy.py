"""The genealogy: references the lake cannot resolve, cycles, a serial in two units at once."""

from __future__ import annotations

from tracelake.derived.findings.engine import Finding, RuleContext, rule
from tracelake.derived.findings.rules._shared import (
    _JOB_SCOPE,
)

# ---------------------------------------------------------------- references and graph

@rule("orphan_reference", "major")
def orphan_reference(ctx: RuleContext) -> list[Finding]:
    """A loaded row names a job, serial, lot or equipment item the lake does not know."""
    if not ctx.has_table("orphan_references"):
        return []
    return [Finding("orphan_reference", "major", r["job_id"], r["serial_number"],
                    f"{r['table_name']}:{r['column_names']}={r['value']}",
                    f"{r['table_name']} row {r['row_number']} of {r['source_file']} names "
                    f"{r['kind']} {r['value']}, which is not in {r['referenced_table']}",
                    source={"file": r["source_file"], "row": r["row_number"]})
            for r in ctx.rows(f"""SELECT * FROM orphan_references
                                  WHERE {_JOB_SCOPE.format(col="job_id")}
                                  ORDER BY table_name, source_file, row_number""")]


@rule("genealogy_cycle", "critical")
def genealogy_cycle(ctx: RuleContext) -> list[Finding]:
    """A serial that (through its fitted parts) contains itself: the genealogy cannot be trusted."""
    if not ctx.has_table("genealogy.cycles"):
        return []
    return [Finding("genealogy_cycle", "critical", r["job_id"], r["serial_number"],
                    f"genealogy:{r['serial_number']}",
                    f"{r['serial_number']} is fitted, through {r['cycle_length']} level(s), into "
                    "itself: the fitment records form a cycle; correct unit_components")
            for r in ctx.rows(f"""
        SELECT n.label AS serial_number, c.cycle_length, u.job_id
        FROM genealogy.cycles c JOIN genealogy.nodes n USING (node_id)
        LEFT JOIN units u ON u.serial_number = n.label
        WHERE {_JOB_SCOPE.format(col="u.job_id")} ORDER BY n.label""")]


@rule("serial_in_two_units", "major")
def serial_in_two_units(ctx: RuleContext) -> list[Finding]:
    """A serialised part recorded as fitted in two units at once (no removal between)."""
    if not ctx.has_table("genealogy.multi_parent"):
        return []
    return [Finding("serial_in_two_units", "major", r["job_id"], r["parent"],
                    f"unit_components:{r['parent']}/{r['serial_number']}",
                    f"{r['serial_number']} is recorded as fitted in {', '.join(r['parents'])} at the "
                    "same time (no removal recorded)")
            for r in ctx.rows(f"""
        SELECT n.label AS serial_number, m.parents, p.parent, u.job_id
        FROM genealogy.multi_parent m JOIN genealogy.nodes n USING (node_id),
             unnest(m.parents) AS p(parent)
        LEFT JOIN units u ON u.serial_number = p.parent
        WHERE {_JOB_SCOPE.format(col="u.job_id")} ORDER BY n.label, p.parent""")]


