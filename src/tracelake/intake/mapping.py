"""Mapping files: how a plant's own exports map onto the canonical tables.

A mapping file (YAML) lists sources; each names the files it covers and how to read them::

    timezone: Europe/London            # plant-local time zone for times without an offset
    sources:
      - name: sage-stores               # free text, shown in reports
        files: ["STK_ISSUE*.csv", "site-b/**/bom*.csv"]  # file names, or paths with folders
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
          line_no: {from: row}          # generated: the file's row number (or {from: file})
        values:                         # per column: the source's words -> the contract's
          result: {Passed: pass, Failed: fail}
        sheet: Issues                   # XLSX: the sheet to read
        serial_from: property:dut       # JUnit: the serial is this property (or suite_name)
        json_key: records               # plain JSON: the key of the array of records
        fill_down: [ID, Item Code]      # continuation rows: carry the record's columns down
        negate: [quantity]              # the export writes issues as negative quantities
      - name: register                  # one file feeding several tables, each with its own map
        files: ["QA*.xlsx"]
        tables:
          equipment: {aliases: {CSCODE: equipment_id, DESC: description}}
          calibrations: {aliases: {CSCODE: equipment_id, DATECAL: calibrated_at}}

Test-executive reports (TestStand, ATML, OpenHTF, JUnit) feed ``test_results`` whatever their
name; a source may still cover them to add constants (``equipment_id``) or to say ``serial_from``.

A file that no source covers is recognised from its name (``material_issues_2026-11.csv``) and
read with the defaults. Headers are matched to canonical columns ignoring case, spaces and dashes.
Mappings that ship with tracelake (``tracelake mapping list``) are named instead of a path.
"""

from __future__ import annotations

import difflib
import fnmatch
import hashlib
import json
import re
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from tracelake.contracts import CONTRACTS
from tracelake.errors import MappingError
from tracelake.intake.names import normalise_header, table_from_name

__all__ = [
    "DEFAULT_TIMEZONE",
    "GENERATED",
    "Mapping",
    "Source",
    "did_you_mean",
    "load_mapping",
    "shipped_description",
    "shipped_mappings",
]

DEFAULT_TIMEZONE = "Europe/London"
#: keys a source may hold
_SOURCE_KEYS = {"name", "files", "table", "tables", "dayfirst", "encoding", "header", "columns",
                "aliases", "constants", "values", "sheet", "timezone", "date_formats",
                "serial_from", "json_key", "fill_down", "negate"}
#: keys that may differ per table where one source feeds several (``tables:``)
_TABLE_KEYS = {"aliases", "constants", "values", "dayfirst", "date_formats", "negate"}
_TOP_KEYS = {"timezone", "sources", "description"}
#: generated columns: ``{from: row}`` is the file's row number, ``{from: file}`` its name
GENERATED = ("row", "file")
_BOOL_WORDS = {"true", "false", "yes", "no", "y", "n", "1", "0", "t", "f"}


