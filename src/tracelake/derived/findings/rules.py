"""The v1 findings rules, one function each, named as in ``cli-contract.md``.

Every rule reads the canonical tables (current rows), and where the contract says so the
quarantine too, and returns :class:`Finding` rows. ``$job`` in a query is the job in scope (NULL
= every job). Times in messages are plant-local (``plant_time.stamp``).

Rules beyond the contract's v1 list: ``calibration_out_of_tolerance`` (results taken with
equipment that its next calibration found out of tolerance: ISO 13485 7.6 asks for an
assessment), ``serial_in_two_units`` (a serial fitted into two units at once), and from import
contract v2 ``lot_expired_at_use``, ``lot_unusable_at_use`` (a goods-in lot rejected, on hold or
recalled), ``equipment_out_of_service_at_use`` and ``calibration_as_found_not_recorded``.
"""

from __future__ import annotations

import json
from typing import Any

from tracelake.contracts import CONTRACTS
from tracelake.derived.findings.engine import Finding, RuleContext, rule
from tracelake.intake.labels import check_label, parse_label
from tracelake.lake.plant_time import stamp

# ---------------------------------------------------------------- helpers

_JOB_SCOPE = "(CAST($job AS VARCHAR) IS NULL OR {col} = $job)"

# operations, with the MBR step they execute
_OPS_WITH_STEP = """
    SELECT o.*, m.op_code AS mbr_op_code, m.needs_calibrated_equipment, m.first_article
    FROM operations o JOIN jobs j USING (job_id)
    LEFT JOIN mbr_operations m ON m.product_code = j.product_code
         AND m.mbr_revision = j.mbr_revision AND m.op_seq = o.op_seq
    WHERE (CAST($job AS VARCHAR) IS NULL OR o.job_id = $job)
"""

# test results, with the job of their unit
_RESULTS = """
    SELECT r.*, u.job_id FROM test_results r LEFT JOIN units u USING (serial_number)
    WHERE (CAST($job AS VARCHAR) IS NULL OR u.job_id = $job)
"""


def _op_record(r: dict[str, Any]) -> str:
    serial = f"/{r['serial_number']}" if r.get("serial_number") else ""
    return f"operations:{r['job_id']}/{r['op_seq']}{serial}"


def _op_name(r: dict[str, Any]) -> str:
    where = f" on {r['serial_number']}" if r.get("serial_number") else " (batch)"
    return f"op {r['op_seq']} {r.get('op_code') or ''}".rstrip() + where


def _result_record(r: dict[str, Any], zone: Any) -> str:
    return (f"test_results:{r['serial_number']}/{r['test_step']}/{r['measurement']}/"
            f"{stamp(r['tested_at'], zone)}")


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


# ---------------------------------------------------------------- calibration

# equipment that needs no calibration (contract v2: calibration_required false) is never
# overdue and its use is no finding
_CAL_IN_FORCE = """
    SELECT * FROM (
    SELECT u.*, c.certificate_no, c.calibrated_at, c.due_at
    FROM ({uses}) u ASOF LEFT JOIN calibrations c
      ON c.equipment_id = u.equipment_id AND u.used_at >= c.calibrated_at) x
    WHERE NOT EXISTS (SELECT 1 FROM equipment e WHERE e.equipment_id = x.equipment_id
                      AND e.calibration_required = false)
"""

_OP_USES = f"""SELECT *, started_at AS used_at FROM ({_OPS_WITH_STEP}) WHERE equipment_id IS NOT NULL"""
_RESULT_USES = f"""SELECT *, tested_at AS used_at FROM ({_RESULTS})"""


