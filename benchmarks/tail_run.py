"""The cost of a 1 % run on a large lake, phase by phase (issues #15, #17).

    python benchmarks/tail_run.py split PLANT OUT          # OUT/base and OUT/run (split_tail)
    python benchmarks/tail_run.py ingest LAKE FOLDER...    # one whole run; prints its phases

Each ``ingest`` prints rows, wall seconds, the run's phases (``IngestResult.seconds``) and this
process's peak RSS, and appends them as one JSON line to ``LAKE.runs.jsonl``. Build a base once,
``cp -a`` it, and time the 1 % run on copies before and after a change.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import harness
from sites import split_tail


def ingest_once(lake: Path, folders: list[Path]) -> dict:
    from tracelake.ingest import ingest
    from tracelake.lake.paths import LakePaths

    t = time.perf_counter()
    r = ingest(folders, LakePaths.of(lake))
    wall = time.perf_counter() - t
    out = {"lake": str(lake), "folders": [str(f) for f in folders],
           "rows": r.totals["rows_loaded"], "quarantined": r.totals["rows_quarantined"],
           "seconds": wall, "phases": r.seconds, "peak_rss_mib": harness.rss_mib()}
    return out


def main() -> None:
    import argparse

    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    split = sub.add_parser("split", help="a plant's CSV files as OUT/base (99 %%) and OUT/run")
    split.add_argument("plant", type=Path)
    split.add_argument("out", type=Path)
    run = sub.add_parser("ingest", help="one whole run into LAKE; prints its phases")
    run.add_argument("lake", type=Path)
    run.add_argument("folders", type=Path, nargs="+")
    args = parser.parse_args()
    if args.cmd == "split":
        base, tail = split_tail(args.plant, args.out)
        print(base, tail)
        return
    out = ingest_once(args.lake, args.folders)
    print(f"rows {out['rows']:,}  quarantined {out['quarantined']:,}  wall {out['seconds']:.1f} s"
          f"  peak RSS {out['peak_rss_mib']:,.0f} MiB")
    for k, v in out["phases"].items():
        print(f"  {k:<28} {v:9.2f}")
    with open(f"{args.lake}.runs.jsonl", "a") as fh:
        fh.write(json.dumps(out) + "\n")


if __name__ == "__main__":
    main()
