"""A day's new files for the incremental-ingest benchmarks (``ingest.py``, ``dagster_day.py``).

The generator is not prefix-stable (a plant of N + 1,000 units shares no rows with the plant of
N), so a day is made by copying the last top-level jobs of a plant (and the sub-assembly jobs
that fed them) as new jobs: job ids, serials and issue ids numbered far past those of any plant
up to a few million units (so the same day's files are new in a 100k lake and in a 1M lake: the
benchmark checks that nothing was updated), times shifted after the plant's last build. The day
holds every file a day of production writes for those units: jobs, units, fitments, material
issues, operations, test results, firmware loads, label checks and shipments.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import re
import shutil
from pathlib import Path
from typing import Any

TS_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
#: tables keyed by the unit's serial that the day copies for its units
_BY_SERIAL = ("operations", "test_results", "firmware_loads", "label_checks")


def _scan(plant: Path, table: str) -> Any:
    import polars as pl

    files = sorted(plant.glob(f"{table}.csv")) + sorted(plant.glob(f"{table}-[0-9]*.csv"))
    return pl.concat([pl.scan_csv(f, infer_schema=False) for f in files])


#: added to serial numbers, job numbers and issue numbers of the copied rows
SERIAL_OFFSET, JOB_OFFSET, ISSUE_OFFSET = 8_000_000, 8_000_000, 90_000_000


def build_day(plant: Path, out: Path, want_units: int) -> dict[str, Any]:
    """Write the day's CSV files into ``out`` (cached: ``out/.day.json``); what it holds."""
    import polars as pl

    from tracelake.synthetic import catalog as cat
    from tracelake.synthetic.options import PlantOptions

    done = out / ".day.json"
    if done.exists():
        return json.loads(done.read_text())
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    options = dataclasses.asdict(PlantOptions())
    products = list(cat.build_levels(options["bom_depth"])[-1].products)
    prefix = options["serial_prefix"]

    units = _scan(plant, "units").select("serial_number", "product_code", "job_id").collect()
    top_jobs = (units.filter(pl.col("product_code").is_in(products))
                .group_by("job_id").len().sort("job_id", descending=True))
    k = int((top_jobs["len"].cum_sum() < want_units).sum()) + 1
    jobs = set(top_jobs["job_id"].head(k).to_list())
    sel = set(units.filter(pl.col("job_id").is_in(list(jobs)))["serial_number"].to_list())
    frontier = set(sel)
    uc = _scan(plant, "unit_components")
    while frontier:  # down the BOM: the jobs that built the serials fitted into the day's units
        kids = set(uc.filter(pl.col("serial_number").is_in(list(frontier))
                             & pl.col("component_serial").is_not_null())
                   .select("component_serial").collect()["component_serial"].to_list())
        new_jobs = set(units.filter(pl.col("serial_number").is_in(list(kids)))["job_id"]
                       .to_list()) - jobs
        jobs |= new_jobs
        added = set(units.filter(pl.col("job_id").is_in(list(new_jobs)))["serial_number"]
                    .to_list()) - sel
        sel |= added
        frontier = added

    pat = f"^({re.escape(prefix)}[A-Z])([0-9]+)$"
    width = int(units.select(pl.col("serial_number").str.extract(pat, 2).str.len_chars().max())
                .item())
    built = pl.col("built_at").str.strptime(pl.Datetime("us"), TS_FORMAT)
    span = _scan(plant, "units").select(built.min().alias("a"), built.max().alias("b")).collect()
    shift = (span["b"][0] - span["a"][0]) + dt.timedelta(days=7)  # after the plant's last build

    def map_serial(col: str) -> pl.Expr:
        head = pl.col(col).str.extract(pat, 1)
        num = pl.col(col).str.extract(pat, 2).cast(pl.Int64)
        new = head + (num + SERIAL_OFFSET).cast(pl.String).str.zfill(width)
        return pl.when(head.is_not_null()).then(new).otherwise(pl.col(col)).alias(col)

    def map_job(col: str) -> pl.Expr:
        return ("WO-" + (pl.col(col).str.slice(3).cast(pl.Int64) + JOB_OFFSET)
                .cast(pl.String)).alias(col)

    def shift_times(frame: pl.DataFrame) -> pl.DataFrame:
        exprs = []
        for c in frame.columns:
            if c.endswith("_at"):
                t = pl.col(c).str.strptime(pl.Datetime("us"), TS_FORMAT, strict=False)
                exprs.append((t + shift).dt.strftime(TS_FORMAT).alias(c))
            elif c == "due_date":
                d = pl.col(c).str.strptime(pl.Date, "%Y-%m-%d", strict=False)
                exprs.append((d + pl.duration(days=shift.days)).dt.strftime("%Y-%m-%d").alias(c))
        return frame.with_columns(exprs)

    jl, sl = list(jobs), list(sel)
    tables = {
        "jobs": _scan(plant, "jobs").filter(pl.col("job_id").is_in(jl)).collect()
                .with_columns(map_job("job_id")),
        "units": _scan(plant, "units").filter(pl.col("serial_number").is_in(sl)).collect()
                 .with_columns(map_serial("serial_number"), map_job("job_id")),
        "unit_components": uc.filter(pl.col("serial_number").is_in(sl)).collect()
                           .with_columns(map_serial("serial_number"),
                                         map_serial("component_serial")),
        "material_issues": _scan(plant, "material_issues").filter(pl.col("job_id").is_in(jl))
                           .collect()
                           .with_columns(("MI-" + (pl.col("issue_id").str.slice(3)
                                                   .cast(pl.Int64) + ISSUE_OFFSET)
                                          .cast(pl.String).str.zfill(8)).alias("issue_id"),
                                         map_job("job_id"), map_serial("component_serial")),
        "shipments": _scan(plant, "shipments").filter(pl.col("serial_number").is_in(sl))
                     .collect().with_columns(map_serial("serial_number")),
    }
    for name in _BY_SERIAL:
        frame = _scan(plant, name).filter(pl.col("serial_number").is_in(sl)).collect()
        if name == "label_checks":  # the label's text names the serial: (21)<serial>
            frame = frame.with_columns(
                pl.col("label_data").str.extract(r"^(.*\(21\))", 1).alias("_head"),
                map_serial("serial_number"))
            frame = frame.with_columns(
                pl.coalesce(pl.col("_head") + pl.col("serial_number"), pl.col("label_data"))
                .alias("label_data")).drop("_head")
        else:
            frame = frame.with_columns(map_serial("serial_number"))
        if "job_id" in frame.columns:
            frame = frame.with_columns(map_job("job_id"))
        tables[name] = frame
    rows = {}
    for name, frame in tables.items():
        frame = shift_times(frame)
        frame.write_csv(out / f"{name}.csv")
        rows[name] = frame.height
    finished = int(tables["units"].filter(pl.col("product_code").is_in(products)).height)
    info = {"finished_units": finished, "all_units": len(sel), "jobs": len(jobs),
            "rows": rows, "total_rows": sum(rows.values()), "shift_days": shift.days,
            "bytes": sum(f.stat().st_size for f in out.glob("*.csv"))}
    done.write_text(json.dumps(info, indent=1))
    return info
