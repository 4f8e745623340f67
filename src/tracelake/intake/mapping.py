"""Mapping files: how a plant's own exports map onto the canonical tables.

A mapping file (YAML) lists sources; each names the files it covers and how to read them::

    timezone: Europe/London            # plant-local time zone for times without an offset
    sources:
      - name: sage-stores               # free text, shown in reports
        files: ["STK_ISSUE*.csv"]       # file-name patterns (fnmatch, case-insensitive)
        table: material_issues          # the canonical table they feed
        dayfirst: true                  # 25/11/2026 means 25 November
        date_formats: ["%m/%d/%Y"]      # other forms the export writes, declared (strftime)
        encoding: windows-1252          # force an encoding instead of detecting it
        header: true                    # false: the file has no header row ...
        columns: []                     # ... and these name its columns in order
        aliases:                        # file header -> canonical column
          Works Order: job_id
          Part No: component_code
        constants:                      # fill a column the export does not carry
          equipment_id: RIG-3
        sheet: Issues                   # XLSX: the sheet to read
        serial_from: property:dut       # JUnit: the serial is this property (or suite_name)
        json_key: records               # plain JSON: the key of the array of records

Test-executive reports (TestStand, ATML, OpenHTF, JUnit) feed ``test_results`` whatever their
name; a source may still cover them to add constants (``equipment_id``) or to say ``serial_from``.

A file that no source covers is recognised from its name (``material_issues_2026-11.csv``) and
read with the defaults. Headers are matched to canonical columns ignoring case, spaces and dashes.
"""

from __future__ import annotations

import difflib
import fnmatch
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tracelake.contracts import CONTRACTS
from tracelake.errors import MappingError

__all__ = [
    "DEFAULT_TIMEZONE",
    "HeaderReport",
    "Mapping",
    "Source",
    "check_headers",
    "load_mapping",
    "normalise_header",
    "table_from_name",
]

DEFAULT_TIMEZONE = "Europe/London"
_SOURCE_KEYS = {"name", "files", "table", "dayfirst", "encoding", "header", "columns", "aliases",
                "constants", "sheet", "timezone", "date_formats", "serial_from", "json_key"}


@dataclass(frozen=True)
class Source:
    """How to read the files of one export."""

    name: str
    table: str | None = None
    files: tuple[str, ...] = ()
    dayfirst: bool = False
    encoding: str | None = None
    header: bool = True
    columns: tuple[str, ...] = ()
    aliases: dict[str, str] = field(default_factory=dict)
    constants: dict[str, str] = field(default_factory=dict)
    sheet: str | None = None
    timezone: str = DEFAULT_TIMEZONE
    date_formats: tuple[str, ...] = ()
    serial_from: str | None = None  # JUnit: ``property:NAME`` or ``suite_name``
    json_key: str | None = None  # plain JSON: the key holding the array of records

    def matches(self, path: Path) -> bool:
        """Whether this source covers the file."""
        name = path.name.lower()
        return any(fnmatch.fnmatch(name, pat.lower()) for pat in self.files)


@dataclass(frozen=True)
class Mapping:
    """All sources of a plant; files no source covers are read with the defaults."""

    sources: tuple[Source, ...] = ()
    timezone: str = DEFAULT_TIMEZONE
    path: str | None = None

    def source_for(self, path: Path) -> Source:
        """The source covering ``path``; a default source recognised from the name otherwise."""
        for source in self.sources:
            if source.matches(path):
                return source
        return Source(name="default", table=table_from_name(path.name), timezone=self.timezone)


def normalise_header(header: str) -> str:
    """A header as a canonical column name would spell it: lower case, words joined by ``_``."""
    text = header.strip().lower().replace("\ufeff", "")
    text = re.sub(r"[\s\-./]+", "_", text)
    return re.sub(r"[^0-9a-z_]", "", text).strip("_")


def table_from_name(file_name: str) -> str | None:
    """The table a file feeds, from its name: the longest table name the file name starts with."""
    stem = file_name.lower()
    best = None
    for table in CONTRACTS:
        if stem.startswith(table):
            rest = stem[len(table):]
            if (not rest or not rest[0].isalpha()) and (best is None or len(table) > len(best)):
                best = table
    return best


