"""Records benchmark: a ~500-unit batch record assembled from the lake and rendered as PDF and HTML.

    uv run python benchmarks/records.py [--units 2000] [--seed 6] [--job JOB] [--check]

A synthetic plant is written with ``tracelake generate`` and ingested with ``tracelake ingest``
(both cached under ``benchmarks/.work/records/``, rebuilt with ``--fresh``). The biggest job of a
finished product is picked (seed 6 at 2,000 units has one of 498 units; ``--job`` picks another),
then, in this process and in this order:

* ``assembly``   ``batch_record(con, job)`` on the read-only snapshot (findings, evidence, genealogy
                 and one DHR page per unit)
* ``pdf``        ``render_pdf(doc)``; the issue's target is under 30 s for a 500-unit batch
* ``html``       ``render_html(doc)``
* ``baseline``   a plain fpdf2 document with the same number of pages, one line of DejaVu Sans
                 each, and "Page N of M": what fpdf2 costs before any record content

The table gives seconds, pages, milliseconds per page and the ratio to the baseline. Machines here
are noisy (perf-notes: up to 2x between runs), so compare rows of one run. ``--check`` reads the
PDF back with pypdf and checks the serial list's page numbers against the unit pages for 25
serials spread over the batch. Results: ``benchmarks/.work/records/results.json``.
"""

from __future__ import annotations

import io
import platform
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import harness

WORK = harness.WORK / "records"
TARGET_SECONDS = 30.0


def _tracelake(*args: str) -> None:
    """Run the tracelake CLI of this environment."""
    exe = Path(sys.executable).with_name("tracelake")
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-c", "from tracelake.cli import main; main()"]
    subprocess.run([*cmd, *args], check=True, stdout=subprocess.DEVNULL)


def _plant(units: int, seed: int, fresh: bool) -> Path:
    """A generated and ingested plant (cached): returns its lake folder."""
    root = WORK / f"plant-u{units}-s{seed}"
    if fresh and root.exists():
        shutil.rmtree(root)
    exports, lake = root / "exports", root / "lake"
    if not (root / "ingested").exists():
        shutil.rmtree(root, ignore_errors=True)
        print(f"generating a plant of {units:,} units (seed {seed}) and ingesting it ...", flush=True)
        _tracelake("generate", "--out", str(exports), "--units", str(units), "--seed", str(seed),
                   "--lake", str(lake))
        _tracelake("ingest", *sorted(str(p) for p in exports.iterdir()), "--lake", str(lake))
        (root / "ingested").touch()
    return lake


def _biggest_job(con: Any) -> tuple[str, int]:
    row = con.execute("""
        SELECT u.job_id, count(*) AS n FROM units u
        WHERE u.product_code NOT IN (SELECT component_code FROM mbr_bom)
        GROUP BY u.job_id ORDER BY n DESC, u.job_id LIMIT 1""").fetchone()
    return str(row[0]), int(row[1])


def _baseline(pages: int) -> float:
    """Seconds for a plain fpdf2 PDF of ``pages`` pages, one DejaVu line each, with Page N of M."""
    from fpdf import FPDF

    from tracelake.records.pdf_document import find_font

    start = time.perf_counter()
    pdf = FPDF(format="A4")
    font = find_font("DejaVuSans.ttf")
    if font is not None:
        pdf.add_font("dejavu", "", font)
        pdf.set_font("dejavu", size=9)
    else:
        pdf.set_font("helvetica", size=9)
    pdf.alias_nb_pages("{pages}")
    for n in range(1, pages + 1):
        pdf.add_page()
        pdf.cell(0, 5, f"Page {n} of {{pages}} — one line of record text")
    pdf.output()
    return time.perf_counter() - start