def did_you_mean(word: str, known: list[str] | set[str] | tuple[str, ...]) -> str:
    """`` (did you mean 'x'?)`` for the closest known word, or nothing."""
    close = difflib.get_close_matches(str(word), sorted(known), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


@dataclass(frozen=True)
class Source:
    """How to read the files of one export for one table."""

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
    #: column -> ``row`` or ``file`` (``{from: row}`` in the mapping file)
    generated: dict[str, str] = field(default_factory=dict)
    #: column -> {the source's word: the contract's word}
    values: dict[str, dict[str, str]] = field(default_factory=dict)
    #: the file's columns a record writes on its first row only (tracelake.intake.fill_down)
    fill_down: tuple[str, ...] = ()
    #: numeric columns the export writes with the opposite sign (ERPNext's outward quantities)
    negate: tuple[str, ...] = ()

    def matches(self, path: Path) -> bool:
        """Whether this source covers the file (by name, or by path for folder patterns)."""
        return any(pattern_matches(pat, path) for pat in self.files)

    def fingerprint(self) -> str:
        """What of this source decides how a file is read (not its name or patterns).

        A file read before under another fingerprint is read again (import contract v2).
        """
        doc = {"table": self.table, "dayfirst": self.dayfirst, "encoding": self.encoding,
               "header": self.header, "columns": list(self.columns),
               "aliases": sorted(self.aliases.items()), "constants": sorted(self.constants.items()),
               "sheet": self.sheet, "timezone": self.timezone,
               "date_formats": list(self.date_formats), "generated": sorted(self.generated.items()),
               "values": sorted((c, sorted(m.items())) for c, m in self.values.items()),
               "serial_from": self.serial_from, "json_key": self.json_key}
        # keys added later count only where given, so that no earlier reading is read again
        if self.fill_down:
            doc["fill_down"] = list(self.fill_down)
        if self.negate:
            doc["negate"] = sorted(self.negate)
        return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()[:16]


def _glob_regex(pattern: str) -> re.Pattern[str]:
    """A path pattern as a regex: ``**/`` any folders (or none), ``*`` within one name."""
    out, i = [], 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return re.compile("".join(out), re.IGNORECASE)


def pattern_matches(pattern: str, path: Path) -> bool:
    """A file-name pattern matches the name; a pattern with folders matches the path's tail."""
    if "/" not in pattern:
        return fnmatch.fnmatch(path.name.lower(), pattern.lower())
    regex = _glob_regex(pattern.strip("/"))
    parts = path.as_posix().split("/")
    return any(regex.fullmatch("/".join(parts[i:])) for i in range(len(parts)))


@dataclass(frozen=True)
class Mapping:
    """All sources of a plant; files no source covers are read with the defaults."""

    sources: tuple[Source, ...] = ()
    timezone: str = DEFAULT_TIMEZONE
    path: str | None = None

    def source_for(self, path: Path) -> Source:
        """The (first) source covering ``path``; a default source recognised from the name."""
        return self.sources_for(path)[0]

    def sources_for(self, path: Path) -> list[Source]:
        """Every source covering ``path``, one per table (a register may feed two tables)."""
        found: dict[str | None, Source] = {}
        for source in self.sources:
            if source.matches(path) and source.table not in found:
                found[source.table] = source
        if found:
            return list(found.values())
        return [Source(name="default", table=table_from_name(path.name), timezone=self.timezone)]

    def unmatched_patterns(self, files: list[Path]) -> list[str]:
        """A warning for each pattern of this mapping that matches none of ``files``."""
        out, seen = [], set()
        for source in self.sources:
            for pat in source.files:
                key = (source.name.split(" / ")[0], pat)
                if key in seen:
                    continue
                seen.add(key)
                if not any(pattern_matches(pat, f) for f in files):
                    out.append(f"mapping source {key[0]!r}: pattern {pat!r} matched no file "
                               "of this run")
        return out


class _Loader(yaml.SafeLoader):
    """YAML as a plant writes it: ``YES``, ``N``, ``on`` stay words (only true/false are booleans).

    A value map such as ``{YES: true, N/A: ...}`` must keep the export's words as written.
    """


_Loader.yaml_implicit_resolvers = {
    k: [(tag, rx) for tag, rx in v if tag != "tag:yaml.org,2002:bool"]
    for k, v in yaml.SafeLoader.yaml_implicit_resolvers.copy().items()}
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
    list("tTfF"))


def shipped_mappings() -> dict[str, Path]:
    """The mappings that ship with tracelake: name -> file (``tracelake mapping list``)."""
    folder = resources.files("tracelake.intake") / "mappings"
    out = {}
    for entry in folder.iterdir():
        if entry.name.endswith((".yaml", ".yml")):
            out[entry.name.rsplit(".", 1)[0]] = Path(str(entry))
    return dict(sorted(out.items()))


def shipped_description(path: Path) -> str:
    """The one-line ``description:`` of a shipped mapping."""
    try:
        doc = yaml.load(path.read_text(encoding="utf-8"), Loader=_Loader)
    except (OSError, yaml.YAMLError):
        return ""
    return str((doc or {}).get("description") or "").strip() if isinstance(doc, dict) else ""


def load_mapping(path: Path | str | None) -> Mapping:
    """Read a mapping file, or a shipped mapping by name; no path gives the default mapping."""
    if path is None:
        return Mapping()
    file = Path(path)
    if not file.is_file():
        shipped = shipped_mappings()
        if str(path) in shipped:
            file = shipped[str(path)]
        elif file.exists():
            raise MappingError(f"{path}: is a folder, not a mapping file")
        else:
            names = list(shipped)
            raise MappingError(f"{path}: mapping file not found, and no shipped mapping has "
                               f"that name{did_you_mean(str(path), names)} "
                               "(tracelake mapping list names them)")
    try:
        doc = yaml.load(file.read_text(encoding="utf-8"), Loader=_Loader)
    except UnicodeDecodeError:
        raise MappingError(f"{path}: not a text file (a mapping is YAML, UTF-8)") from None
    except OSError as exc:
        raise MappingError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise MappingError(f"{path}: not valid YAML{where} ({problem})") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("sources", []), list):
        raise MappingError(f"{path}: expected a 'sources:' list at the top level")
    unknown = set(doc) - _TOP_KEYS
    if unknown:
        key = sorted(map(str, unknown))[0]
        raise MappingError(f"{path}: unknown top-level key {key!r}{did_you_mean(key, _TOP_KEYS)} "
                           f"(known: {', '.join(sorted(_TOP_KEYS))})")
    timezone = str(doc.get("timezone") or DEFAULT_TIMEZONE)
    _check_timezone(path, timezone)
    sources: list[Source] = []
    for i, raw in enumerate(doc.get("sources") or [], start=1):
        sources.extend(_sources(Path(path), i, raw, timezone))
    return Mapping(tuple(sources), timezone, str(file))


