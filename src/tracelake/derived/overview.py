"""What needs attention today: the overview a quality lead opens every morning.

Five sections, each item carrying the identifiers it concerns and the dashboard page that
explains it (``link``, a path and query string relative to the dashboards' root):

* ``ncrs``: open NCRs by age bucket and disposition (:mod:`tracelake.derived.quality.trends`).
* ``jobs``: jobs whose release is blocked (a critical finding) or waiting for a review (a major
  finding with no disposition recorded), with their findings (:mod:`tracelake.derived.findings`).
  Dispositions are read from the review tables when the lake has them (any table named
  ``dispositions`` with a ``record`` column); without them every major finding waits.
* ``equipment``: overdue, due within ``due_within_days``, or found out of tolerance with suspect
  results whose ``calibration_out_of_tolerance`` findings are not all dispositioned.
* ``lots``: lots ``on_hold`` or ``recalled`` (the ``lots`` table, when the plant sends it) that
  are in units still in house, through the genealogy at any depth: top-level units (fitted into
  nothing) that are not shipped or scrapped; a part inside a shipped device is not in house.
* ``ingest``: the last ingest run's quarantined rows by rule, and the orphan references.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from typing import Any

import duckdb

from tracelake.derived.calibration.register import equipment_status
from tracelake.derived.calibration.status import status_sql
from tracelake.derived.findings import list_findings
from tracelake.derived.genealogy import has_index
from tracelake.derived.links import link
from tracelake.derived.quality import data_quality, trends

__all__ = ["HOLD_STATUSES", "dispositioned_records", "link", "overview"]

#: lot inspection statuses that keep a lot's units from going out
HOLD_STATUSES = ("on_hold", "recalled")
#: how many findings of a job the overview quotes (the batch page has them all)
FINDINGS_SHOWN = 5


def _table_exists(con: duckdb.DuckDBPyConnection, name: str) -> list[tuple[str, list[str]]]:
    """Schemas holding a table or view ``name``, with its columns."""
    rows = con.execute("""SELECT table_schema, list(column_name ORDER BY ordinal_position)
                          FROM information_schema.columns WHERE table_name = ?
                          GROUP BY ALL ORDER BY 1""", [name]).fetchall()
    return [(schema, cols) for schema, cols in rows]


def dispositioned_records(con: duckdb.DuckDBPyConnection) -> set[tuple[str | None, str]]:
    """(rule, record) of every finding with a recorded disposition; rule None when the review
    table does not say. Empty when the lake has no review tables yet."""
    out: set[tuple[str | None, str]] = set()
    for schema, cols in _table_exists(con, "dispositions"):
        if "record" not in cols:
            continue
        rule = "rule" if "rule" in cols else "NULL"
        for r, rec in con.execute(f'SELECT DISTINCT {rule}, record FROM "{schema}".dispositions '
                                  "WHERE record IS NOT NULL").fetchall():
            out.add((r, rec))
    # the review chain (tracelake review): each disposition names its finding as
    # rule|serial|record (tracelake.review.dispositions.finding_key); read as a lake table here,
    # since derived sits below review
    if _table_exists(con, "review_entries"):
        for (key,) in con.execute("SELECT DISTINCT finding_key FROM review_entries "
                                  "WHERE kind = 'disposition' AND finding_key IS NOT NULL"
                                  ).fetchall():
            rule, _serial, record = key.split("|", 2)
            out.add((rule, record))
    return out


def _is_dispositioned(done: set[tuple[str | None, str]], rule: str, record: str) -> bool:
    return (rule, record) in done or (None, record) in done


# ------------------------------------------------------------------ sections

def _ncr_section(con: duckdb.DuckDBPyConnection, now: dt.datetime) -> dict[str, Any]:
    ageing = trends.open_ncr_ageing(trends.ncrs(con), now)
    items = []
    for r in ageing.iter_rows(named=True):
        target = link("device", serial=r["serial_number"]) if r["serial_number"] else \
            link("batch", job=r["job_id"]) if r["job_id"] else link("trends")
        items.append({"ncr_id": r["ncr_id"], "raised_at": r["raised_at"], "age_days": r["age_days"],
                      "age_bucket": r["age_bucket"], "disposition": r["disposition"],
                      "defect_code": r["defect_code"], "product_code": r["product_code"],
                      "job_id": r["job_id"], "serial_number": r["serial_number"],
                      "supplier": r["supplier"], "description": r["description"],
                      "link": target})
    buckets = Counter(i["age_bucket"] for i in items)
    return {"open": len(items),
            "by_age": {label: buckets.get(label, 0) for label, _a, _b in trends.AGE_BUCKETS},
            "by_disposition": dict(sorted(Counter(i["disposition"] for i in items).items())),
            "items": items, "link": link("trends")}


def _job_section(con: duckdb.DuckDBPyConnection, findings: list[Any],
                 done: set[tuple[str | None, str]]) -> dict[str, Any]:
    per_job: dict[str, list[Any]] = defaultdict(list)
    for f in findings:
        if f.job_id:
            per_job[f.job_id].append(f)
    info = {r[0]: r[1:] for r in con.execute(
        "SELECT job_id, product_code, status, released_at FROM jobs").fetchall()}
    items = []
    for job_id, found in per_job.items():
        critical = [f for f in found if f.severity == "critical"]
        waiting = [f for f in found if f.severity == "major"
                   and not _is_dispositioned(done, f.rule, f.record)]
        if not critical and not waiting:
            continue
        product, job_status, released_at = info.get(job_id, (None, None, None))
        counts = Counter(f.severity for f in found)
        shown = (critical + waiting)[:FINDINGS_SHOWN]
        items.append({
            "job_id": job_id, "product_code": product, "job_status": job_status,
            "released_at": released_at,
            "state": "release blocked" if critical else "waiting for review",
            "critical": len(critical), "majors_waiting": len(waiting),
            "findings": {s: counts.get(s, 0) for s in ("critical", "major", "minor")},
            "top_findings": [{"rule": f.rule, "severity": f.severity, "record": f.record,
                              "serial_number": f.serial_number, "message": f.message}
                             for f in shown],
            "link": link("batch", job=job_id)})
    items.sort(key=lambda i: (i["state"] != "release blocked", -i["critical"],
                              -i["majors_waiting"], i["job_id"]))
    return {"blocked": sum(i["state"] == "release blocked" for i in items),
            "waiting_for_review": sum(i["state"] == "waiting for review" for i in items),
            "review_tables": bool(done) or bool(_table_exists(con, "dispositions"))
                             or bool(_table_exists(con, "review_entries")),
            "items": items}


def _suspect_counts(con: duckdb.DuckDBPyConnection) -> dict[str, tuple[int, int, list[str]]]:
    """Per equipment found out of tolerance: the results whose calibration status at use is
    suspect (:mod:`tracelake.derived.calibration.status`, as the records and the
    ``calibration_out_of_tolerance`` findings count them) and their units, and the certificates
    of the finds."""
    uses = "(SELECT equipment_id, serial_number, tested_at FROM test_results)"
    rows = con.sql(f"""
        WITH finds AS (
            SELECT equipment_id, list(DISTINCT certificate_no ORDER BY certificate_no) AS certs
            FROM calibrations WHERE as_found = 'out_of_tolerance' GROUP BY ALL),
        suspect AS (
            SELECT equipment_id, count(*) AS results, count(DISTINCT serial_number) AS units
            FROM ({status_sql(con, uses)}) WHERE calibration_status = 'suspect' GROUP BY ALL)
        SELECT f.equipment_id, coalesce(s.results, 0), coalesce(s.units, 0), f.certs
        FROM finds f LEFT JOIN suspect s USING (equipment_id)""").fetchall()
    return {e: (int(n), int(u), list(certs)) for e, n, u, certs in rows}


def _equipment_section(con: duckdb.DuckDBPyConnection, findings: list[Any],
                       done: set[tuple[str | None, str]], now: dt.datetime,
                       due_within_days: int) -> dict[str, Any]:
    status = equipment_status(con, as_of=now, due_within_days=due_within_days)
    suspect = _suspect_counts(con)
    open_finds: dict[str, set[str]] = defaultdict(set)  # equipment -> jobs still to assess
    for f in findings:
        if f.rule == "calibration_out_of_tolerance" and not _is_dispositioned(done, f.rule,
                                                                              f.record):
            equipment = f.record.split(":", 1)[-1].split("/", 1)[0]
            open_finds[equipment].add(f.job_id or "")
    items = []
    for r in status.iter_rows(named=True):
        eid = r["equipment_id"]
        reasons = []
        if r["status"] in ("overdue", "due", "out_of_tolerance", "never") and \
                (r["status"] != "never" or r["last_used_at"] is not None):
            reasons.append(r["status"])
        results, units, certs = suspect.get(eid, (0, 0, []))
        if eid in open_finds and results:
            reasons.append("suspect_results")
        if not reasons:
            continue
        items.append({"equipment_id": eid, "description": r["description"],
                      "status": r["status"], "reasons": reasons, "due_at": r["due_at"],
                      "days_to_due": r["days_to_due"], "last_used_at": r["last_used_at"],
                      "suspect_results": results if "suspect_results" in reasons else 0,
                      "suspect_units": units if "suspect_results" in reasons else 0,
                      "oot_certificates": certs,
                      "jobs_to_assess": sorted(j for j in open_finds.get(eid, ()) if j),
                      "link": link("calibration", equipment=eid)})
    order = {"overdue": 0, "out_of_tolerance": 1, "suspect_results": 2, "never": 3, "due": 4}
    items.sort(key=lambda i: (min(order.get(x, 9) for x in i["reasons"]), i["equipment_id"]))
    return {"overdue": sum("overdue" in i["reasons"] for i in items),
            "due": sum("due" in i["reasons"] for i in items),
            "suspect": sum("suspect_results" in i["reasons"] for i in items),
            "due_within_days": due_within_days, "items": items}


def _lot_section(con: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    tables = [s for s, cols in _table_exists(con, "lots") if s == "main"
              and "inspection_status" in cols]
    sent = tables and con.sql("SELECT count(*) FROM main.lots").fetchone()[0]  # type: ignore[index]
    if not sent:  # no table, or the contract's empty one: the plant sends no lots
        return {"available": False, "items": [],
                "message": "the plant sends no lots table: lot holds and recalls are unknown"}
    held = con.execute("""SELECT component_code, lot_number, supplier, inspection_status
                          FROM main.lots WHERE list_contains($s, inspection_status)
                          ORDER BY component_code, lot_number""",
                       {"s": list(HOLD_STATUSES)}).fetchall()
    in_house: dict[tuple[str, str], tuple[int, list[str]]] = {}
    if held and has_index(con):
        for code, lot, n, sample in con.execute("""
            WITH lot AS (
                SELECT k.node_id, k.component_code, k.lot_number FROM genealogy.lot_keys k
                SEMI JOIN main.lots h ON h.component_code = k.component_code
                                     AND h.lot_number = k.lot_number
                                     AND list_contains($s, h.inspection_status)),
            holders AS (
                SELECT l.component_code, l.lot_number, e.parent AS node FROM lot l
                JOIN genealogy.edges e ON e.child = l.node_id
                UNION
                SELECT l.component_code, l.lot_number, c.des FROM lot l
                JOIN genealogy.edges e ON e.child = l.node_id
                JOIN genealogy.closure_by_anc c ON c.anc = e.parent)
            SELECT h.component_code, h.lot_number, count(DISTINCT u.serial_number),
                   (list(DISTINCT u.serial_number ORDER BY u.serial_number))[:20]
            FROM holders h JOIN genealogy.unit_info u ON u.node_id = h.node
            WHERE u.top AND u.status NOT IN ('shipped', 'scrapped')
            GROUP BY ALL""", {"s": list(HOLD_STATUSES)}).fetchall():
            in_house[(code, lot)] = (int(n), list(sample))
    items = []
    for code, lot, supplier, status in held:
        n, sample = in_house.get((code, lot), (0, []))
        if not n:
            continue
        items.append({"component_code": code, "lot_number": lot, "supplier": supplier,
                      "inspection_status": status, "units_in_house": n,
                      "serials": sample, "link": link("recall", component=code, lot=lot)})
    return {"available": True, "held_lots": len(held), "items": items}


def _ingest_section(con: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    health = data_quality.health(con)
    last = health["last_run"]
    if last is None:
        return {"last_run": None, "rows_quarantined": 0, "quarantine": [], "orphans": [],
                "orphan_references": 0, "link": link("data-quality")}
    quarantined = con.execute("SELECT rows_quarantined, rows_read FROM ingest_runs "
                              "WHERE run_id = ?", [last["run_id"]]).fetchone()
    rules = data_quality.quarantine_rules(con, last["run_id"])
    orphans = con.sql("""
        SELECT kind, value, referenced_table, count(*) AS rows,
               count(*) FILTER (WHERE run_id = $run) AS rows_in_last_run
        FROM orphan_references GROUP BY ALL ORDER BY rows DESC, kind, value""",
                      params={"run": last["run_id"]}).fetchall()
    return {"last_run": last,
            "rows_read": int(quarantined[1] or 0) if quarantined else 0,
            "rows_quarantined": int(quarantined[0] or 0) if quarantined else 0,
            "quarantine": [{"table": r["table_name"], "rule": r["rule"], "rows": r["rows"],
                            "link": link("data-quality", table=r["table_name"])}
                           for r in rules.iter_rows(named=True)],
            "orphan_references": health["orphan_references"],
            "orphans": [{"kind": k, "value": v, "referenced_table": t, "rows": n,
                         "rows_in_last_run": m,
                         "link": link("data-quality", table=t, column=None, value=None)}
                        for k, v, t, n, m in orphans[:50]],
            "link": link("data-quality")}


def overview(con: duckdb.DuckDBPyConnection, as_of: dt.datetime | None = None,
             due_within_days: int = 30) -> dict[str, Any]:
    """Everything that needs attention on ``as_of`` (default now), section by section, with
    ``counts`` of each section's items first."""
    now = as_of or dt.datetime.now(dt.UTC)
    findings = list_findings(con)
    done = dispositioned_records(con)
    doc = {"as_of": now,
           "ncrs": _ncr_section(con, now),
           "jobs": _job_section(con, findings, done),
           "equipment": _equipment_section(con, findings, done, now, due_within_days),
           "lots": _lot_section(con),
           "ingest": _ingest_section(con)}
    doc["counts"] = {"open_ncrs": doc["ncrs"]["open"],
                     "jobs_blocked": doc["jobs"]["blocked"],
                     "jobs_waiting_for_review": doc["jobs"]["waiting_for_review"],
                     "equipment": len(doc["equipment"]["items"]),
                     "lots_held_in_house": len(doc["lots"]["items"]),
                     "rows_quarantined_last_run": doc["ingest"]["rows_quarantined"],
                     "orphan_references": doc["ingest"]["orphan_references"]}
    return {"as_of": now, "counts": doc["counts"],
            **{k: v for k, v in doc.items() if k not in ("as_of", "counts")}}
