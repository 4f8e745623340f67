"""CLI start benchmark: `tracelake --help`, `sql`, `find` and `trace forward` against `import duckdb`.

    uv run python benchmarks/cli.py [--runs 7] [--fresh]

Each command is run as a person runs it (the ``tracelake`` script of this environment, a fresh
process each time) on the sample plant's lake (``data/sample`` without ``bad/``, ingested once
and cached under ``benchmarks/.work/cli/`` until the library changes; ``--fresh`` rebuilds it).
The baseline is ``python -c "import duckdb"`` measured in the same run. The runs are interleaved
(baseline, help, sql, find, trace; again ...), so a burst of load from other processes falls on
every command alike; the table gives the median and the fastest of ``--runs`` runs, the ratio of
the median to the baseline's median, and the issue's target (seconds; ``--help`` 0.5 s, ``sql``
1 s). Results: ``benchmarks/.work/cli/results.json``.

The commands run as on a person's machine: with ``.pyc`` files (``PYTHONDONTWRITEBYTECODE`` is
dropped from their environment, so the warm-up run writes them; ``make .venv/.synced`` compiles
the installed packages). Without them every start compiles its imports again: +0.5-0.7 s.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import harness

ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}

WORK = harness.WORK / "cli"
SAMPLE = harness.ROOT / "data" / "sample"


def _tracelake() -> list[str]:
    exe = Path(sys.executable).with_name("tracelake")
    return [str(exe)] if exe.exists() else [sys.executable, "-c",
                                            "from tracelake.cli import main; main()"]


def _lake(fresh: bool) -> Path:
    """The sample plant's lake, ingested once per library version."""
    lake = WORK / "lake"
    stamp = WORK / f"ingested-{harness.library_hash()}"
    if fresh or not stamp.exists():
        shutil.rmtree(WORK, ignore_errors=True)
        print("ingesting the sample plant ...", flush=True)
        subprocess.run([*_tracelake(), "ingest", str(SAMPLE), "--exclude", "bad/*",
                        "--lake", str(lake)], check=True, stdout=subprocess.DEVNULL)
        stamp.touch()
    return lake


def _busiest_lot(lake: Path) -> tuple[str, str]:
    import duckdb

    con = duckdb.connect(str(lake / "serving.duckdb"), read_only=True)
    try:
        row = con.execute("SELECT component_code, lot_number FROM material_issues "
                          "GROUP BY ALL ORDER BY count(*) DESC, 1, 2 LIMIT 1").fetchone()
    finally:
        con.close()
    assert row is not None, "the sample lake has no material issues"
    return str(row[0]), str(row[1])


def _time(cmd: list[str]) -> tuple[float, float]:
    """(wall seconds, CPU seconds of the process: user + system) of one run of ``cmd``."""
    t = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            env=ENV)
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - t
    proc.returncode = os.waitstatus_to_exitcode(status)
    stderr = proc.stderr.read() if proc.stderr else ""
    if proc.returncode:
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}): {stderr.strip()}")
    return elapsed, usage.ru_utime + usage.ru_stime


def main() -> None:
    p = harness.parser(__doc__, child_args=())
    p.add_argument("--runs", type=int, default=7, help="runs of each command (default 7)")
    p.add_argument("--fresh", action="store_true", help="rebuild the cached sample lake")
    args = p.parse_args()

    lake = _lake(args.fresh)
    component, lot = _busiest_lot(lake)
    cli, at = _tracelake(), ["--lake", str(lake)]
    commands: dict[str, tuple[list[str], float | None]] = {
        'python -c "import duckdb"': ([sys.executable, "-c", "import duckdb"], None),
        "tracelake --help": ([*cli, "--help"], 0.5),
        'tracelake sql "SELECT 1"': ([*cli, "sql", "SELECT 1", *at], 1.0),
        "tracelake find SPX200-0004": ([*cli, "find", "SPX200-0004", *at], None),
        f"tracelake trace forward {component} {lot}": (
            [*cli, "trace", "forward", "--component", component, "--lot", lot, *at], None),
    }
    times: dict[str, list[float]] = {name: [] for name in commands}
    cpu: dict[str, list[float]] = {name: [] for name in commands}
    for cmd, _ in commands.values():  # warm the file cache: the first start reads every .pyc
        _time(cmd)
    for n in range(args.runs):
        print(f"run {n + 1}/{args.runs}", end="\r", file=sys.stderr, flush=True)
        for name, (cmd, _) in commands.items():
            wall, used = _time(cmd)
            times[name].append(wall)
            cpu[name].append(used)

    base = statistics.median(times['python -c "import duckdb"'])
    base_cpu = statistics.median(cpu['python -c "import duckdb"'])
    rows = []
    for name, (_, target) in commands.items():
        med = statistics.median(times[name])
        met = None if target is None else ("yes" if med <= target else "NO")
        rows.append((name, med, min(times[name]), harness.ratio(med, base),
                     statistics.median(cpu[name]),
                     harness.ratio(statistics.median(cpu[name]), base_cpu), target, met))
    print(f"\nCLI start, {args.runs} runs each (interleaved), sample lake; seconds (wall, and the "
          f"CPU time of the process, which load from other processes changes less); load "
          f"average at the end {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    harness.print_table(["command", "median s", "fastest s", "x import duckdb", "CPU s",
                         "CPU x", "target s", "met"],
                        rows, ["", ".3f", ".3f", ".2f", ".3f", ".2f", "", ""])
    targets = [r for r in rows if r[-2] is not None]
    print(f"\ntargets met: {sum(r[-1] == 'yes' for r in targets)} of {len(targets)} "
          "(median wall time under the target)")
    harness.write_json(WORK / "results.json", {
        "environment": harness.environment(), "runs": args.runs,
        "commands": {name: {"times": times[name], "cpu": cpu[name],
                            "median": statistics.median(times[name]),
                            "target": commands[name][1]} for name in commands}})


if __name__ == "__main__":
    main()