@rule("calibration_not_traceable", "critical")
def calibration_not_traceable(ctx: RuleContext) -> list[Finding]:
    """A step that needs calibrated equipment names none, or a measurement or step used equipment
    with no calibration record in force on the day of use."""
    out = [Finding("calibration_not_traceable", "critical", r["job_id"], r["serial_number"],
                   _op_record(r), f"{_op_name(r)} of {r['job_id']} needs calibrated equipment "
                                  "(MBR) but names none")
           for r in ctx.rows(f"""SELECT * FROM ({_OPS_WITH_STEP})
                                 WHERE needs_calibrated_equipment AND equipment_id IS NULL
                                 ORDER BY job_id, op_seq, serial_number""")]
    for r in ctx.rows(f"""SELECT * FROM ({_CAL_IN_FORCE.format(uses=_OP_USES)})
                          WHERE calibrated_at IS NULL AND needs_calibrated_equipment
                          ORDER BY job_id, op_seq, serial_number"""):
        out.append(Finding("calibration_not_traceable", "critical", r["job_id"], r["serial_number"],
                           _op_record(r), f"{_op_name(r)} of {r['job_id']} used {r['equipment_id']} on "
                                          f"{stamp(r['used_at'], ctx.zone)}, which has no calibration "
                                          "record on or before that date"))
    for r in ctx.rows(f"""SELECT * FROM ({_CAL_IN_FORCE.format(uses=_RESULT_USES)})
                          WHERE calibrated_at IS NULL
                          ORDER BY job_id, serial_number, tested_at"""):
        out.append(Finding("calibration_not_traceable", "critical", r["job_id"], r["serial_number"],
                           _result_record(r, ctx.zone),
                           f"{r['test_step']}/{r['measurement']} on {r['serial_number']} was measured "
                           f"with {r['equipment_id']} on {stamp(r['used_at'], ctx.zone)}, which has no "
                           "calibration record on or before that date"))
    return out


@rule("calibration_overdue_at_use", "major")
def calibration_overdue_at_use(ctx: RuleContext) -> list[Finding]:
    """Equipment used after its calibration fell due (and before it was calibrated again)."""
    out = []
    for r in ctx.rows(f"""SELECT * FROM ({_CAL_IN_FORCE.format(uses=_OP_USES)})
                          WHERE used_at > due_at ORDER BY job_id, op_seq, serial_number"""):
        out.append(Finding("calibration_overdue_at_use", "major", r["job_id"], r["serial_number"],
                           _op_record(r),
                           f"{_op_name(r)} of {r['job_id']} used {r['equipment_id']} on "
                           f"{stamp(r['used_at'], ctx.zone)}; its calibration {r['certificate_no']} "
                           f"was due {stamp(r['due_at'], ctx.zone)}"))
    for r in ctx.rows(f"""SELECT * FROM ({_CAL_IN_FORCE.format(uses=_RESULT_USES)})
                          WHERE used_at > due_at ORDER BY job_id, serial_number, tested_at"""):
        out.append(Finding("calibration_overdue_at_use", "major", r["job_id"], r["serial_number"],
                           _result_record(r, ctx.zone),
                           f"{r['test_step']}/{r['measurement']} on {r['serial_number']} was measured "
                           f"with {r['equipment_id']} on {stamp(r['used_at'], ctx.zone)}; its "
                           f"calibration {r['certificate_no']} was due {stamp(r['due_at'], ctx.zone)}"))
    return out


@rule("calibration_out_of_tolerance", "major")
def calibration_out_of_tolerance(ctx: RuleContext) -> list[Finding]:
    """Results taken with equipment that its next calibration found out of tolerance: one finding
    per job and event, asking for the assessment ISO 13485 7.6 requires."""
    return [Finding(
        "calibration_out_of_tolerance", "major", r["job_id"], None,
        f"calibrations:{r['equipment_id']}/{r['certificate_no']}",
        f"{r['results']} result(s) on {r['units']} unit(s) of {r['job_id']} were measured with "
        f"{r['equipment_id']} between {stamp(r['first_use'], ctx.zone)} and "
        f"{stamp(r['last_use'], ctx.zone)}; its next calibration ({r['certificate_no']}, "
        f"{stamp(r['found_at'], ctx.zone)}) found it out of tolerance: assess these results "
        f"(`tracelake impact calibration --equipment {r['equipment_id']}`)")
        for r in ctx.rows(f"""
        WITH uses AS ({_RESULT_USES}),
        nxt AS (SELECT u.*, c.certificate_no, c.calibrated_at AS found_at, c.as_found
                FROM uses u ASOF JOIN calibrations c
                  ON c.equipment_id = u.equipment_id AND u.used_at < c.calibrated_at)
        SELECT job_id, equipment_id, certificate_no, found_at, count(*) AS results,
               count(DISTINCT serial_number) AS units, min(used_at) AS first_use,
               max(used_at) AS last_use
        FROM nxt WHERE as_found = 'out_of_tolerance'
        GROUP BY ALL ORDER BY job_id, equipment_id, found_at""")]


