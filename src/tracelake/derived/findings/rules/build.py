"""How the batch was built: to the approved revision, by named people at stated times, with its
ECNs linked."""

from __future__ import annotations

import json
from typing import Any

from tracelake.contracts import CONTRACTS
from tracelake.derived.findings.engine import Finding, RuleContext, rule
from tracelake.derived.findings.rules._shared import (
    _JOB_SCOPE,
    _OPS_WITH_STEP,
    _op_name,
    _op_record,
)
from tracelake.lake.plant_time import stamp

# ---------------------------------------------------------------- wrong_revision

@rule("wrong_revision", "critical")
def wrong_revision(ctx: RuleContext) -> list[Finding]:
    """Built to an MBR revision that was not the approved one at job creation, or a BOM snapshot
    that differs from the MBR's BOM (unless an ECN applied to the job explains the line)."""
    out: list[Finding] = []
    for j in ctx.rows(f"""
        SELECT j.job_id, j.product_code, j.mbr_revision, j.drawing_revision, j.created_at,
               m.status AS mbr_status, m.drawing_revision AS mbr_drawing,
               (SELECT arg_max(m2.mbr_revision, coalesce(m2.effective_from, m2.approved_at))
                FROM mbr m2 WHERE m2.product_code = j.product_code
                  AND m2.approved_at IS NOT NULL AND m2.status IN ('approved', 'superseded')
                  AND coalesce(m2.effective_from, m2.approved_at) <= j.created_at) AS approved_rev
        FROM jobs j LEFT JOIN mbr m USING (product_code, mbr_revision)
        WHERE {_JOB_SCOPE.format(col="j.job_id")} AND j.status <> 'cancelled'
        ORDER BY j.job_id"""):
        rec = f"jobs:{j['job_id']}"
        rev = f"{j['product_code']} rev {j['mbr_revision']}"
        if j["mbr_status"] is None:
            msg = f"{j['job_id']} is built to {rev}, which has no master batch record in the lake"
        elif j["approved_rev"] is None:
            msg = (f"{j['job_id']} is built to {rev}, but no revision of {j['product_code']} was "
                   f"approved and effective when the job was created ({stamp(j['created_at'], ctx.zone)})")
        elif j["approved_rev"] != j["mbr_revision"]:
            msg = (f"{j['job_id']} is built to {rev} ({j['mbr_status']}); the approved revision when "
                   f"the job was created ({stamp(j['created_at'], ctx.zone)}) was "
                   f"rev {j['approved_rev']}")
        elif j["mbr_drawing"] is not None and j["drawing_revision"] != j["mbr_drawing"]:
            msg = (f"{j['job_id']} names drawing revision {j['drawing_revision']}, but {rev} is "
                   f"drawing revision {j['mbr_drawing']}")
        else:
            continue
        out.append(Finding("wrong_revision", "critical", j["job_id"], None, rec, msg))
    out.extend(_bom_differences(ctx))
    return out


