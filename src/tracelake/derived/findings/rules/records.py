"""The records a release needs: a record per unit, sign-offs, NCRs closed, approved firmware,
results within limits, first articles, labels that match their units."""

from __future__ import annotations

from tracelake.derived.findings.engine import Finding, RuleContext, rule
from tracelake.derived.findings.rules._shared import (
    _JOB_SCOPE,
    _result_record,
    _units_in_scope,
)
from tracelake.intake.labels import check_label, parse_label
from tracelake.lake.plant_time import stamp

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
           for r in ctx.rows(f"""SELECT f.* FROM ({finished}) f
                                 ANTI JOIN test_results t ON t.serial_number = f.serial_number
                                 ORDER BY f.job_id, f.serial_number""")]
    # per-unit steps: MBR steps the job did not record at batch level (empty serial)
    for r in ctx.rows(f"""
        WITH f AS ({finished}),
        steps AS (SELECT DISTINCT f.job_id, m.op_seq, m.op_code, m.description
                  FROM (SELECT DISTINCT job_id, product_code, mbr_revision FROM f) f
                  JOIN mbr_operations m ON m.product_code = f.product_code
                       AND m.mbr_revision = f.mbr_revision
                  ANTI JOIN (SELECT job_id, op_seq FROM operations WHERE serial_number IS NULL) o
                       ON o.job_id = f.job_id AND o.op_seq = m.op_seq),
        done AS (SELECT job_id, op_seq, serial_number FROM operations
                 WHERE result IN ('pass', 'done') AND serial_number IS NOT NULL)
        SELECT f.job_id, f.serial_number, f.status, s.op_seq, s.op_code, s.description
        FROM f JOIN steps s USING (job_id)
        ANTI JOIN done o ON o.job_id = f.job_id AND o.op_seq = s.op_seq
                        AND o.serial_number = f.serial_number
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
        WITH latest AS (
            SELECT serial_number, arg_max(f, f.loaded_at) AS f FROM firmware_loads f
            {_units_in_scope(ctx, "WHERE f.serial_number")} GROUP BY serial_number)
        SELECT unnest(l.f), u.job_id FROM latest l JOIN units u USING (serial_number)
        WHERE NOT l.f.release_approved ORDER BY u.job_id, l.serial_number""")]


# ---------------------------------------------------------------- result_out_of_limits_passed

@rule("result_out_of_limits_passed", "critical")
def result_out_of_limits_passed(ctx: RuleContext) -> list[Finding]:
    """A result recorded as a pass whose value lies outside its own limits."""
    return [Finding("result_out_of_limits_passed", "critical", r["job_id"], r["serial_number"],
                    _result_record(r, ctx.zone),
                    f"{r['test_step']}/{r['measurement']} on {r['serial_number']} = {r['value']:g} "
                    f"{r['units'] or ''} is outside {r['low_limit']}…{r['high_limit']} but is "
                    f"recorded as a pass ({stamp(r['tested_at'], ctx.zone)}, {r['equipment_id']})")
            for r in ctx.rows(f"""
        SELECT r.*, u.job_id FROM test_results r LEFT JOIN units u USING (serial_number)
        WHERE r.result = 'pass' AND r.value IS NOT NULL
          AND (r.value < r.low_limit OR r.value > r.high_limit)
          {_units_in_scope(ctx, "AND r.serial_number")}
        ORDER BY u.job_id, r.serial_number, r.tested_at""")]


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
        -- a first-article signature names the step (job/op) or one unit at it (job/op/serial):
        -- every prefix of a record id at a '/' is a step it may sign, met by an equality join
        keys AS (
            SELECT s.signed_at, s.record_id,
                   array_to_string(string_split(s.record_id, '/')[1:i], '/') AS step
            FROM signoffs s, range(1, len(string_split(s.record_id, '/')) + 1) r(i)
            WHERE s.record_type = 'operation' AND s.role IN ('inspector', 'qa')),
        signed AS (
            SELECT f.job_id, f.op_seq, min(k.signed_at) AS signed_at,
                   arg_min(split_part(k.record_id, '/', 3), k.signed_at) AS fa_serial
            FROM fa_steps f JOIN keys k ON k.step = f.job_id || '/' || f.op_seq
            GROUP BY ALL),
        processed AS (
            SELECT f.job_id, f.op_seq, count(*) AS processed
            FROM fa_steps f JOIN operations o ON o.job_id = f.job_id AND o.op_seq = f.op_seq
            GROUP BY ALL),
        early AS (
            SELECT s.job_id, s.op_seq, list(o.serial_number ORDER BY o.started_at) AS early,
                   list(o.started_at ORDER BY o.started_at) AS early_at
            FROM signed s JOIN operations o ON o.job_id = s.job_id AND o.op_seq = s.op_seq
            WHERE o.serial_number IS DISTINCT FROM nullif(s.fa_serial, '')
              AND o.started_at < s.signed_at
            GROUP BY ALL)
        SELECT f.job_id, f.op_seq, f.op_code, s.signed_at, s.fa_serial, e.early, e.early_at,
               coalesce(p.processed, 0) AS processed
        FROM fa_steps f LEFT JOIN signed s USING (job_id, op_seq)
        LEFT JOIN processed p USING (job_id, op_seq) LEFT JOIN early e USING (job_id, op_seq)
        ORDER BY f.job_id, f.op_seq"""):
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
    # a product GTIN with a bad check digit: its plain matches are not matches (any product's:
    # a check that is not a plain match is looked at anyway)
    bad_gtins = [g["gtin"] for g in ctx.rows("SELECT DISTINCT gtin FROM products "
                                             "WHERE gtin IS NOT NULL")
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