# ---------------------------------------------------------------- missing_unit_record

@rule("missing_unit_record", "critical")
def missing_unit_record(ctx: RuleContext) -> list[Finding]:
    """A finished unit (passed, released, shipped, or of a complete/released job) with no test
    results, or missing a step its MBR requires of every unit."""
    finished = f"""
        SELECT u.serial_number, u.job_id, u.status, j.product_code, j.mbr_revision
        FROM units u JOIN jobs j USING (job_id)
        WHERE {_JOB_SCOPE.format(col="u.job_id")}
          AND (u.status IN ('passed', 'released', 'shipped')
               OR (j.status IN ('complete', 'released') AND u.status NOT IN ('scrapped', 'quarantined')))
    """
    out = [Finding("missing_unit_record", "critical", r["job_id"], r["serial_number"],
                   f"units:{r['serial_number']}",
                   f"{r['serial_number']} ({r['status']}) has no test or inspection results")
           for r in ctx.rows(f"""SELECT * FROM ({finished}) f WHERE NOT EXISTS
                                 (SELECT 1 FROM test_results t WHERE t.serial_number = f.serial_number)
                                 ORDER BY job_id, serial_number""")]
    # per-unit steps: MBR steps the job did not record at batch level (empty serial)
    for r in ctx.rows(f"""
        WITH f AS ({finished}),
        steps AS (SELECT DISTINCT f.job_id, m.op_seq, m.op_code, m.description
                  FROM f JOIN mbr_operations m ON m.product_code = f.product_code
                       AND m.mbr_revision = f.mbr_revision
                  WHERE NOT EXISTS (SELECT 1 FROM operations o WHERE o.job_id = f.job_id
                                    AND o.op_seq = m.op_seq AND o.serial_number IS NULL))
        SELECT f.job_id, f.serial_number, f.status, s.op_seq, s.op_code, s.description
        FROM f JOIN steps s USING (job_id)
        WHERE NOT EXISTS (SELECT 1 FROM operations o WHERE o.job_id = f.job_id
                          AND o.op_seq = s.op_seq AND o.serial_number = f.serial_number
                          AND o.result IN ('pass', 'done'))
        ORDER BY f.job_id, f.serial_number, s.op_seq"""):
        out.append(Finding("missing_unit_record", "critical", r["job_id"], r["serial_number"],
                           f"operations:{r['job_id']}/{r['op_seq']}/{r['serial_number']}",
                           f"{r['serial_number']} ({r['status']}) has no passed record of op "
                           f"{r['op_seq']} {r['op_code']} ({r['description']}), which the MBR requires"))
    return out


# ---------------------------------------------------------------- missing_signoff