def _sources(path: Path, index: int, raw: Any, timezone: str) -> list[Source]:
    """One source of the file: one Source per table it feeds."""
    where = f"{path}: source {index}"
    if not isinstance(raw, dict):
        raise MappingError(f"{where}: expected a mapping of keys such as 'files' and 'table'")
    _check_keys(where, raw, _SOURCE_KEYS)
    if raw.get("name"):
        where = f"{path}: source {raw['name']!r}"
    if "table" in raw and "tables" in raw:
        raise MappingError(f"{where}: give either 'table' or 'tables', not both")
    tables = raw.get("tables")
    if tables is None:
        return [_source(path, where, index, raw, raw.get("table"), timezone)]
    if not isinstance(tables, dict) or not tables:
        raise MappingError(f"{where}: 'tables' maps each table to its own column map "
                           "(e.g. tables: {equipment: {aliases: ...}})")
    out = []
    # fill_down is the file's: it may name a header any of the tables maps
    maps = [own.get("aliases") for own in tables.values() if isinstance(own, dict)]
    every_alias = tuple(str(k) for m in maps if isinstance(m, dict) for k in m)
    for table, own in tables.items():
        own = own or {}
        if not isinstance(own, dict):
            raise MappingError(f"{where}: tables: {table}: expected keys such as 'aliases'")
        _check_keys(f"{where}: tables: {table}", own, _TABLE_KEYS)
        merged = {k: v for k, v in raw.items() if k != "tables"} | own
        out.append(_source(path, f"{where} / {table}", index, merged, table, timezone,
                           name_suffix=f" / {table}", known_headers=every_alias))
    return out


def _check_keys(where: str, raw: dict[Any, Any], known: set[str]) -> None:
    unknown = sorted(str(k) for k in set(raw) - known)
    if unknown:
        key = unknown[0]
        raise MappingError(f"{where}: unknown key {key!r}{did_you_mean(key, known)} "
                           f"(known: {', '.join(sorted(known))})")


def _source(path: Path, where: str, index: int, raw: dict[str, Any], table: Any,
            timezone: str, name_suffix: str = "", known_headers: tuple[str, ...] = ()) -> Source:
    if table is not None:
        table = str(table)
        if table not in CONTRACTS:
            raise MappingError(f"{where}: table {table!r} is not in the import contract"
                               f"{did_you_mean(table, list(CONTRACTS))}")
    files = raw.get("files") or []
    if isinstance(files, str):
        files = [files]
    if not files:
        raise MappingError(f"{where}: 'files' must list at least one file-name pattern")
    aliases = {str(k): str(v) for k, v in _as_dict(where, "aliases", raw).items()}
    constants: dict[str, str] = {}
    generated: dict[str, str] = {}
    for column, value in _as_dict(where, "constants", raw).items():
        if isinstance(value, dict):
            if set(value) != {"from"} or str(value["from"]) not in GENERATED:
                raise MappingError(f"{where}: constants: {column}: a generated column is "
                                   "{from: row} or {from: file}")
            generated[str(column)] = str(value["from"])
        else:
            constants[str(column)] = _text(value)
    values = _values(where, _as_dict(where, "values", raw), table)
    columns = tuple("" if c is None else str(c) for c in (raw.get("columns") or []))
    if table is not None:
        known = list(CONTRACTS[table].input_columns)
        for key, names in (("aliases", aliases.values()), ("constants", [*constants, *generated])):
            for name in names:
                if name not in known:
                    raise MappingError(f"{where}: {key}: {name!r} is not a column of {table}"
                                       f"{did_you_mean(name, known)}")
    header = raw.get("header", True)
    if not header and not columns:
        raise MappingError(f"{where}: 'header: false' needs a 'columns' list")
    fill_down = _names(where, "fill_down", raw)
    _check_fill_down(where, fill_down, table, columns if not header else None,
                     [*aliases, *known_headers])
    negate = _names(where, "negate", raw)
    if table is not None:
        for name in negate:
            if name not in CONTRACTS[table].input_columns:
                raise MappingError(f"{where}: negate: {name!r} is not a column of {table}"
                                   f"{did_you_mean(name, list(CONTRACTS[table].input_columns))}")
            if not CONTRACTS[table].dtypes[name].is_numeric():
                raise MappingError(f"{where}: negate: {name!r} is not a number column of "
                                   f"{table}")
    tz = str(raw.get("timezone") or timezone)
    _check_timezone(path, tz)
    date_formats = raw.get("date_formats") or []
    if isinstance(date_formats, str):
        date_formats = [date_formats]
    for fmt in date_formats:
        if "%" not in str(fmt):
            raise MappingError(f"{where}: date format {fmt!r} is not a strftime format "
                               "(e.g. '%m/%d/%Y')")
    return Source(name=str(raw.get("name") or f"source {index}") + name_suffix, table=table,
                  files=tuple(map(str, files)), dayfirst=bool(raw.get("dayfirst", False)),
                  encoding=raw.get("encoding"), header=bool(header), columns=columns,
                  aliases=aliases, constants=constants, sheet=raw.get("sheet"), timezone=tz,
                  date_formats=tuple(map(str, date_formats)), generated=generated,
                  values=values, fill_down=fill_down, negate=negate,
                  serial_from=_serial_from(where, raw.get("serial_from")),
                  json_key=None if raw.get("json_key") is None else str(raw["json_key"]))


