"""Quality queries benchmark: the findings rules, the overview, SPC and lot effects on a
100,000-unit plant, this tree against a baseline revision measured in the same run.

    uv run python benchmarks/quality.py [--units 100000] [--seed 1] [--baseline main] [--repeat 3]

Each measurement runs in a child process (a new connection to the published snapshot: cold
DuckDB caches), alternately with this tree's library and with the baseline's (its ``src/``
exported with ``git archive`` into ``benchmarks/.work/baseline-<ref>/`` and put first on the
child's ``PYTHONPATH``), ``--repeat`` times each; the table prints the medians, the baseline's
and the ratio. A scan of every test result (count, mean, distinct serials) is timed in every
child as a yardstick of how loaded the machine was. The lake is the one
``benchmarks/dashboards.py`` builds (``tracelake generate`` + ingest, cached under
``benchmarks/.work/``). Budgets (issue 18): the overview 3 s, a lot-effect query 2 s.
Results: ``benchmarks/.work/quality-results.json``.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import harness

ROOT = harness.ROOT
WORK = harness.WORK
BUDGET = {"overview": 3.0, "lot effects (largest series)": 2.0}


def _timed(fn: Any) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def child(lake: Path) -> dict[str, Any]:
    """In the child: every measurement, once, on a fresh connection each."""
    from tracelake.derived import overview as ov
    from tracelake.derived.findings import RULES
    from tracelake.derived.findings.engine import RuleContext
    from tracelake.derived.quality import lot_effects, spc
    from tracelake.lake.plant_time import plant_zone
    from tracelake.lake.snapshot import open_snapshot
    from tracelake.lake.storage import LakePaths

    def con() -> Any:
        return open_snapshot(LakePaths.of(lake))

    out: dict[str, float] = {}
    c = con()
    out["yardstick: scan of test_results"] = _timed(lambda: c.sql(
        "SELECT count(*), avg(value), count(DISTINCT serial_number) FROM test_results").fetchall())
    series = c.sql("""SELECT coalesce(u.product_code, '(unknown unit)'), t.test_step,
                             t.measurement, count(*) AS n
                      FROM test_results t LEFT JOIN units u USING (serial_number)
                      WHERE t.value IS NOT NULL GROUP BY ALL ORDER BY n DESC, 1, 2, 3
                      LIMIT 1""").fetchone()
    lot = c.sql("""SELECT component_code, lot_number FROM genealogy.lot_keys
                   ORDER BY component_code, lot_number""").fetchall()
    lot = lot[len(lot) // 2]
    c.close()
    c = con()
    ctx = RuleContext(c, None, plant_zone(c))
    for name, (_severity, fn) in RULES.items():
        out[f"rule {name}"] = _timed(lambda fn=fn: fn(ctx))  # type: ignore[misc]
    c.close()
    for label, call in (
            ("overview", lambda c: ov.overview(c)),
            ("SPC capability table", lambda c: spc.capability_table(c)),
            ("SPC chart (largest series)", lambda c: spc.chart(c, *series[:3])),
            ("lot effects (largest series)",
             lambda c: lot_effects.lot_effects(c, series[1], series[2], product_code=series[0]))):
        c = con()
        out[label] = _timed(lambda call=call, c=c: call(c))
        c.close()
    try:
        from tracelake.derived.quality.lot_moves import lot_moves
    except ImportError:  # the baseline has no lot page
        pass
    else:
        c = con()
        out["what one lot moves"] = _timed(lambda: lot_moves(c, *lot))
        c.close()
    return out


def baseline_src(ref: str) -> Path:
    """The baseline revision's ``src/``, exported once per commit."""
    sha = subprocess.run(["git", "-C", str(ROOT), "rev-parse", ref], capture_output=True,
                         text=True, check=True).stdout.strip()
    dest = WORK / f"baseline-{sha[:12]}"
    if not (dest / "src" / "tracelake").exists():
        dest.mkdir(parents=True, exist_ok=True)
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", sha, "src"],
                                 capture_output=True, check=True).stdout
        subprocess.run(["tar", "-x", "-C", str(dest)], input=archive, check=True)
    return dest / "src"


def run(lake: Path, pythonpath: Path | None, tag: str, tdir: Path) -> dict[str, Any]:
    env = dict(os.environ)
    if pythonpath is not None:
        env["PYTHONPATH"] = str(pythonpath)
    out = tdir / f"result-{tag}.json"
    out.unlink(missing_ok=True)
    proc = subprocess.run([sys.executable, __file__, "--child", "x", "--dir", str(tdir),
                           "--tag", tag, "--plant", str(lake)], env=env, capture_output=True,
                          text=True, check=False)
    if proc.returncode or not out.exists():
        raise SystemExit(f"{tag} failed: {proc.stderr[-3000:]}")
    import json

    return json.loads(out.read_text())


def main() -> None:
    parser = harness.parser(__doc__)
    parser.add_argument("--units", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--baseline", default="main")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    if args.child:
        harness.child_done(Path(args.dir), args.tag, child(Path(args.plant)))
        return
    import importlib.util

    spec = importlib.util.spec_from_file_location("bench_dashboards",
                                                  ROOT / "benchmarks" / "dashboards.py")
    bench = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(bench)  # type: ignore[union-attr]
    lake = bench.big_lake(args.units, args.seed)  # the cached 100,000-unit lake
    base = baseline_src(args.baseline)
    tdir = WORK / "quality"
    runs: dict[str, list[dict[str, Any]]] = {"this": [], "baseline": []}
    for i in range(args.repeat):
        runs["this"].append(run(lake, None, f"this-{i}", tdir))
        runs["baseline"].append(run(lake, base, f"baseline-{i}", tdir))
        print(f"run {i + 1} of {args.repeat} done", flush=True)
    names = list(runs["this"][0])
    rows = []
    for name in names:
        this = statistics.median(r[name] for r in runs["this"])
        old = [r[name] for r in runs["baseline"] if name in r]
        before = statistics.median(old) if old else None
        budget = BUDGET.get(name)
        rows.append({"what": name, "this_s": this, "baseline_s": before,
                     "x_baseline": harness.ratio(this, before) if before else None,
                     "budget_s": budget,
                     "within": None if budget is None else this <= budget})
    print(f"\n{args.units:,}-unit plant, medians of {args.repeat} cold runs each, "
          f"baseline {args.baseline} (same run, alternating)")
    harness.print_table(
        ["what", "this s", f"{args.baseline} s", "x", "budget s", "within"],
        [(r["what"], r["this_s"], r["baseline_s"], r["x_baseline"], r["budget_s"],
          "" if r["within"] is None else "ok" if r["within"] else "OVER") for r in rows],
        ["", ".2f", ".2f", ".2f", ".0f", ""])
    out = WORK / "quality-results.json"
    harness.write_json(out, {"units": args.units, "seed": args.seed, "baseline": args.baseline,
                             "machine": harness.environment(), "results": rows,
                             "runs": runs})
    print(f"\nresults in {out}")


if __name__ == "__main__":
    main()