@rule("missing_signoff", "critical")
def missing_signoff(ctx: RuleContext) -> list[Finding]:
    """A released job without its release signature (critical) or QA record review (major), a
    release signed by someone other than the releaser, or a closed NCR nobody signed."""
    out: list[Finding] = []
    for j in ctx.rows(f"""
        SELECT j.job_id, j.released_at, j.released_by,
               (SELECT list(s.signed_by ORDER BY s.signed_at) FROM signoffs s
                WHERE s.record_type = 'release' AND s.record_id = j.job_id) AS release_signers,
               (SELECT count(*) FROM signoffs s WHERE s.record_type = 'job'
                AND s.record_id = j.job_id) AS reviews
        FROM jobs j WHERE {_JOB_SCOPE.format(col="j.job_id")}
          AND (j.released_at IS NOT NULL OR j.status = 'released')
        ORDER BY j.job_id"""):
        rec = f"signoffs:release/{j['job_id']}"
        if not j["release_signers"]:
            out.append(Finding("missing_signoff", "critical", j["job_id"], None, rec,
                               f"{j['job_id']} is released but has no release signature "
                               "(name, date and time, meaning: 21 CFR 11.50)"))
        elif j["released_by"] and j["released_by"] not in j["release_signers"]:
            out.append(Finding("missing_signoff", "critical", j["job_id"], None, rec,
                               f"{j['job_id']} was released by {j['released_by']} (MRP) but the release "
                               f"is signed by {', '.join(j['release_signers'])}"))
        if not j["reviews"]:
            out.append(Finding("missing_signoff", "major", j["job_id"], None,
                               f"signoffs:job/{j['job_id']}",
                               f"{j['job_id']} is released without a QA review signature of its "
                               "batch record"))
    for n in ctx.rows(f"""
        SELECT n.ncr_id, coalesce(n.job_id, u.job_id) AS job_id, n.serial_number, n.closed_at
        FROM ncrs n LEFT JOIN units u USING (serial_number)
        WHERE n.closed_at IS NOT NULL AND {_JOB_SCOPE.format(col="coalesce(n.job_id, u.job_id)")}
          AND NOT EXISTS (SELECT 1 FROM signoffs s WHERE s.record_type = 'ncr'
                          AND s.record_id = n.ncr_id)
        ORDER BY n.ncr_id"""):
        out.append(Finding("missing_signoff", "major", n["job_id"], n["serial_number"],
                           f"signoffs:ncr/{n['ncr_id']}",
                           f"{n['ncr_id']} was closed {stamp(n['closed_at'], ctx.zone)} with no "
                           "closure signature"))
    return out


# ---------------------------------------------------------------- open_ncr_at_release

@rule("open_ncr_at_release", "critical")
def open_ncr_at_release(ctx: RuleContext) -> list[Finding]:
    """An NCR against the job (or one of its units) still open when the job was released, or open
    now on a job not yet released (its release is blocked until the NCR is dispositioned and closed)."""
    out = []
    for n in ctx.rows(f"""
        SELECT n.*, coalesce(n.job_id, u.job_id) AS the_job, j.released_at, j.status AS job_status
        FROM ncrs n LEFT JOIN units u USING (serial_number)
        JOIN jobs j ON j.job_id = coalesce(n.job_id, u.job_id)
        WHERE {_JOB_SCOPE.format(col="j.job_id")} AND j.status <> 'cancelled'
          AND (n.closed_at IS NULL OR (j.released_at IS NOT NULL AND n.closed_at > j.released_at))
        ORDER BY the_job, n.ncr_id"""):
        state = (f"open (disposition {n['disposition']})" if n["closed_at"] is None
                 else f"closed only {stamp(n['closed_at'], ctx.zone)}")
        if n["released_at"] is not None:
            msg = (f"{n['ncr_id']} ({n['defect_code']}) was {state} when {n['the_job']} was released "
                   f"{stamp(n['released_at'], ctx.zone)}")
        else:
            msg = f"{n['ncr_id']} ({n['defect_code']}) is {state}: {n['the_job']} cannot be released"
        out.append(Finding("open_ncr_at_release", "critical", n["the_job"], n["serial_number"],
                           f"ncrs:{n['ncr_id']}", msg))
    return out


# ---------------------------------------------------------------- unapproved_firmware

@rule("unapproved_firmware", "critical")
def unapproved_firmware(ctx: RuleContext) -> list[Finding]:
    """The firmware a unit carries (its latest load) is a build not approved for release."""
    return [Finding("unapproved_firmware", "critical", r["job_id"], r["serial_number"],
                    f"firmware_loads:{r['serial_number']}/{r['build_id']}",
                    f"{r['serial_number']} carries firmware {r['firmware_version']} build "
                    f"{r['build_id']} (loaded {stamp(r['loaded_at'], ctx.zone)} by {r['loaded_by']}), "
                    "which is not approved for release")
            for r in ctx.rows(f"""
        SELECT * FROM (SELECT DISTINCT ON (f.serial_number) f.*, u.job_id
                       FROM firmware_loads f JOIN units u USING (serial_number)
                       WHERE {_JOB_SCOPE.format(col="u.job_id")}
                       ORDER BY f.serial_number, f.loaded_at DESC)
        WHERE NOT release_approved ORDER BY job_id, serial_number""")]


