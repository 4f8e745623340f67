"""Batch and device records (BMR, DHR) assembled from the lake, and rendered as JSON, HTML or PDF.

    from tracelake.records import batch_record, device_record, render_html, render_pdf
    doc = batch_record(con, "J-1042")      # dict, JSON-ready (tracelake.exports.formats.json_dumps)
    pdf = render_pdf(doc)                   # bytes

Both documents carry ``kind`` ("bmr" | "dhr"), ``title``, ``generated_at`` (UTC) and ``timezone``
(the plant's, for display). Timestamps are UTC datetimes.

BMR keys: ``job`` (the jobs row + product_description, gtin), ``release`` (status: "released",
"release blocked", "ready for release" or "not complete"; releasable; reasons; counts by
severity), ``findings`` (rule, severity, job_id, serial_number, record, message[, source]),
``quantities`` (planned, made, passed, released, shipped, scrapped, quarantined, wip), ``mbr``,
``routing`` (MBR operations), ``bom`` (snapshot line beside the MBR line, ``matches_mbr``),
``materials`` (lots issued), ``serialised_parts``, ``operations``, ``tests`` (with
``within_limits`` and the calibration in force), ``equipment`` (per equipment and day of use:
certificate, due date, status, ``found_oot_by``), ``ncrs`` (with ``removed_parts`` and
``retest``), ``firmware`` (per build), ``serials`` (serial list with label check, customer,
``page``), ``ecns`` (applied, with pages), ``signoffs``, ``units`` (one DHR page per serial).

DHR keys: ``job``, ``unit``, ``findings`` (the unit's), ``components`` (genealogy, every level,
removed parts with their NCR), ``fitments``, ``operations`` (the unit's and its job's batch steps),
``tests``, ``equipment``, ``ncrs``, ``firmware``, ``labels`` (with ``parsed`` GS1 and
``problems``), ``shipments``, ``signoffs``, ``batch_review`` (the batch's review: status, summary,
record_hash, release_signature; None when the job is not in the lake).
"""

from __future__ import annotations

from tracelake.records.bmr import batch_record
from tracelake.records.device import device_record
from tracelake.records.render_html import render_html
from tracelake.records.render_pdf import render_pdf

__all__ = ["batch_record", "device_record", "render_html", "render_pdf"]
