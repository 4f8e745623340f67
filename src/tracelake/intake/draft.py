"""``tracelake mapping init``: a draft mapping for a file nobody has mapped yet.

Columns are recognised by their names (the canonical name, a header common exports use, a close
spelling) and, for a file without a header row or names that say nothing, by their values (dates,
allowed words such as a status, yes/no, numbers, codes unique on every row). Every line the draft
could not be sure of carries a ``# GUESS`` comment for the user to confirm or correct: a draft is
never applied by itself.
"""

from __future__ import annotations

import difflib
import re
from pathlib import Path

import polars as pl
import yaml

from tracelake.contracts import CONTRACTS, TableContract
from tracelake.errors import FileRejected
from tracelake.intake.dates import decide_date_orders
from tracelake.intake.headers import KNOWN_HEADERS
from tracelake.intake.names import normalise_header, table_from_name
from tracelake.intake.readers import ROW, read_source

__all__ = ["draft_mapping"]

_DATE = re.compile(r"^(\d{4}-\d{2}-\d{2}|\d{1,2}[/.-]\d{1,2}[/.-]\d{2,4})([ T].*)?$")
_NUMBER = re.compile(r"^[+-]?\d+([.,]\d+)?$")
_BOOL = {"true", "false", "yes", "no", "y", "n", "1", "0", "t", "f"}


def draft_mapping(path: Path, table: str | None = None) -> str:
    """The YAML text of a draft mapping for ``path`` (one source), guesses marked."""
    raw = read_source(path, table=table)
    names = [c for c in raw.frame.columns if c != ROW]
    header = not _looks_like_data(names)
    notes: list[str] = []
    if not header:
        columns = [f"col{i}" for i in range(1, len(names) + 1)]
        raw = read_source(path, header=False, columns=columns, table=table)
        names = columns
        notes.append("the first row holds data, not names: read as a file without a header "
                     "(header: false); rename col1, col2 ... if you like")
    frame = raw.frame.select(names).head(2000)
    guessed_table = False
    if table is None:
        table = table_from_name(path.name)
    if table is None:
        table = _best_table(frame, header)
        guessed_table = True
    contract = CONTRACTS[table]
    picks = _by_name(names, contract) if header else {}
    for name, (column, _) in list(picks.items()):  # a name that says status, words that do not
        allowed = contract.allowed_values.get(column)
        words = {_fold(v) for v in _values(frame, name)}
        if allowed and words and \
                sum(_close_word(w, allowed) is not None for w in words) < 0.4 * len(words):
            del picks[name]
            notes.append(f"{name!r} is named like {column} but holds other words: "
                         f"{column} is taken from the column whose values fit it, if any")
    picks.update(_by_values(frame, contract, {c for c, _ in picks.values()},
                            [n for n in names if n not in picks]))
    if guessed_table:
        notes.extend(_other_tables(frame, header, table))
    return _render(path, table, guessed_table, header, names, picks, frame, contract, notes)