# ---------------------------------------------------------------- result_out_of_limits_passed

@rule("result_out_of_limits_passed", "critical")
def result_out_of_limits_passed(ctx: RuleContext) -> list[Finding]:
    """A result recorded as a pass whose value lies outside its own limits."""
    return [Finding("result_out_of_limits_passed", "critical", r["job_id"], r["serial_number"],
                    _result_record(r, ctx.zone),
                    f"{r['test_step']}/{r['measurement']} on {r['serial_number']} = {r['value']:g} "
                    f"{r['units'] or ''} is outside {r['low_limit']}…{r['high_limit']} but is "
                    f"recorded as a pass ({stamp(r['tested_at'], ctx.zone)}, {r['equipment_id']})")
            for r in ctx.rows(f"""SELECT * FROM ({_RESULTS}) WHERE result = 'pass'
                                  AND value IS NOT NULL AND (value < low_limit OR value > high_limit)
                                  ORDER BY job_id, serial_number, tested_at""")]


# ---------------------------------------------------------------- first_article_missing

@rule("first_article_missing", "critical")
def first_article_missing(ctx: RuleContext) -> list[Finding]:
    """Units processed at a first-article step before the first article was signed."""
    out = []
    for r in ctx.rows(f"""
        WITH fa_steps AS (
            SELECT j.job_id, m.op_seq, m.op_code FROM jobs j JOIN mbr_operations m
              ON m.product_code = j.product_code AND m.mbr_revision = j.mbr_revision
            WHERE m.first_article AND {_JOB_SCOPE.format(col="j.job_id")}),
        signed AS (
            SELECT f.job_id, f.op_seq, min(s.signed_at) AS signed_at,
                   arg_min(split_part(s.record_id, '/', 3), s.signed_at) AS fa_serial
            FROM fa_steps f JOIN signoffs s ON s.record_type = 'operation'
              AND s.role IN ('inspector', 'qa')
              AND (s.record_id = f.job_id || '/' || f.op_seq
                   OR s.record_id LIKE f.job_id || '/' || f.op_seq || '/%')
            GROUP BY ALL)
        SELECT f.job_id, f.op_seq, f.op_code, s.signed_at, s.fa_serial,
               list(o.serial_number ORDER BY o.started_at) FILTER (
                   WHERE o.serial_number IS DISTINCT FROM nullif(s.fa_serial, '')
                     AND (s.signed_at IS NULL OR o.started_at < s.signed_at)) AS early,
               list(o.started_at ORDER BY o.started_at) FILTER (
                   WHERE o.serial_number IS DISTINCT FROM nullif(s.fa_serial, '')
                     AND (s.signed_at IS NULL OR o.started_at < s.signed_at)) AS early_at,
               count(o.job_id) AS processed
        FROM fa_steps f LEFT JOIN signed s USING (job_id, op_seq)
        LEFT JOIN operations o ON o.job_id = f.job_id AND o.op_seq = f.op_seq
        GROUP BY ALL ORDER BY f.job_id, f.op_seq"""):
        if not r["processed"]:
            continue  # the batch has not reached the step yet
        if r["signed_at"] is None:
            out.append(Finding("first_article_missing", "critical", r["job_id"], None,
                               f"operations:{r['job_id']}/{r['op_seq']}",
                               f"op {r['op_seq']} {r['op_code']} of {r['job_id']} needs a signed first "
                               f"article, but {r['processed']} unit record(s) exist and no first-article "
                               "signature"))
            continue
        for serial, started in zip(r["early"] or [], r["early_at"] or [], strict=True):
            out.append(Finding("first_article_missing", "critical", r["job_id"], serial,
                               f"operations:{r['job_id']}/{r['op_seq']}/{serial}",
                               f"{serial} started op {r['op_seq']} {r['op_code']} at "
                               f"{stamp(started, ctx.zone)}, before the first article "
                               f"({r['fa_serial'] or 'batch'}) was signed at "
                               f"{stamp(r['signed_at'], ctx.zone)}"))
    return out


# ---------------------------------------------------------------- label_mismatch

