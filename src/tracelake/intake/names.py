"""Header and file names as the import contract spells them: the folding every reader and mapping
shares, and the table a file feeds by its name."""

from __future__ import annotations

import re

from tracelake.contracts import CONTRACTS

__all__ = ["normalise_header", "table_from_name"]


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
