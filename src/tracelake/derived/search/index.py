"""The search index: every identifier and every NCR, ECN and quarantine text of the lake, kept in
the lake (schema ``search``) so that ``find`` answers from lookups, never from scans of the lake.

Tables, rebuilt together in one set-based pass from the canonical tables:

* ``search.entries``  one row per thing an identifier names (a unit, a fitted part's serial, a
  lot of a component, a job, an NCR, an ECN per job it touched, equipment, a calibration
  certificate, an order or customer per job shipped, a supplier lot, an identifier in a
  quarantined row), with its record, context and the dashboard page that explains it;
  ``eid`` numbers the entries in order of ``lower(id)``, and the table is stored in that order.
* ``search.fence``    every 256th entry's ``lower(id)``: a prefix lookup reads the fence (small)
  for the range of ``eid`` that can start with the text, then only that range of entries; text
  keys with a common prefix defeat DuckDB's zone maps (perf-notes §1), integer ranges do not.
* ``search.deletes``  symmetric-delete typo index: for each entry, the hash ``h`` of
  ``lower(id)`` and of each of its one-character deletions, sorted by hash, with ``v`` packing
  the entry's eid (bits 32-63), the position deleted (24-31, 0 for none), the id's length
  (16-23) and the character deleted (0-15, its code point). Two strings one wrong, missing,
  extra or swapped character apart share such a variant, and positions and characters say which
  edit it was; so a typo lookup probes the text's own length + 1 variants (zone maps prune each
  to a row group) and knows its hits before reading any id. Few columns, because what a lookup
  costs is the column blocks it loads (~1 ms per scattered row at 5M entries).
* ``search.docs``     NCR and ECN descriptions and quarantine reasons, with a DuckDB full-text
  index (schema ``fts_search_docs``; extension loaded from its PyPI wheel): its tokenizer,
  stemmer, dictionary and document frequencies; ``search.postings`` holds each term's documents
  with the document side of BM25 precomputed, sorted by term.
* ``search.meta``     version, the run it was built by, counts and build time.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field

import duckdb

from tracelake.lake.extensions import load_fts

__all__ = ["DELETED_CHAR", "DELETE_HASH", "ID_PARAM", "INDEX_VERSION", "KINDS", "SEARCH_TABLES",
           "TYPO_LENGTHS", "SearchStats", "build_search_index", "has_search_index"]

#: Bump when the index tables change shape: an index of another version is rebuilt.
INDEX_VERSION = 8
#: Kinds of hit, in the order hits of equal score are listed.
KINDS = ("serial", "lot", "job", "ncr", "ecn", "equipment", "certificate", "order",
         "supplier_lot", "customer", "text")
#: Canonical tables the index is built from (a run changing one of them rebuilds it).
SEARCH_TABLES = frozenset({"units", "unit_components", "material_issues", "jobs", "ncrs", "ecns",
                           "job_ecns", "equipment", "calibrations", "shipments"})
FENCE_EVERY = 256
#: Lengths of text that typo tolerance applies to (ids one shorter or longer are indexed).
TYPO_LENGTHS = (4, 40)
#: The hash of a string ``{s}`` with its ``i``-th character deleted (none when i = 0), 32 bits:
#: the one expression both the index and the query compute, so their variants agree.
DELETE_HASH = ("(hash(CASE WHEN i = 0 THEN {s} ELSE {s}[:i - 1] || {s}[i + 1:] END) >> 32)"
               "::UINTEGER")
#: The character deleted (its code point; 0 for none): tells a swapped pair from two edits.
#: Packed into 16 bits in the index (a rare clash above U+FFFF is caught by the final check).
DELETED_CHAR = "(CASE WHEN i = 0 THEN 0 ELSE unicode({s}[i]) END)::UINTEGER"


@dataclass
class SearchStats:
    """What a build did, for logs, Dagster metadata and the benchmark."""

    entries: int
    docs: int
    seconds: float
    mode: str = "full"
    steps: dict[str, float] = field(default_factory=dict)  # seconds per table built


def has_search_index(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether the lake holds a search index of this version of tracelake.

    ``search.meta`` is written last, in the transaction that writes the other tables.
    """
    try:
        row = con.execute("SELECT version FROM search.meta").fetchone()
    except duckdb.CatalogException:
        return False
    return row is not None and row[0] == INDEX_VERSION