def _looks_like_data(names: list[str]) -> bool:
    """A first row with dates, numbers or empty cells is data, not a header."""
    dataish = sum(1 for n in names if not n.strip() or _DATE.match(n.strip())
                  or _NUMBER.match(n.strip()) or n.startswith("column_"))
    return dataish >= max(1, len(names) // 5)


def _by_name(names: list[str], contract: TableContract) -> dict[str, tuple[str, bool]]:
    """header -> (column, guessed) for the headers whose name says which column."""
    out: dict[str, tuple[str, bool]] = {}
    taken: set[str] = set()
    known = list(contract.input_columns)
    for name in names:
        norm = normalise_header(name)
        if norm in known and norm not in taken:
            out[name] = (norm, False)
        elif KNOWN_HEADERS.get(norm) in known and KNOWN_HEADERS[norm] not in taken:
            out[name] = (KNOWN_HEADERS[norm], True)
        else:
            close = difflib.get_close_matches(norm, [k for k in known if k not in taken], n=1,
                                              cutoff=0.75)
            if not close:
                continue
            out[name] = (close[0], True)
        taken.add(out[name][0])
    return out


def _values(frame: pl.DataFrame, name: str) -> list[str]:
    return [v.strip() for v in frame[name].drop_nulls().cast(pl.String).to_list() if v.strip()]


def _by_values(frame: pl.DataFrame, contract: TableContract, taken: set[str],
               names: list[str]) -> dict[str, tuple[str, bool]]:
    """header -> (column, True) for columns recognised by what they hold."""
    out: dict[str, tuple[str, bool]] = {}
    wanted = [c for c in contract.input_columns if c not in taken]
    dates = [c for c in wanted if contract.dtypes[c] == pl.Date
             or isinstance(contract.dtypes[c], pl.Datetime)]
    for name in names:
        values = _values(frame, name)
        if not values:
            continue
        pick = None
        if sum(bool(_DATE.match(v)) for v in values) >= 0.8 * len(values) and dates:
            pick = dates.pop(0)
        else:
            for column, allowed in contract.allowed_values.items():
                folded = {_fold(v) for v in values}
                if column in wanted and folded and \
                        sum(_close_word(v, allowed) is not None for v in folded) >= 0.4 * len(folded):
                    pick = column
                    break
        if pick is None:
            lowered = {v.lower() for v in values}
            bools = [c for c in wanted if contract.dtypes[c] == pl.Boolean]
            if lowered <= _BOOL and bools:
                pick = bools[0]
            elif len(set(values)) == len(values) and len(values) > 1 \
                    and contract.natural_key[0] in wanted \
                    and all(re.fullmatch(r"[\w\-./]+", v) for v in values):
                pick = contract.natural_key[0]
            elif sum(bool(_NUMBER.match(v)) for v in values) == len(values):
                nums = [c for c in wanted if contract.dtypes[c] in (pl.Float64, pl.Int64)]
                pick = nums[0] if nums else None
            elif contract.name in ("equipment", "products", "mbr_operations") \
                    and "description" in wanted \
                    and sum(len(v) for v in values) / len(values) > 8:
                pick = "description"
        if pick is not None and pick in wanted:
            out[name] = (pick, True)
            wanted.remove(pick)
            if pick in dates:
                dates.remove(pick)
    return out


def _fold(value: str) -> str:
    return re.sub(r"[\s\-_.]+", "_", value.strip().lower()).strip("_")


def _close_word(value: str, allowed: list[str]) -> str | None:
    if value in allowed:
        return value
    close = difflib.get_close_matches(value.replace("_", ""), [a.replace("_", "") for a in allowed],
                                      n=1, cutoff=0.75)
    if not close:
        return None
    return next(a for a in allowed if a.replace("_", "") == close[0])


def _scores(frame: pl.DataFrame, header: bool) -> dict[str, float]:
    """How well each table's required columns are filled by the file's names (or values)."""
    names = [c for c in frame.columns if c != ROW]
    out = {}
    for contract in CONTRACTS.values():
        picks = _by_name(names, contract) if header else {}
        picks.update(_by_values(frame, contract, {c for c, _ in picks.values()},
                                [n for n in names if n not in picks]))
        have = {c for c, _ in picks.values()}
        out[contract.name] = len(have & set(contract.required)) / max(1, len(contract.required)) \
            + 0.01 * len(have)
    return out


def _best_table(frame: pl.DataFrame, header: bool) -> str:
    """The table whose columns the file's names (or values) fill best."""
    scores = _scores(frame, header)
    return max(scores, key=lambda t: scores[t])


def _other_tables(frame: pl.DataFrame, header: bool, chosen: str) -> list[str]:
    scores = _scores(frame, header)
    others = [t for t, s in sorted(scores.items(), key=lambda kv: -kv[1])
              if t != chosen and s >= 0.5][:2]
    return [f"the file may also feed {t} (run mapping init --table {t}; one source can feed "
            "several tables with tables:)" for t in others]


def _render(path: Path, table: str, guessed_table: bool, header: bool, names: list[str],
            picks: dict[str, tuple[str, bool]], frame: pl.DataFrame,
            contract: TableContract, notes: list[str]) -> str:
    lines = [f"# Draft mapping for {path.name}, written by tracelake mapping init.",
             "# Every line marked GUESS was inferred from names or values: confirm or correct it,",
             "# then: tracelake ingest FILE --mapping THIS-FILE",
             *[f"# Note: {n}" for n in notes],
             "sources:",
             f"  - name: {_q(path.stem)}",
             f"    files: [{_q(path.name)}]",
             f"    table: {table}" + ("  # GUESS: the table these columns fill best" if guessed_table
                                      else "")]
    if not header:
        lines.append("    header: false")
        lines.append("    columns: [" + ", ".join(names) + "]")
    renamed = {h: c for h, (c, _) in picks.items()}
    lines.append("    aliases:")
    for name in names:
        if name not in picks:
            continue
        column, guessed = picks[name]
        sample = _values(frame, name)[:1]
        why = f"  # GUESS (e.g. {sample[0][:30]!r})" if guessed and sample else \
            ("  # GUESS" if guessed else "")
        lines.append(f"      {_q(name)}: {column}{why}")
    if not picks:
        lines[-1] = "    aliases: {}  # nothing recognised: map each header to a column"
    values = _value_maps(frame, picks, contract)
    if values:
        lines.append("    values:")
        for column, words in values.items():
            lines.append(f"      {column}:")
            for word, target in words.items():
                if target:
                    lines.append(f"        {_q(word)}: {target}  # GUESS")
                else:
                    lines.append(f"        # {_q(word)}: ?  -- one of "
                                 + ", ".join(contract.allowed_values[column]))
    dates = _date_note(frame, renamed, contract, path)
    if dates:
        lines.append(dates)
    have = set(renamed.values())
    missing = [c for c in contract.required if c not in have]
    if missing:
        lines.append("    # still needed (required): " + ", ".join(missing)
                     + " -- an alias, or a constant under constants:")
    rest = [n for n in names if n not in picks]
    if rest:
        lines.append("    # kept as they came (in _extra) unless mapped: " + ", ".join(rest))
    return "\n".join(lines) + "\n"


def _value_maps(frame: pl.DataFrame, picks: dict[str, tuple[str, bool]],
                contract: TableContract) -> dict[str, dict[str, str]]:
    """For allowed-value columns: a values: map of the words the file writes that need one."""
    out: dict[str, dict[str, str]] = {}
    for name, (column, _) in picks.items():
        allowed = contract.allowed_values.get(column)
        if not allowed:
            continue
        words = sorted(set(_values(frame, name)))[:30]
        need = {w: (_close_word(_fold(w), allowed) or "") for w in words if _fold(w) not in allowed}
        if need:
            out[column] = need
    return out


def _date_note(frame: pl.DataFrame, renamed: dict[str, str], contract: TableContract,
               path: Path) -> str:
    """date_formats when the data shows the order; a marked guess when it cannot."""
    typed = frame.rename({h: c for h, c in renamed.items() if h in frame.columns})
    try:
        decided = decide_date_orders(typed, contract, dayfirst=False, date_formats=(), path=path)
    except FileRejected as exc:
        return ("    # GUESS needed: " + exc.reason.replace("\n", " ")
                + "\n    # date_formats: ['%m/%d/%Y']")
    if not decided:
        return ""
    formats = sorted({f for fs in decided.values() for f in fs})
    return ("    # the dates can be read only one way; tracelake reads them so without this line,"
            "\n    # which records the order for the next export (that may be ambiguous):"
            f"\n    date_formats: [{', '.join(_q(f) for f in formats)}]")


def _q(text: str) -> str:
    """A YAML scalar, quoted when it must be."""
    dumped = yaml.safe_dump(text, default_style=None).strip()
    if dumped.endswith("..."):
        dumped = dumped[:-3].strip()
    return dumped.splitlines()[0] if dumped else "''"