def _check(pdf: bytes, doc: dict[str, Any]) -> str:
    """Serial-list page numbers against the pages the unit records start on (25 serials)."""
    import pypdf

    from tracelake.records.present import unit_heading

    reader = pypdf.PdfReader(io.BytesIO(pdf))
    pages = reader.pages
    listed: dict[str, int] = {}
    for page in pages[:200]:
        text = page.extract_text()
        if "Serial list" in text and "Unit page" in text:
            for line in text.splitlines():
                m = re.match(r"^(\S+) \S+ .* (\d+)$", line.strip())
                if m:
                    listed[m.group(1)] = int(m.group(2))
    serials = [s["serial_number"] for s in doc["serials"]]
    step = max(1, len(serials) // 25)
    bad = []
    for serial in serials[::step]:
        n = listed.get(serial)
        text = pages[n - 1].extract_text() if n else ""
        if n is None or unit_heading(serial) not in (line.strip() for line in text.splitlines()):
            bad.append(serial)
    last = pages[-1].extract_text()
    ok_total = f"Page {len(pages)} of {len(pages)}" in last
    return (f"{len(serials[::step])} serials checked, {len(bad)} wrong"
            + ("" if ok_total else "; last page does not say Page N of N") + (f": {bad}" if bad else ""))


def main() -> None:
    parser = harness.parser(__doc__, child_args=())
    parser.add_argument("--units", type=int, default=2000, help="finished units in the plant")
    parser.add_argument("--seed", type=int, default=6)
    parser.add_argument("--job", help="job to render (default: the biggest job of a finished product)")
    parser.add_argument("--fresh", action="store_true", help="regenerate and re-ingest the plant")
    parser.add_argument("--check", action="store_true", help="read the PDF back and check page numbers")
    args = parser.parse_args()

    from tracelake.lake.snapshot import open_snapshot
    from tracelake.lake.storage import LakePaths
    from tracelake.records import batch_record, render_html, render_pdf

    lake = _plant(args.units, args.seed, args.fresh)
    con = open_snapshot(LakePaths.of(lake))
    job, n_units = (args.job, 0) if args.job else _biggest_job(con)

    t = time.perf_counter()
    doc = batch_record(con, job)
    assembly = time.perf_counter() - t
    n_units = len(doc["units"])
    t = time.perf_counter()
    pdf = render_pdf(doc)
    pdf_s = time.perf_counter() - t
    t = time.perf_counter()
    html = render_html(doc)
    html_s = time.perf_counter() - t
    n_pages = len(re.findall(rb"/Type\s*/Page\b", pdf))
    base = _baseline(n_pages)

    rows = [("assembly  batch_record", assembly, None), ("pdf       render_pdf", pdf_s, n_pages),
            ("html      render_html", html_s, None), ("baseline  fpdf2, 1 line/page", base, n_pages)]
    print(f"\njob {job}: {n_units} units, {len(doc['tests']):,} results, {len(doc['operations']):,} "
          f"operations; PDF {n_pages:,} pages, {len(pdf) / 1e6:.1f} MB; HTML {len(html) / 1e6:.1f} MB")
    harness.print_table(["stage", "seconds", "pages", "ms/page", "x baseline"],
                        [(name, secs, pages, secs / pages * 1000 if pages else None,
                          harness.ratio(secs, base)) for name, secs, pages in rows],
                        ["", ".2f", "", ".2f", ".1f"])
    verdict = "PASS" if pdf_s < TARGET_SECONDS else "FAIL"
    print(f"target: a {n_units}-unit batch renders to PDF in under {TARGET_SECONDS:.0f} s: "
          f"{verdict} ({pdf_s:.1f} s; assembly + PDF {assembly + pdf_s:.1f} s)")
    check = _check(pdf, doc) if args.check else None
    if check:
        print(f"check: {check}")

    harness.write_json(WORK / "results.json", {
        "job": job, "units": n_units, "pages": n_pages, "pdf_bytes": len(pdf),
        "seconds": {"assembly": assembly, "pdf": pdf_s, "html": html_s, "baseline": base},
        "target_seconds": TARGET_SECONDS, "pass": pdf_s < TARGET_SECONDS, "check": check,
        "plant": {"units": args.units, "seed": args.seed}, "python": platform.python_version(),
    })


if __name__ == "__main__":
    main()
