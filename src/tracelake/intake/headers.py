"""A file's headers against a table: which canonical columns they fill, which the table still
needs, and the aliases to suggest (``tracelake mapping check``, ingest's renames)."""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from pathlib import Path

import yaml

from tracelake.contracts import CONTRACTS
from tracelake.intake.mapping import Source
from tracelake.intake.names import normalise_header

__all__ = ["KNOWN_HEADERS", "HeaderReport", "check_headers", "resolve_headers"]


def resolve_headers(headers: list[str], table: str, source: Source) -> dict[str, str]:
    """File header -> canonical column, for the headers that map to one."""
    targets = set(source.aliases.values())
    # a column an alias fills is not also taken from a header that merely shares its name
    # (a register's STATUS column when REMARKS is mapped to status)
    known = set(CONTRACTS[table].input_columns) - targets
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