def _ord(kind: str) -> int:
    return KINDS.index(kind)


#: The parameter a page takes when a hit's ``params`` are NULL: the hit's id itself (saves
#: building millions of one-key JSON objects for units).
ID_PARAM = {"device_history": "serial", "batch_record": "job", "calibration": "equipment"}

# One SELECT per kind: (kind, id, component, record, context, page, params as JSON text, or
# NULL for {ID_PARAM[page]: id}).
_UNITS = f"""
SELECT {_ord('serial')} AS ord, 'serial' AS kind, serial_number AS id, NULL AS component,
       'units:' || serial_number AS record,
       concat_ws(' · ', product_code, 'job ' || job_id, status) AS context,
       'device_history' AS page, NULL::VARCHAR AS params
FROM units WHERE <<serial_number>>"""

_FITTED_SERIALS = f"""
SELECT {_ord('serial')}, 'serial', uc.component_serial, uc.component_code,
       'unit_components:' || uc.serial_number || '/' || uc.component_serial,
       concat_ws(' · ', uc.component_code || coalesce(' lot ' || uc.lot_number, ''),
                 CASE WHEN uc.removed_at IS NULL THEN 'fitted in ' ELSE 'removed from ' END
                 || uc.serial_number),
       'device_history', json_object('serial', uc.serial_number)::VARCHAR
FROM unit_components uc
WHERE uc.component_serial IS NOT NULL AND <<uc.component_serial>>
  AND NOT EXISTS (SELECT 1 FROM units u WHERE u.serial_number = uc.component_serial)"""

_ISSUED_SERIALS = f"""
SELECT {_ord('serial')}, 'serial', mi.component_serial, mi.component_code,
       'material_issues:' || mi.issue_id,
       concat_ws(' · ', mi.component_code || ' lot ' || mi.lot_number, 'issued to job ' || mi.job_id),
       'batch_record', json_object('job', mi.job_id)::VARCHAR
FROM material_issues mi
WHERE mi.component_serial IS NOT NULL AND <<mi.component_serial>>
  AND NOT EXISTS (SELECT 1 FROM units u WHERE u.serial_number = mi.component_serial)
  AND NOT EXISTS (SELECT 1 FROM unit_components uc WHERE uc.component_serial = mi.component_serial)"""

_LOTS = f"""
SELECT {_ord('lot')}, 'lot', lot_number, component_code,
       'material_issues:' || component_code || '/' || lot_number,
       concat_ws(' · ', component_code || ' lot ' || lot_number, min(supplier),
                 CASE WHEN count(DISTINCT job_id) = 1 THEN 'issued to job ' || min(job_id)
                      ELSE 'issued to ' || count(DISTINCT job_id) || ' jobs' END),
       'recall', json_object('component', component_code, 'lot', lot_number)::VARCHAR
FROM material_issues WHERE <<lot_number>> GROUP BY component_code, lot_number
UNION ALL
SELECT {_ord('lot')}, 'lot', lot_number, component_code,
       max(tbl) || ':' || component_code || '/' || lot_number,
       component_code || ' lot ' || lot_number || ' · never issued to a job',
       'recall', json_object('component', component_code, 'lot', lot_number)::VARCHAR
FROM (SELECT DISTINCT 'unit_components' AS tbl, component_code, lot_number FROM unit_components
      WHERE lot_number IS NOT NULL AND <<lot_number>>
      UNION ALL
      SELECT DISTINCT 'ncrs', component_code, lot_number FROM ncrs
      WHERE lot_number IS NOT NULL AND component_code IS NOT NULL AND <<lot_number>>) l
WHERE NOT EXISTS (SELECT 1 FROM material_issues mi
                  WHERE mi.component_code = l.component_code AND mi.lot_number = l.lot_number)
GROUP BY component_code, lot_number"""

_JOBS = f"""
SELECT {_ord('job')}, 'job', job_id, NULL, 'jobs:' || job_id,
       concat_ws(' · ', product_code || ' rev ' || mbr_revision, quantity || ' units', status),
       'batch_record', NULL
FROM jobs WHERE <<job_id>>"""

_NCR_PAGE = """CASE WHEN job_id IS NOT NULL THEN 'batch_record'
                    WHEN serial_number IS NOT NULL THEN 'device_history'
                    WHEN lot_number IS NOT NULL AND component_code IS NOT NULL THEN 'recall'
                    ELSE 'ncr' END"""
