"""The auditor's story the time-travel tests share: the sample plant ingested (run 1), J-1042's
findings disposed and its release signed through the review library, then a corrected re-export
of two of its source files ingested (run 2): SPX200-0001's ALIGN beam_offset 0.012 -> 0.019 in
``test_results-inprocess.csv``, and issue MI-26-0110 (CASE-200) lot L-7720 -> L-7721 in
``material_issues_2026-10.csv`` (the genealogy changes, so a point before run 2 needs its own
index)."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from tests.helpers import SAMPLE, Lake
from tracelake.records.signing import record_dispositions, record_signature
from tracelake.review import add_user, authenticate, chain

PASSWORD = "correct horse 42"
OLD_VALUE, NEW_VALUE = "0.012", "0.019"
OLD_LOT, NEW_LOT = "L-7720", "L-7721"
VALUE_ROW = "SPX200-0001,GA-12,ALIGN,beam_offset,{}"
ISSUE_ROW = "MI-26-0110,J-1042,CASE-200,{},"


@dataclass(frozen=True)
class Story:
    """The lake and the points of the story."""

    lake: Lake
    landing: Path
    run1: str
    run2: str
    release: chain.Entry  # the release signature (signed between run 1 and run 2)


def _correct(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, (path, old)
    path.write_text(text.replace(old, new), encoding="utf-8")


def build_story(root: Path) -> Story:
    """Build the story's lake under ``root`` (real files, real ingests, real signatures)."""
    landing = root / "landing"
    shutil.copytree(SAMPLE, landing, ignore=shutil.ignore_patterns("bad"))
    lake = Lake(root / "lake")
    run1 = lake.ingest(landing).run_id
    add_user(lake.paths, "rita", "reviewer", PASSWORD, "Rita Okafor")
    rita = authenticate(lake.paths, "rita", PASSWORD)
    record_dispositions(lake.paths, rita, "J-1042",
                        lambda r: [f for f in r["findings"] if f["needs_disposition"]],
                        "accepted", rationale="results re-assessed within the test margin")
    release = record_signature(lake.paths, rita, "J-1042", "release")
    _correct(landing / "test_results-inprocess.csv", VALUE_ROW.format(OLD_VALUE),
             VALUE_ROW.format(NEW_VALUE))
    _correct(landing / "material_issues_2026-10.csv", ISSUE_ROW.format(OLD_LOT),
             ISSUE_ROW.format(NEW_LOT))
    report = lake.ingest(landing)
    updated = {Path(f.path).name: f.rows_updated for f in report.files if f.rows_updated}
    assert updated == {"test_results-inprocess.csv": 1, "material_issues_2026-10.csv": 1}
    return Story(lake, landing, run1, report.run_id, release)