@rule("label_mismatch", "critical")
def label_mismatch(ctx: RuleContext) -> list[Finding]:
    """A label check passed on a label that does not match its unit (GS1 GTIN and serial parsed
    with biip), or a unit whose latest label check failed."""
    checks = f"""
        SELECT l.*, u.job_id, p.gtin, p.product_code,
               row_number() OVER (PARTITION BY l.serial_number ORDER BY l.checked_at DESC) AS recency,
               -- the usual label, (01)<the product's GTIN>…(21)<the unit's serial>, needs no parse
               -- beyond one check of the GTIN's own check digit
               coalesce(l.result = 'pass' AND starts_with(l.label_data, '(01)' || p.gtin)
                        AND strpos(l.label_data || '(', '(21)' || l.serial_number || '(') > 0, false)
                   AS plain_match
        FROM label_checks l JOIN units u USING (serial_number) JOIN products p USING (product_code)
        WHERE {_JOB_SCOPE.format(col="u.job_id")}"""
    bad_gtins = [g["gtin"] for g in ctx.rows(f"SELECT DISTINCT gtin FROM ({checks}) WHERE plain_match")
                 if not parse_label(f"(01){g['gtin']}").ok]
    out = []
    for r in ctx.rows(f"""SELECT * FROM ({checks})
                          WHERE NOT plain_match OR list_contains($bad::VARCHAR[], gtin)
                          ORDER BY job_id, serial_number, checked_at""", bad=bad_gtins):
        rec = f"label_checks:{r['serial_number']}/{stamp(r['checked_at'], ctx.zone)}"
        if r["result"] == "fail":
            if r["recency"] == 1:
                out.append(Finding("label_mismatch", "critical", r["job_id"], r["serial_number"], rec,
                                   f"the latest label check of {r['serial_number']} "
                                   f"({stamp(r['checked_at'], ctx.zone)}, {r['checked_by']}) failed"))
            continue
        problems = check_label(parse_label(r["label_data"]), serial_number=r["serial_number"],
                               gtin=r["gtin"])
        if problems:
            out.append(Finding("label_mismatch", "critical", r["job_id"], r["serial_number"], rec,
                               f"label check of {r['serial_number']} passed "
                               f"({stamp(r['checked_at'], ctx.zone)}, {r['checked_by']}) but "
                               + "; ".join(problems)))
    return out


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


# ---------------------------------------------------------------- v2: goods-in lots

# every use of a lot: issued to a job, or fitted into a unit (with the unit's job)
_LOT_USES = """
    SELECT 'material_issues' AS used_in, m.issue_id AS use_key, m.job_id, NULL AS serial_number,
           m.component_code, m.lot_number, m.issued_at AS used_at
    FROM material_issues m WHERE m.lot_number IS NOT NULL
    UNION ALL
    SELECT 'unit_components', uc.serial_number || '/' || uc.component_code, u.job_id,
           uc.serial_number, uc.component_code, uc.lot_number, uc.fitted_at
    FROM unit_components uc LEFT JOIN units u USING (serial_number)
    WHERE uc.lot_number IS NOT NULL
"""


def _lot_use_rows(ctx: RuleContext, condition: str) -> list[dict[str, Any]]:
    return ctx.rows(f"""
        SELECT x.*, l.supplier, l.supplier_lot, l.expires_at, l.inspection_status,
               l.certificate_ref
        FROM ({_LOT_USES}) x JOIN lots l USING (component_code, lot_number)
        WHERE {_JOB_SCOPE.format(col="x.job_id")} AND {condition}
        ORDER BY x.job_id, x.used_at, x.use_key""")


def _lot_name(r: dict[str, Any]) -> str:
    supplier = f" from {r['supplier']}" + (f" (their lot {r['supplier_lot']})"
                                            if r.get("supplier_lot") else "")
    return f"lot {r['component_code']}/{r['lot_number']}{supplier}"