_NCR_PARAMS = """CASE WHEN job_id IS NOT NULL THEN json_object('job', job_id)
                      WHEN serial_number IS NOT NULL THEN json_object('serial', serial_number)
                      WHEN lot_number IS NOT NULL AND component_code IS NOT NULL
                           THEN json_object('component', component_code, 'lot', lot_number)
                      ELSE json_object('ncr', ncr_id) END::VARCHAR"""

_NCRS = f"""
SELECT {_ord('ncr')}, 'ncr', ncr_id, component_code, 'ncrs:' || ncr_id,
       concat_ws(' · ', defect_code, disposition,
                 CASE WHEN closed_at IS NULL THEN 'open' ELSE 'closed' END,
                 coalesce(serial_number, job_id, component_code || ' lot ' || lot_number),
                 left(description, 80)),
       {_NCR_PAGE}, {_NCR_PARAMS}
FROM ncrs WHERE <<ncr_id>>"""

_ECNS = f"""
SELECT {_ord('ecn')}, 'ecn', e.ecn_id, NULL,
       CASE WHEN je.job_id IS NULL THEN 'ecns:' || e.ecn_id
            ELSE 'job_ecns:' || je.job_id || '/' || e.ecn_id END,
       concat_ws(' · ', e.product_code || ' rev ' || e.from_revision || ' → ' || e.to_revision,
                 'applied to job ' || je.job_id, left(e.description, 80)),
       CASE WHEN je.job_id IS NULL THEN 'ncr' ELSE 'batch_record' END,
       CASE WHEN je.job_id IS NULL THEN json_object('ecn', e.ecn_id)
            ELSE json_object('job', je.job_id) END::VARCHAR
FROM ecns e LEFT JOIN job_ecns je ON je.ecn_id = e.ecn_id WHERE <<e.ecn_id>>"""

_EQUIPMENT = f"""
SELECT {_ord('equipment')}, 'equipment', equipment_id, NULL, 'equipment:' || equipment_id,
       concat_ws(' · ', description, kind, location),
       'calibration', json_object('equipment', equipment_id)::VARCHAR
FROM equipment WHERE <<equipment_id>>
UNION ALL
SELECT DISTINCT {_ord('equipment')}, 'equipment', equipment_id, NULL,
       'calibrations:' || equipment_id, 'calibrated, not in the equipment list',
       'calibration', json_object('equipment', equipment_id)::VARCHAR
FROM calibrations c
WHERE <<c.equipment_id>> AND NOT EXISTS (SELECT 1 FROM equipment e WHERE e.equipment_id = c.equipment_id)"""

_CERTIFICATES = f"""
SELECT {_ord('certificate')}, 'certificate', certificate_no, NULL,
       'calibrations:' || certificate_no,
       concat_ws(' · ', equipment_id, 'calibrated ' || strftime(calibrated_at, '%Y-%m-%d'),
                 'found ' || replace(as_found, '_', ' '), lab),
       'calibration', json_object('equipment', equipment_id)::VARCHAR
FROM calibrations WHERE <<certificate_no>>"""

# Shipments grouped per order and job (an order names many units; its hit opens each job's record;
# the record key is order/job).
_SHIPPED = """
CREATE OR REPLACE TEMP TABLE _shipped AS
SELECT s.order_ref, s.customer, u.job_id, count(*) AS units, min(s.serial_number) AS first_serial,
       min(s.shipped_at) AS shipped_at
FROM shipments s LEFT JOIN units u ON u.serial_number = s.serial_number
WHERE <<s.order_ref>> OR <<s.customer>>
GROUP BY s.order_ref, s.customer, u.job_id"""

_SHIPPED_PAGE = "CASE WHEN job_id IS NULL THEN 'device_history' ELSE 'batch_record' END"
_SHIPPED_PARAMS = ("CASE WHEN job_id IS NULL THEN json_object('serial', first_serial) "
                   "ELSE json_object('job', job_id) END::VARCHAR")