def _check_fill_down(where: str, names: tuple[str, ...], table: str | None,
                     columns: tuple[str, ...] | None, aliases: list[str]) -> None:
    """Each ``fill_down`` name is a column the source knows: one of its ``columns`` (no header
    row), else a header its aliases name or a column of its table (matched ignoring case)."""
    if columns is not None:
        known = list(columns)
    else:
        known = [*aliases, *(CONTRACTS[table].input_columns if table else ())]
    folded = {normalise_header(k) for k in known}
    for name in names:
        if name in known or (columns is None and normalise_header(name) in folded):
            continue
        what = "one of its 'columns'" if columns is not None else (
            "a header its aliases name" + (f" nor a column of {table}" if table else ""))
        raise MappingError(f"{where}: fill_down: {name!r} is not {what}"
                           f"{did_you_mean(name, known)}")


def _names(where: str, key: str, raw: dict[str, Any]) -> tuple[str, ...]:
    """A key holding a list of column names (``fill_down: [ID, Item Code]``)."""
    value = raw.get(key)
    if value is None:
        return ()
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, (str, int)) and str(v).strip()
                                              for v in value):
        raise MappingError(f"{where}: '{key}' must list column names (e.g. {key}: [A, B])")
    return tuple(dict.fromkeys(str(v) for v in value))


def _serial_from(where: str, value: Any) -> str | None:
    """Check ``serial_from``: ``suite_name`` or ``property:NAME`` (JUnit reports)."""
    if value is None:
        return None
    text = str(value).strip()
    if text == "suite_name" or (text.startswith("property:") and text[len("property:"):]):
        return text
    raise MappingError(f"{where}: serial_from {text!r} must be 'suite_name' or 'property:NAME'")


def _text(value: Any) -> str:
    """A YAML scalar as the text a file would hold (``true``, not Python's ``True``)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _as_dict(where: str, key: str, raw: dict[str, Any]) -> dict[Any, Any]:
    value = raw.get(key) or {}
    if not isinstance(value, dict):
        raise MappingError(f"{where}: '{key}' must map names to values (e.g. {key}: {{A: b}})")
    return value


def _values(where: str, raw: dict[Any, Any], table: str | None) -> dict[str, dict[str, str]]:
    """The ``values:`` maps, checked against the table's columns and allowed values."""
    out: dict[str, dict[str, str]] = {}
    contract = CONTRACTS.get(table) if table else None
    for column, words in raw.items():
        column = str(column)
        if contract is not None and column not in contract.input_columns:
            raise MappingError(f"{where}: values: {column!r} is not a column of {table}"
                               f"{did_you_mean(column, list(contract.input_columns))}")
        if not isinstance(words, dict):
            raise MappingError(f"{where}: values: {column}: expected a map of the export's "
                               "words to the contract's (e.g. {Passed: pass})")
        out[column] = {_text(k): _text(v) for k, v in words.items()}
        if contract is None:
            continue
        allowed = contract.allowed_values.get(column)
        for word, target in out[column].items():
            if allowed is not None and target and target not in allowed:
                raise MappingError(f"{where}: values: {column}: {word!r} maps to {target!r}, "
                                   f"which is not one of: {', '.join(allowed)}"
                                   f"{did_you_mean(target, allowed)}")
            if str(contract.dtypes[column]) == "Boolean" and target \
                    and target.lower() not in _BOOL_WORDS:
                raise MappingError(f"{where}: values: {column}: {word!r} maps to {target!r}, "
                                   "which is not a yes/no value (true/false)")
    return out


def _check_timezone(path: Path | str, tz: str) -> None:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise MappingError(f"{path}: unknown time zone {tz!r} (e.g. Europe/London)") from None