def load_mapping(path: Path | None) -> Mapping:
    """Read a mapping file; no path gives the default mapping (names and canonical headers)."""
    if path is None:
        return Mapping()
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise MappingError(f"{path}: mapping file not found") from None
    except yaml.YAMLError as exc:
        raise MappingError(f"{path}: not valid YAML ({str(exc).splitlines()[0]})") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("sources", []), list):
        raise MappingError(f"{path}: expected a 'sources:' list at the top level")
    timezone = str(doc.get("timezone") or DEFAULT_TIMEZONE)
    _check_timezone(path, timezone)
    sources = tuple(_source(path, i, raw, timezone)
                    for i, raw in enumerate(doc.get("sources") or [], start=1))
    return Mapping(sources, timezone, str(path))


def _source(path: Path, index: int, raw: Any, timezone: str) -> Source:
    where = f"{path}: source {index}"
    if not isinstance(raw, dict):
        raise MappingError(f"{where}: expected a mapping of keys such as 'files' and 'table'")
    unknown = set(raw) - _SOURCE_KEYS
    if unknown:
        raise MappingError(f"{where}: unknown key(s) {sorted(unknown)} "
                           f"(known: {sorted(_SOURCE_KEYS)})")
    table = raw.get("table")
    if table is not None and table not in CONTRACTS:
        raise MappingError(f"{where}: table {table!r} is not in the import contract")
    files = raw.get("files") or []
    if isinstance(files, str):
        files = [files]
    if not files:
        raise MappingError(f"{where}: 'files' must list at least one file-name pattern")
    aliases = {str(k): str(v) for k, v in (raw.get("aliases") or {}).items()}
    constants = {str(k): str(v) for k, v in (raw.get("constants") or {}).items()}
    columns = tuple("" if c is None else str(c) for c in (raw.get("columns") or []))
    if table is not None:
        known = set(CONTRACTS[table].input_columns)
        for name in [*aliases.values(), *constants]:
            if name not in known:
                raise MappingError(f"{where}: {name!r} is not a column of {table}")
    header = raw.get("header", True)
    if not header and not columns:
        raise MappingError(f"{where}: 'header: false' needs a 'columns' list")
    tz = str(raw.get("timezone") or timezone)
    _check_timezone(path, tz)
    date_formats = raw.get("date_formats") or []
    if isinstance(date_formats, str):
        date_formats = [date_formats]
    for fmt in date_formats:
        if "%" not in str(fmt):
            raise MappingError(f"{where}: date format {fmt!r} is not a strftime format "
                               "(e.g. '%m/%d/%Y')")
    return Source(name=str(raw.get("name") or f"source {index}"), table=table,
                  files=tuple(map(str, files)), dayfirst=bool(raw.get("dayfirst", False)),
                  encoding=raw.get("encoding"), header=bool(header), columns=columns,
                  aliases=aliases, constants=constants, sheet=raw.get("sheet"), timezone=tz,
                  date_formats=tuple(map(str, date_formats)),
                  serial_from=_serial_from(where, raw.get("serial_from")),
                  json_key=None if raw.get("json_key") is None else str(raw["json_key"]))


def _serial_from(where: str, value: Any) -> str | None:
    """Check ``serial_from``: ``suite_name`` or ``property:NAME`` (JUnit reports)."""
    if value is None:
        return None
    text = str(value).strip()
    if text == "suite_name" or (text.startswith("property:") and text[len("property:"):]):
        return text
    raise MappingError(f"{where}: serial_from {text!r} must be 'suite_name' or 'property:NAME'")


def _check_timezone(path: Path, tz: str) -> None:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise MappingError(f"{path}: unknown time zone {tz!r} (e.g. Europe/London)") from None


