"""Which reader a file needs, and the one call that reads any file (:func:`read_source`).

Tabular files (CSV, XLSX, JSON Lines) are read by :mod:`.tabular`; plain JSON by
:mod:`.json_records`; test-executive reports by a reader that knows the format, chosen by the
document itself (the root element of an ``.xml`` file, the keys of a ``.json`` one), never by its
name: :mod:`.teststand` (NI TestStand legacy XML), :mod:`.atml` (IEEE 1636.1 ATML TestResults),
:mod:`.openhtf` (OpenHTF JSON test records) and :mod:`.junit` (JUnit/xUnit XML).
"""

from __future__ import annotations

import re
from pathlib import Path

from tracelake.errors import FileRejected
from tracelake.intake.readers.base import PROBLEM_SCHEMA, ROW, RawFrame, no_problems
from tracelake.intake.readers.tabular import SUFFIXES as TABULAR_SUFFIXES
from tracelake.intake.readers.tabular import detect_delimiter, read_tabular
from tracelake.intake.readers.xml_safe import root_tag

__all__ = ["PROBLEM_SCHEMA", "REPORT_TABLE", "ROW", "SUFFIXES", "RawFrame", "detect_delimiter",
           "no_problems", "read_source", "report_format"]

SUFFIXES = {**TABULAR_SUFFIXES, ".xml": "xml", ".json": "json"}
#: the table every test-executive report feeds
REPORT_TABLE = "test_results"
_XML_ROOTS = {"reports": "teststand", "report": "teststand", "testresultscollection": "atml",
              "testresults": "atml", "testsuites": "junit", "testsuite": "junit"}
_OPENHTF_KEYS = (re.compile(rb'"dut_id"\s*:'), re.compile(rb'"phases"\s*:'))


def report_format(path: Path) -> str | None:
    """Which test-executive report a file is, from its content: ``teststand``, ``atml``,
    ``openhtf``, ``junit``; None for any other file (including plain JSON)."""
    suffix = path.suffix.lower()
    try:
        if suffix == ".xml":
            root = root_tag(path)
            return _XML_ROOTS.get((root or "").lower())
        if suffix == ".json":
            with path.open("rb") as fh:
                head = fh.read(1 << 20)
            return "openhtf" if all(k.search(head) for k in _OPENHTF_KEYS) else None
    except OSError:
        return None
    return None


def read_source(path: Path, *, encoding: str | None = None, header: bool = True,
                columns: list[str] | None = None, sheet: str | None = None,
                table: str | None = None, serial_from: str | None = None,
                json_key: str | None = None, stream: bool = False) -> RawFrame:
    """Read one file into text columns, with the reader its format needs.

    Args:
        path: the file.
        encoding: force an encoding (``utf-8``, ``windows-1252``) instead of detecting it.
        header: whether the first row names the columns (CSV only).
        columns: the column names of a header-less CSV, in order.
        sheet: the XLSX sheet to read; default the sheet named like ``table``, else the first.
        table: the canonical table the file feeds, used to choose an XLSX sheet.
        serial_from: JUnit only: where the unit's serial is, ``property:NAME`` or ``suite_name``.
        json_key: plain JSON only: the key of the array of records, when the object holds several.
        stream: test-executive reports only: keep the rows on disk and hand them back chunk by
            chunk (``RawFrame.chunks``; the caller closes the RawFrame), as an ingest does.
    """
    suffix = path.suffix.lower()
    if suffix not in (".xml", ".json"):
        return read_tabular(path, encoding=encoding, header=header, columns=columns, sheet=sheet,
                            table=table)
    if path.stat().st_size == 0:
        raise FileRejected(str(path), "file is empty (0 bytes): nothing to load")
    kind = report_format(path)
    if suffix == ".json":
        if kind == "openhtf":
            from tracelake.intake.readers.openhtf import read_openhtf

            return read_openhtf(path, stream=stream)
        from tracelake.intake.readers.json_records import read_json

        return read_json(path, key=json_key, encoding=encoding)
    if kind == "teststand":
        from tracelake.intake.readers.teststand import read_teststand

        return read_teststand(path, stream=stream)
    if kind == "atml":
        from tracelake.intake.readers.atml import read_atml

        return read_atml(path, stream=stream)
    if kind == "junit":
        from tracelake.intake.readers.junit import read_junit

        return read_junit(path, serial_from=serial_from, stream=stream)
    from tracelake.intake.readers.xml_safe import safe_iterparse

    for _event, element in safe_iterparse(path, events=("start",)):  # rejects unsafe/broken XML
        raise FileRejected(str(path), f"XML with root element <{element.tag}> is not a report "
                           "tracelake reads (TestStand, ATML TestResults, JUnit/xUnit)")
    raise FileRejected(str(path), "holds no XML element")  # pragma: no cover