def _bom_differences(ctx: RuleContext) -> list[Finding]:
    lines = ctx.rows(f"""
        WITH scope AS (SELECT * FROM jobs j WHERE {_JOB_SCOPE.format(col="j.job_id")}
                       AND j.status <> 'cancelled'
                       AND EXISTS (SELECT 1 FROM bom_snapshot b WHERE b.job_id = j.job_id)),
        snap AS (SELECT b.* FROM bom_snapshot b JOIN scope USING (job_id)),
        master AS (SELECT s.job_id, mb.line_no, mb.component_code, mb.component_revision, mb.qty_per
                   FROM scope s JOIN mbr_bom mb ON mb.product_code = s.product_code
                        AND mb.mbr_revision = s.mbr_revision)
        SELECT coalesce(s.job_id, m.job_id) AS job_id, coalesce(s.line_no, m.line_no) AS line_no,
               s.component_code AS s_code, s.component_revision AS s_rev, s.qty_per AS s_qty,
               m.component_code AS m_code, m.component_revision AS m_rev, m.qty_per AS m_qty
        FROM snap s FULL JOIN master m ON s.job_id = m.job_id AND s.line_no = m.line_no
        WHERE s.component_code IS DISTINCT FROM m.component_code
           OR s.component_revision IS DISTINCT FROM m.component_revision
           OR s.qty_per IS DISTINCT FROM m.qty_per
        ORDER BY 1, 2""")
    if not lines:
        return []
    # an ECN applied to the job explains a line that matches the ECN's target revision's BOM
    ecn_lines: dict[tuple[str, Any], list[tuple[Any, Any, Any, str]]] = {}
    for r in ctx.rows(f"""
        SELECT je.job_id, e.ecn_id, mb.line_no, mb.component_code, mb.component_revision, mb.qty_per
        FROM job_ecns je JOIN ecns e USING (ecn_id) JOIN jobs j ON j.job_id = je.job_id
        LEFT JOIN mbr_bom mb ON mb.product_code = e.product_code AND mb.mbr_revision = e.to_revision
        WHERE {_JOB_SCOPE.format(col="je.job_id")}"""):
        ecn_lines.setdefault((r["job_id"], r["line_no"]), []).append(
            (r["component_code"], r["component_revision"], r["qty_per"], r["ecn_id"]))
    out = []
    for d in lines:
        explained = any((code, rev, qty) == (d["s_code"], d["s_rev"], d["s_qty"])
                        for code, rev, qty, _ in ecn_lines.get((d["job_id"], d["line_no"]), []))
        if explained:
            continue
        snap = (f"{d['s_code']} rev {d['s_rev']} x{d['s_qty']:g}" if d["s_code"] else "nothing")
        master = (f"{d['m_code']} rev {d['m_rev']} x{d['m_qty']:g}" if d["m_code"] else "nothing")
        out.append(Finding(
            "wrong_revision", "critical", d["job_id"], None,
            f"bom_snapshot:{d['job_id']}/{d['line_no']}",
            f"BOM snapshot line {d['line_no']} of {d['job_id']} has {snap} where the MBR has "
            f"{master}, and no ECN applied to the job explains it"))
    return out


# ---------------------------------------------------------------- missing_operator_or_time

# (table, person column, time columns) of every executed record that must say who and when
_ATTRIBUTED = {
    "operations": ("operator", ("started_at", "finished_at")),
    "test_results": ("operator", ("tested_at",)),
    "material_issues": ("issued_by", ("issued_at",)),
    "unit_components": ("fitted_by", ("fitted_at",)),
    "firmware_loads": ("loaded_by", ("loaded_at",)),
    "label_checks": ("checked_by", ("checked_at",)),
    "signoffs": ("signed_by", ("signed_at",)),
    "job_ecns": ("applied_by", ("applied_at",)),
    "ncrs": ("raised_by", ("raised_at",)),
}
_PLACEHOLDERS = ("", "-", "--", "?", "n/a", "na", "none", "unknown", "tbc", "tba")


