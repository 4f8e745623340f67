"""Whether this checkout's ``tracelake export epcis`` writes the same bytes as another checkout's
(e.g. main's), on the same lakes: the sample plant and a generated 2,000-unit plant, for the
whole lake and each kind of selection, EPC URNs and Digital Links.

    uv run python benchmarks/epcis_same.py --against /work/main   [--units 2000] [--seed 1]

The lakes are built once with this checkout (cached under ``benchmarks/.work/epcis-same/``);
each checkout's exporter runs in its own process (``PYTHONPATH`` its ``src``) with a fixed
creation date, and the table shows each document's SHA-256 and events, side by side.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WORK = Path(__file__).resolve().parent / ".work" / "epcis-same"
CREATED = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)

#: name -> (lake, selection keywords, digital link)
CASES: dict[str, tuple[str, dict[str, str], bool]] = {
    "sample all": ("sample", {}, False),
    "sample all digital link": ("sample", {}, True),
    "sample job J-1042": ("sample", {"job": "J-1042"}, False),
    "sample lot CAP-100/L-4471": ("sample", {"component": "CAP-100", "lot": "L-4471"}, False),
    "sample serial SPX200-0004": ("sample", {"serial": "SPX200-0004"}, False),
    "sample supplier": ("sample", {"supplier": "Lumatec Lamps GmbH"}, False),
    "plant all": ("plant", {}, False),
    "plant all digital link": ("plant", {}, True),
}


def _child(lake: Path, case: str, out: Path) -> None:
    """Export one case with the exporter importable here; print its hash and events."""
    from tracelake.exports.epcis import Selection, export_epcis
    from tracelake.lake.snapshot import open_snapshot
    from tracelake.lake.storage import LakePaths

    _, selection, digital_link = CASES[case]
    con = open_snapshot(LakePaths.of(lake))
    with out.open("w", encoding="utf-8") as fh:
        result = export_epcis(con, fh, Selection(**selection), digital_link=digital_link,
                              created=CREATED)
    digest = hashlib.sha256(out.read_bytes()).hexdigest()
    out.unlink()
    print(json.dumps({"sha256": digest, "events": result.events}))


def _lakes(units: int, seed: int) -> dict[str, Path]:
    from tracelake.ingest import ingest
    from tracelake.lake.storage import LakePaths

    sample, plant = WORK / "lake-sample", WORK / f"lake-{units}-{seed}"
    if not (sample / ".complete").exists():
        ingest([ROOT / "data" / "sample"], LakePaths.of(sample), exclude=["bad/*"])
        (sample / ".complete").write_text("ok")
    if not (plant / ".complete").exists():
        from tracelake.synthetic import generate_plant

        source = WORK / f"plant-{units}-{seed}"
        if not (source / ".complete").exists():
            generate_plant(source, units, seed)
            (source / ".complete").write_text("ok")
        ingest([source], LakePaths.of(plant))
        (plant / ".complete").write_text("ok")
    return {"sample": sample, "plant": plant}


def _run(src: Path, lake: Path, case: str) -> dict[str, object]:
    env = {**os.environ, "PYTHONPATH": str(src)}
    out = WORK / f"out-{os.getpid()}.jsonld"
    proc = subprocess.run([sys.executable, __file__, "--child", str(lake), case, str(out)],
                          capture_output=True, text=True, env=env, check=False)
    if proc.returncode:
        return {"sha256": "failed: " + (proc.stderr.strip().splitlines() or ["?"])[-1][:60],
                "events": 0}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--against", type=Path, required=False, help="the other checkout")
    parser.add_argument("--units", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--child", nargs=3, metavar=("LAKE", "CASE", "OUT"))
    args = parser.parse_args()
    if args.child:
        _child(Path(args.child[0]), args.child[1], Path(args.child[2]))
        return
    if args.against is None:
        parser.error("--against CHECKOUT is needed")
    WORK.mkdir(parents=True, exist_ok=True)
    lakes = _lakes(args.units, args.seed)
    same = 0
    print(f"{'case':<28}{'events':>10}  {'this checkout':<18}{'other':<18}same")
    for case, (lake, _sel, _dl) in CASES.items():
        mine = _run(ROOT / "src", lakes[lake], case)
        other = _run(args.against / "src", lakes[lake], case)
        ok = mine["sha256"] == other["sha256"] and not str(mine["sha256"]).startswith("failed")
        same += ok
        print(f"{case:<28}{mine['events']:>10,}  {str(mine['sha256'])[:16]:<18}"
              f"{str(other['sha256'])[:16]:<18}{'yes' if ok else 'NO'}")
    print(f"\nbyte-identical to {args.against}: {same} of {len(CASES)} documents")
    sys.exit(0 if same == len(CASES) else 1)


if __name__ == "__main__":
    main()