_ORDERS = f"""
SELECT {_ord('order')}, 'order', order_ref, NULL,
       'shipments:' || order_ref || coalesce('/' || job_id, ''),
       concat_ws(' · ', customer, units || ' unit(s)' || coalesce(' of job ' || job_id, ''),
                 'shipped ' || strftime(shipped_at, '%Y-%m-%d')),
       {_SHIPPED_PAGE}, {_SHIPPED_PARAMS}
FROM _shipped WHERE <<order_ref>>
UNION ALL
SELECT {_ord('order')}, 'order', customer_po, NULL, 'jobs:' || job_id,
       concat_ws(' · ', 'customer PO of job ' || job_id, product_code, status),
       'batch_record', json_object('job', job_id)::VARCHAR
FROM jobs WHERE customer_po IS NOT NULL AND <<customer_po>>"""

_SUPPLIER_LOTS = f"""
SELECT {_ord('supplier_lot')}, 'supplier_lot', supplier_lot, component_code,
       'material_issues:' || component_code || '/' || lot_number,
       concat_ws(' · ', min(supplier), 'our ' || component_code || ' lot ' || lot_number),
       'recall', json_object('component', component_code, 'lot', lot_number)::VARCHAR
FROM material_issues WHERE supplier_lot IS NOT NULL AND <<supplier_lot>>
GROUP BY supplier_lot, component_code, lot_number"""

_CUSTOMERS = f"""
SELECT {_ord('customer')}, 'customer', customer, NULL,
       'shipments:' || order_ref || coalesce('/' || job_id, ''),
       concat_ws(' · ', 'order ' || order_ref,
                 units || ' unit(s)' || coalesce(' of job ' || job_id, ''),
                 'shipped ' || strftime(shipped_at, '%Y-%m-%d')),
       {_SHIPPED_PAGE}, {_SHIPPED_PARAMS}
FROM _shipped WHERE <<customer>>"""

# Identifiers in quarantined rows (as the source wrote them, under canonical headers): a serial
# missing from the lake is found with the reason its row was held back.
_QUARANTINED = f"""
SELECT f.ord, f.kind, json_extract_string(q.raw, '$.' || f.col),
       CASE WHEN f.kind = 'lot' THEN json_extract_string(q.raw, '$.component_code') END,
       'quarantine:' || q.source_file || '#' || q.row_number,
       'quarantined ' || q.table_name || ' row: ' || string_agg(DISTINCT q.message, '; ' ORDER BY q.message),
       'data_quality',
       json_object('table', q.table_name, 'file', q.source_file, 'row', q.row_number)::VARCHAR
FROM (SELECT * FROM quarantine WHERE superseded_by_run IS NULL) q,
     (VALUES ({_ord('serial')}, 'serial', 'serial_number'), ({_ord('serial')}, 'serial', 'component_serial'),
             ({_ord('lot')}, 'lot', 'lot_number'), ({_ord('job')}, 'job', 'job_id'),
             ({_ord('ncr')}, 'ncr', 'ncr_id'), ({_ord('ecn')}, 'ecn', 'ecn_id'),
             ({_ord('equipment')}, 'equipment', 'equipment_id'),
             ({_ord('certificate')}, 'certificate', 'certificate_no'),
             ({_ord('order')}, 'order', 'order_ref'),
             ({_ord('supplier_lot')}, 'supplier_lot', 'supplier_lot')) f(ord, kind, col)
WHERE q.raw IS NOT NULL AND json_extract_string(q.raw, '$.' || f.col) IS NOT NULL
GROUP BY f.ord, f.kind, f.col, q.raw, q.source_file, q.row_number, q.table_name"""

_ENTRY_PARTS = (_UNITS, _FITTED_SERIALS, _ISSUED_SERIALS, _LOTS, _JOBS, _NCRS, _ECNS, _EQUIPMENT,
                _CERTIFICATES, _ORDERS, _SUPPLIER_LOTS, _CUSTOMERS, _QUARANTINED)
_KEEP = re.compile(r"<<([a-z_.]+)>>")
#: The order entries are numbered in: by key, then kind, record, and every other column, so
#: that the order is total and an index kept up run by run sorts its entries as a rebuild does.
SORT_KEY = "lower(id), ord, record, id, context, component, page, params"
#: ``ord`` (the kind's place in :data:`KINDS`, 1-based) of an entry from its kind.
ORD_OF_KIND = f"list_position({list(KINDS)!r}, kind)"


