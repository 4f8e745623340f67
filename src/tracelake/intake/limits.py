"""Size limits on input files, checked before a file is read, so that no single file can take
the machine's memory or time (issue 12). A file past a limit is rejected whole, with the limit
named; the other files of the run load as usual. The README's "Limits" section states them.

Each limit can be raised for a plant that needs it with an environment variable of the same
name prefixed ``TRACELAKE_`` (e.g. ``TRACELAKE_MAX_ROWS=20000000``).
"""

from __future__ import annotations

import os

__all__ = ["MAX_ARCHIVE_BYTES", "MAX_ARCHIVE_RATIO", "MAX_COLUMNS", "MAX_FILE_BYTES",
           "MAX_ROWS", "MAX_SHEET_CELLS", "limit"]


def limit(name: str, default: int) -> int:
    """A limit's value: ``TRACELAKE_<NAME>`` from the environment if set, else the default."""
    value = os.environ.get(f"TRACELAKE_{name}")
    try:
        return int(value) if value else default
    except ValueError:
        return default


#: Data rows (lines, records) in one CSV or JSON Lines file.
MAX_ROWS = limit("MAX_ROWS", 10_000_000)
#: Bytes of one CSV or JSON Lines file (it is read into memory whole).
MAX_FILE_BYTES = limit("MAX_FILE_BYTES", 4 << 30)
#: Columns of a header (CSV, spreadsheet) or keys across a JSON Lines file.
MAX_COLUMNS = limit("MAX_COLUMNS", 1_000)
#: Cells of a spreadsheet's used area (rows x columns up to its farthest cell): the reader
#: holds that area in memory, so one stray cell at XFD1048576 would need 512 GiB.
MAX_SHEET_CELLS = limit("MAX_SHEET_CELLS", 30_000_000)
#: Uncompressed bytes of a spreadsheet (the sum its zip directory declares, and what is read).
MAX_ARCHIVE_BYTES = limit("MAX_ARCHIVE_BYTES", 2 << 30)
#: Uncompressed over compressed size of any part of a spreadsheet larger than 10 MiB
#: (ordinary sheets compress 5-50 times; a zip bomb 1,000 times).
MAX_ARCHIVE_RATIO = limit("MAX_ARCHIVE_RATIO", 400)
