"""The writer: each table as CSV files in the import contract (split past rows_per_file)."""

from __future__ import annotations

import math
from pathlib import Path

import polars as pl

from tracelake.synthetic.base import (
    _TS_FORMAT,
)
from tracelake.synthetic.options import TABLES


class _Writer:
    """Writes the tables; old files of the same tables are replaced, others left alone."""

    def _clear_old_files(self) -> None:
        for table in TABLES:
            numbered = self.out.glob(f"{table}-[0-9][0-9][0-9][0-9].csv")
            for p in [self.out / f"{table}.csv", *numbered]:
                if p.is_file():
                    p.unlink()

    def _write(self, table: str, df: pl.DataFrame) -> None:
        """Write ``df`` as ``table`` (split past ``rows_per_file``) and record it."""
        if self.opts.shuffle_rows and df.height > 1:
            df = df[self.rng(f"shuffle:{table}").permutation(df.height)]
        per = self.opts.rows_per_file
        parts = max(1, math.ceil(df.height / per))
        paths: list[Path] = []
        for i in range(parts):
            path = self.out / (f"{table}.csv" if parts == 1 else f"{table}-{i + 1:04d}.csv")
            df.slice(i * per, per).write_csv(
                path,
                datetime_format=_TS_FORMAT,
                date_format="%Y-%m-%d",
                float_scientific=False,
            )
            paths.append(path)
        self.summary.files.extend(paths)
        self.summary.table_files[table] = paths
        self.summary.rows[table] = df.height
        if self.progress is not None:
            self.progress(table, df.height)