def entries_sql(keys: str | None = None) -> list[str]:
    """The statements that make the temp table ``_entries`` (ord, kind, id, component, record,
    context, page, params): every entry of the lake, or with ``keys`` (a table of ``k``) only the
    entries whose ``lower(id)`` is one of them, each part reading only its rows with such ids."""
    def keep(m: re.Match[str]) -> str:
        return "TRUE" if keys is None else f"lower({m.group(1)}) IN (SELECT k FROM {keys})"

    union = "\nUNION ALL\n".join(_KEEP.sub(keep, part) for part in _ENTRY_PARTS)
    only = "" if keys is None else f" AND lower(id) IN (SELECT k FROM {keys})"
    return [_KEEP.sub(keep, _SHIPPED), f"""
        CREATE OR REPLACE TEMP TABLE _entries AS
        SELECT ord, kind, id, component, record, context, page, params
        FROM ({union}) e
        WHERE id IS NOT NULL AND id <> ''{only}""", "DROP TABLE IF EXISTS _shipped"]


def deletes_sql(source: str) -> str:
    """The symmetric-delete rows (h, v) of the entries in ``source`` (a table with eid, id)."""
    return f"""
        SELECT {DELETE_HASH.format(s='k')} AS h,
               ((eid::UBIGINT << 32) | (i::UBIGINT << 24) | (length(k)::UBIGINT << 16)
                | ({DELETED_CHAR.format(s='k')} & 65535)) AS v
        FROM (SELECT eid, k, unnest(range(0, length(k) + 1)) AS i  -- 4x a lateral range()
              FROM (SELECT eid, lower(id) AS k FROM {source}
                    WHERE length(id) BETWEEN {TYPO_LENGTHS[0] - 1} AND {TYPO_LENGTHS[1] + 1}))"""


_DOCS = f"""
CREATE OR REPLACE TABLE search.docs AS
SELECT (row_number() OVER (ORDER BY source, id, record, body, context, page, params))::INTEGER
       AS doc_id, *
FROM (
    SELECT 'ncr' AS source, ncr_id AS id, 'ncrs:' || ncr_id AS record,
           concat_ws(' ', defect_code, description) AS body,
           concat_ws(' · ', defect_code, disposition, description) AS context,
           {_NCR_PAGE} AS page, {_NCR_PARAMS} AS params
    FROM ncrs
    UNION ALL
    SELECT 'ecn', e.ecn_id, 'ecns:' || e.ecn_id, e.description,
           concat_ws(' · ', e.product_code || ' rev ' || e.from_revision || ' → ' || e.to_revision,
                     e.description),
           CASE WHEN j.job_id IS NULL THEN 'ncr' ELSE 'batch_record' END,
           CASE WHEN j.job_id IS NULL THEN json_object('ecn', e.ecn_id)
                ELSE json_object('job', j.job_id) END::VARCHAR
    FROM ecns e
    LEFT JOIN (SELECT ecn_id, min(job_id) AS job_id FROM job_ecns GROUP BY ecn_id) j
           ON j.ecn_id = e.ecn_id
    UNION ALL
    SELECT 'quarantine', table_name || ' row ' || row_number,
           'quarantine:' || source_file || '#' || row_number,
           concat_ws(' ', rule, column_name, message),
           concat_ws(' · ', table_name, regexp_replace(source_file, '^.*/', '') || ' row '
                     || row_number, message),
           'data_quality',
           json_object('table', table_name, 'file', source_file, 'row', row_number)::VARCHAR
    FROM quarantine WHERE superseded_by_run IS NULL
) d"""

# BM25 (k1 = 1.2, b = 0.75) as a sum over the text's terms of idf(term) x tfw(term, doc): tfw
# depends on the document only, so it is computed here once; a query then reads the postings
# of its few terms (the extension's match_bm25 macro scores every document: ~0.8 s at 3,500 NCRs).
_POSTINGS = """
CREATE OR REPLACE TABLE search.postings AS
SELECT t.termid, d.name::INTEGER AS doc_id,
       (count(*) * 2.2 / (count(*) + 1.2 * (0.25 + 0.75 * d.len / any_value(st.avgdl))))::FLOAT
           AS tfw
FROM fts_search_docs.terms t JOIN fts_search_docs.docs d ON d.docid = t.docid,
     fts_search_docs.stats st
GROUP BY t.termid, d.name, d.len
ORDER BY t.termid, doc_id"""