def resolve_headers(headers: list[str], table: str, source: Source) -> dict[str, str]:
    """File header -> canonical column, for the headers that map to one."""
    known = set(CONTRACTS[table].input_columns)
    aliases = {normalise_header(k): v for k, v in source.aliases.items()}
    out: dict[str, str] = {}
    for header in headers:
        if header in source.aliases:
            out[header] = source.aliases[header]
        elif normalise_header(header) in aliases:
            out[header] = aliases[normalise_header(header)]
        elif normalise_header(header) in known:
            out[header] = normalise_header(header)
    return out


#: Headers that common MRP, test-executive and calibration exports use, as suggestions only:
#: a suggestion is shown to the user for a mapping file, never applied by itself.
KNOWN_HEADERS: dict[str, str] = {
    "works_order": "job_id", "work_order": "job_id", "wo": "job_id", "job": "job_id",
    "job_no": "job_id", "mo": "job_id", "manufacturing_order": "job_id",
    "part_no": "component_code", "part_number": "component_code", "item": "component_code",
    "item_code": "component_code", "sku": "product_code", "batch": "lot_number",
    "batch_no": "lot_number", "lot": "lot_number", "lot_no": "lot_number",
    "serial": "serial_number", "serial_no": "serial_number", "sn": "serial_number",
    "uut_serial": "serial_number", "qty": "quantity", "cscode": "equipment_id",
    "gauge_id": "equipment_id", "asset": "equipment_id", "asset_no": "equipment_id",
    "station": "equipment_id", "station_id": "equipment_id", "datecal": "calibrated_at",
    "cal_date": "calibrated_at", "calibration_date": "calibrated_at", "nextcal": "due_at",
    "next_cal": "due_at", "due_date": "due_at", "calby": "calibrated_by",
    "cert_no": "certificate_no", "certificate": "certificate_no", "repnum": "certificate_no",
    "report_no": "certificate_no", "desc": "description", "operator_id": "operator",
    "user": "operator", "step_name": "test_step", "low": "low_limit", "high": "high_limit",
    "lo_limit": "low_limit", "hi_limit": "high_limit", "status": "result", "outcome": "result",
    "start_time": "started_at", "end_time": "finished_at", "timestamp": "tested_at",
}


@dataclass(frozen=True)
class HeaderReport:
    """What a file's headers give a table, and what they still lack."""

    table: str
    mapped: dict[str, str]
    unmapped: list[str]
    missing_required: list[str]
    missing_optional: list[str]
    suggestions: dict[str, str]

    def as_yaml(self, file_name: str) -> str:
        """A mapping snippet to start from: the aliases suggested for the unmapped headers."""
        aliases = {h: self.suggestions[h] for h in self.unmapped if h in self.suggestions}
        doc = {"sources": [{"name": Path(file_name).stem, "files": [file_name],
                            "table": self.table, "aliases": aliases}]}
        text = yaml.safe_dump(doc, sort_keys=False, allow_unicode=True)
        rest = [h for h in self.unmapped if h not in self.suggestions]
        if rest:
            text += "# kept in _extra unless mapped: " + ", ".join(rest) + "\n"
        if self.missing_required:
            text += ("# still needed: " + ", ".join(self.missing_required)
                     + " (an alias, or a constant if the export never carries it)\n")
        return text


def check_headers(headers: list[str], table: str, source: Source | None = None) -> HeaderReport:
    """For a file's headers: which canonical columns they map to and which the table still needs."""
    contract = CONTRACTS[table]
    source = source or Source(name="default", table=table)
    mapped = resolve_headers(headers, table, source)
    have = set(mapped.values()) | set(source.constants)
    unmapped = [h for h in headers if h not in mapped]
    wanted = [c for c in contract.input_columns if c not in have]
    suggestions: dict[str, str] = {}
    for header in unmapped:
        known = KNOWN_HEADERS.get(normalise_header(header))
        close = difflib.get_close_matches(normalise_header(header), wanted, n=1, cutoff=0.6)
        if known in wanted:
            suggestions[header] = known
        elif close:
            suggestions[header] = close[0]
    return HeaderReport(
        table=table, mapped=mapped, unmapped=unmapped,
        missing_required=[c for c in contract.required if c not in have],
        missing_optional=[c for c in wanted if c not in contract.required],
        suggestions=suggestions)
