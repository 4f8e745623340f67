"""The hostile-string corpus: text that a renderer would interpret if it could, and a plant that
holds it.

Each string goes into the lake as an NCR description on SPX200-0004 (job J-1042) of the sample
plant, and every surface (pages in AppTest and Chromium, CLI commands, HTML, PDF, CSV, XLSX) must
show it as stored: what a person sees equals what is stored (control characters as their
visible stand-ins, ``tracelake.verbatim.visible``).
"""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

from tests.helpers import SAMPLE
from tracelake.verbatim import visible

LONG_WORD = "W" * 5000

#: name -> the string stored. Every one of them must survive every surface unchanged.
HOSTILE: dict[str, str] = {
    "markdown": "*spec* :red[URGENT] [link](http://example.com) **bold** `code` # heading",
    "rich": "[qa] signed [/foo] [bold red]alarm[/bold red] :smile:",
    "html": "<script>alert('x')</script><b>bold</b> &amp; <img src=x onerror=alert(1)>",
    "jinja": "{{ 7*7 }} {% if true %}yes{% endif %} {# comment #}",
    "formula": '=HYPERLINK("http://evil.example","click") +1 -2 @SUM(A1)',
    "emoji": "Lamp noise 😀🔥 ✓ — ½ N·m",
    "rtl": "עברית العربية mixed right-to-left",
    "latex": "$x^2$ and $$y$$ ~~strike~~ www.example.com",
    "long_word": LONG_WORD,
    "control": "NUL\x00here bell\x07 esc\x1b[31mred",
}

#: The NCR each string is stored in.
NCR_IDS = {name: f"NCR-H{i:02d}" for i, name in enumerate(HOSTILE, start=1)}


def shown(text: str) -> str:
    """What a person must see for a stored string (control characters as visible stand-ins)."""
    return visible(text)


def hostile_plant(dest: Path) -> Path:
    """The sample plant (without bad/) with one NCR per hostile string on SPX200-0004."""
    shutil.copytree(SAMPLE, dest, ignore=shutil.ignore_patterns("bad"))
    ncrs = dest / "ncrs.csv"
    with ncrs.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    header = rows[0]
    for name, text in HOSTILE.items():
        row = dict.fromkeys(header, "")
        row.update({"ncr_id": NCR_IDS[name], "raised_at": "2026-11-03T10:00:00",
                    "raised_by": "Jo Lindqvist", "job_id": "J-1042",
                    "serial_number": "SPX200-0004", "defect_code": "DOC-TEST",
                    "description": text, "disposition": "use_as_is",
                    "closed_at": "2026-11-03T12:00:00", "closed_by": "Ruth Adeyemi"})
        rows.append([row[c] for c in header])
    with ncrs.open("w", newline="", encoding="utf-8") as fh:
        csv.writer(fh, lineterminator="\n").writerows(rows)
    return dest