@rule("lot_expired_at_use", "major")
def lot_expired_at_use(ctx: RuleContext) -> list[Finding]:
    """A goods-in lot issued to a job or fitted into a unit after its expiry date."""
    return [Finding(
        "lot_expired_at_use", "major", r["job_id"], r["serial_number"],
        f"{r['used_in']}:{r['use_key']}",
        f"{_lot_name(r)} was used on {stamp(r['used_at'], ctx.zone)}"
        + (f" in {r['serial_number']}" if r["serial_number"] else f" by {r['job_id']}")
        + f", after it expired ({stamp(r['expires_at'], ctx.zone)})")
        for r in _lot_use_rows(ctx, "l.expires_at IS NOT NULL AND x.used_at > l.expires_at")]


@rule("lot_unusable_at_use", "critical")
def lot_unusable_at_use(ctx: RuleContext) -> list[Finding]:
    """A goods-in lot that incoming inspection rejected, holds, or that was recalled, used anyway.

    The lot's status is the one the lake holds now (goods-in records carry no status history).
    """
    return [Finding(
        "lot_unusable_at_use", "critical", r["job_id"], r["serial_number"],
        f"{r['used_in']}:{r['use_key']}",
        f"{_lot_name(r)} is {r['inspection_status'].replace('_', ' ')} at goods-in but was used "
        f"on {stamp(r['used_at'], ctx.zone)}"
        + (f" in {r['serial_number']}" if r["serial_number"] else f" by {r['job_id']}"))
        for r in _lot_use_rows(ctx, "l.inspection_status IN ('rejected', 'on_hold', 'recalled')")]


# ---------------------------------------------------------------- v2: equipment

@rule("equipment_out_of_service_at_use", "major")
def equipment_out_of_service_at_use(ctx: RuleContext) -> list[Finding]:
    """Equipment whose register says it is out of service (inactive, out for repair, scrapped,
    missing) used for an operation or a measurement. The status is the register's current one."""
    out = []
    for r in ctx.rows(f"""
        SELECT u.*, e.status AS equipment_status FROM ({_OP_USES}) u
        JOIN equipment e USING (equipment_id) WHERE e.status <> 'active'
        ORDER BY job_id, op_seq, serial_number"""):
        out.append(Finding("equipment_out_of_service_at_use", "major", r["job_id"],
                           r["serial_number"], _op_record(r),
                           f"{_op_name(r)} of {r['job_id']} used {r['equipment_id']} on "
                           f"{stamp(r['used_at'], ctx.zone)}; the equipment register has it "
                           f"{r['equipment_status'].replace('_', ' ')}"))
    for r in ctx.rows(f"""
        SELECT u.*, e.status AS equipment_status FROM ({_RESULT_USES}) u
        JOIN equipment e USING (equipment_id) WHERE e.status <> 'active'
        ORDER BY job_id, serial_number, tested_at"""):
        out.append(Finding("equipment_out_of_service_at_use", "major", r["job_id"],
                           r["serial_number"], _result_record(r, ctx.zone),
                           f"{r['test_step']}/{r['measurement']} on {r['serial_number']} was "
                           f"measured with {r['equipment_id']} on {stamp(r['used_at'], ctx.zone)}; "
                           f"the equipment register has it "
                           f"{r['equipment_status'].replace('_', ' ')}"))
    return out


@rule("calibration_as_found_not_recorded", "major")
def calibration_as_found_not_recorded(ctx: RuleContext) -> list[Finding]:
    """A calibration with no as-found result: earlier results taken with the equipment cannot be
    judged (ISO 13485 7.6). With a job in scope, only equipment that job used."""
    return [Finding(
        "calibration_as_found_not_recorded", "major", r["job"], None,
        f"calibrations:{r['equipment_id']}/{r['certificate_no']}",
        f"calibration {r['certificate_no']} of {r['equipment_id']} "
        f"({stamp(r['calibrated_at'], ctx.zone)}) records no as-found result, so the results "
        "taken with it before cannot be judged")
        for r in ctx.rows(f"""
        SELECT c.*, CAST($job AS VARCHAR) AS job FROM calibrations c
        WHERE c.as_found = 'not_recorded'
          AND (CAST($job AS VARCHAR) IS NULL
               OR c.equipment_id IN (SELECT equipment_id FROM ({_OP_USES})
                                     UNION SELECT equipment_id FROM ({_RESULT_USES})))
        ORDER BY c.equipment_id, c.calibrated_at""")]