@rule("missing_operator_or_time", "critical")
def missing_operator_or_time(ctx: RuleContext) -> list[Finding]:
    """A record with no operator or no time: loaded rows with a placeholder name, and rows the
    contracts quarantined for a missing or unreadable person or time (with their file and row)."""
    out: list[Finding] = []
    for r in ctx.rows(f"""
        SELECT * FROM ({_OPS_WITH_STEP})
        WHERE lower(trim(operator)) IN {_PLACEHOLDERS!r} OR finished_at < started_at
        ORDER BY job_id, op_seq, serial_number"""):
        what = (f"finishes ({stamp(r['finished_at'], ctx.zone)}) before it starts "
                f"({stamp(r['started_at'], ctx.zone)})"
                if r["finished_at"] < r["started_at"] else f"names no operator ({r['operator']!r})")
        out.append(Finding("missing_operator_or_time", "critical", r["job_id"], r["serial_number"],
                           _op_record(r), f"{_op_name(r)} of {r['job_id']} {what}",
                           source={"file": r["_source_file"], "row": r["_row"]}))
    columns = sorted({c for person, times in _ATTRIBUTED.values() for c in (person, *times)})
    tables = sorted(_ATTRIBUTED)
    for q in ctx.rows(f"""
        WITH q AS (
            SELECT DISTINCT ON (source_file, row_number, column_name) *,
                   json_extract_string(raw, '$.job_id') AS raw_job,
                   json_extract_string(raw, '$.serial_number') AS raw_serial,
                   json_extract_string(raw, '$.record_type') AS raw_record_type,
                   json_extract_string(raw, '$.record_id') AS raw_record_id,
                   json_extract_string(raw, '$.op_seq') AS raw_op_seq
            FROM quarantine
            WHERE superseded_by_run IS NULL
              AND table_name IN {tuple(tables)!r} AND column_name IN {tuple(columns)!r}
              AND rule IN ('required', 'wrong_type')
            ORDER BY source_file, row_number, column_name, quarantined_at DESC)
        SELECT q.*, coalesce(q.raw_job, u.job_id, n.job_id,
               CASE WHEN q.raw_record_type IN ('job', 'release', 'operation')
                    THEN split_part(q.raw_record_id, '/', 1) END) AS job
        FROM q LEFT JOIN units u ON u.serial_number = q.raw_serial
        LEFT JOIN ncrs n ON q.raw_record_type = 'ncr' AND n.ncr_id = q.raw_record_id
        ORDER BY q.source_file, q.row_number"""):
        person, _times = _ATTRIBUTED[q["table_name"]]
        missing = "no operator" if q["column_name"] == person else f"no usable {q['column_name']}"
        raw = json.loads(q["raw"] or "{}")
        key = "/".join(str(raw[k]) for k in CONTRACTS[q["table_name"]].natural_key if raw.get(k))
        out.append(Finding(
            "missing_operator_or_time", "critical", q["job"], q["raw_serial"],
            f"{q['table_name']}:{key or 'row ' + str(q['row_number'])}",
            f"{q['table_name']} row {q['row_number']} of {q['source_file']} has {missing} "
            f"({q['message']}); it was quarantined, so the record has no attributable entry",
            source={"file": q["source_file"], "row": q["row_number"], "column": q["column_name"]}))
    return out


# ---------------------------------------------------------------- unlinked_ecn

@rule("unlinked_ecn", "major")
def unlinked_ecn(ctx: RuleContext) -> list[Finding]:
    """An ECN against the job's revision that became effective while the job was open (created,
    not yet released) and is not applied to it."""
    return [Finding(
        "unlinked_ecn", "major", r["job_id"], None, f"ecns:{r['ecn_id']}",
        f"{r['ecn_id']} ({r['product_code']} rev {r['from_revision']} → {r['to_revision']}) became "
        f"effective {stamp(r['effective_at'], ctx.zone)} while {r['job_id']} was open "
        f"(created {stamp(r['created_at'], ctx.zone)}, "
        f"{'released ' + stamp(r['released_at'], ctx.zone) if r['released_at'] else 'not released'}),"
        f" but is not applied to it: {r['description']}")
        for r in ctx.rows(f"""
        SELECT j.job_id, j.created_at, j.released_at, e.*
        FROM jobs j JOIN ecns e ON e.product_code = j.product_code
             AND e.from_revision = j.mbr_revision
        WHERE {_JOB_SCOPE.format(col="j.job_id")} AND j.status <> 'cancelled'
          AND e.effective_at > j.created_at
          AND e.effective_at <= coalesce(j.released_at, now())
          AND NOT EXISTS (SELECT 1 FROM job_ecns je WHERE je.job_id = j.job_id
                          AND je.ecn_id = e.ecn_id)
        ORDER BY j.job_id, e.ecn_id""")]