def build_search_index(con: duckdb.DuckDBPyConnection, run_id: str | None = None) -> SearchStats:
    """Rebuild every search table from the lake's current rows (inside the caller's transaction).

    The rebuilt index has an empty delta (see :mod:`tracelake.derived.search.upkeep`) and counts
    every committed run, and ``run_id``, as applied.
    """
    start = time.perf_counter()
    steps: dict[str, float] = {}

    def step(name: str, *sql: str) -> None:
        t = time.perf_counter()
        for statement in sql:
            con.execute(statement)
        steps[name] = round(time.perf_counter() - t, 3)

    load_fts(con)
    con.execute("CREATE SCHEMA IF NOT EXISTS search")
    # stored in eid order, so once committed an entry's rowid is its eid: readers fetch single
    # entries by rowid (DuckDB then reads just those rows; a filter on eid reads whole row groups).
    # One sort: row_number() OVER () numbers rows in the order the sorted subquery gives them
    # (DuckDB keeps insertion order; the tests check the stored order), half the time of a
    # window sorted on its own and an ORDER BY on top (13 s -> 7 s at 5M entries)
    step("entries", *entries_sql(), f"""
        CREATE OR REPLACE TABLE search.entries AS
        SELECT (row_number() OVER () - 1)::UINTEGER AS eid, *
        FROM (SELECT kind, id, component, record, context, page, params
              FROM _entries ORDER BY {SORT_KEY})""", "DROP TABLE IF EXISTS _entries")
    step("fence", f"""
        CREATE OR REPLACE TABLE search.fence AS
        SELECT eid, lower(id) AS k FROM search.entries WHERE eid % {FENCE_EVERY} = 0 ORDER BY eid""")
    step("deletes", f"CREATE OR REPLACE TABLE search.deletes AS {deletes_sql('search.entries')} "
                    "ORDER BY h")
    step("full_text", *docs_sql())
    step("delta", *empty_delta_sql(), """
        CREATE OR REPLACE TABLE search.runs AS
        SELECT DISTINCT run_id FROM ingest_runs WHERE status = 'committed'""")
    if run_id is not None:
        con.execute("INSERT INTO search.runs SELECT ? WHERE ? NOT IN (SELECT run_id FROM "
                    "search.runs)", [run_id, run_id])
    base = int(con.execute("SELECT count(*) FROM search.entries").fetchone()[0])  # type: ignore[index]
    docs = int(con.execute("SELECT count(*) FROM search.docs").fetchone()[0])  # type: ignore[index]
    seconds = time.perf_counter() - start
    write_meta(con, run_id=run_id, entries=base, docs=docs, seconds=seconds, base=base,
               next_eid=base)
    return SearchStats(entries=base, docs=docs, seconds=seconds, steps=steps)


def docs_sql() -> list[str]:
    """Statements rebuilding ``search.docs``, its full-text index and ``search.postings``."""
    return [_DOCS,
            "PRAGMA create_fts_index('search.docs', 'doc_id', 'body', stemmer = 'porter', "
            "stopwords = 'english', ignore = '(\\.|[^a-z0-9])+', strip_accents = 1, "
            "lower = 1, overwrite = 1)", _POSTINGS]


def empty_delta_sql() -> list[str]:
    """Statements making the delta tables empty (after a build, the base holds everything)."""
    return [
        "CREATE OR REPLACE TABLE search.entries_delta AS SELECT * FROM search.entries LIMIT 0",
        "CREATE OR REPLACE TABLE search.deletes_delta AS SELECT * FROM search.deletes LIMIT 0",
        "CREATE OR REPLACE TABLE search.dead (eid UINTEGER)"]


def write_meta(con: duckdb.DuckDBPyConnection, *, run_id: str | None, entries: int, docs: int,
               seconds: float, base: int, next_eid: int) -> None:
    """(Re)write ``search.meta``: written last, it makes the index of this version current."""
    con.execute("CREATE OR REPLACE TABLE search.meta AS SELECT ?::INTEGER AS version, "
                "now() AS built_at, ?::VARCHAR AS run_id, ?::BIGINT AS entries, "
                "?::BIGINT AS docs, ?::DOUBLE AS seconds, ?::BIGINT AS base_entries, "
                "?::BIGINT AS next_eid",
                [INDEX_VERSION, run_id, entries, docs, seconds, base, next_eid])
