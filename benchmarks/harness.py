"""What every benchmark in benchmarks/ shares: arguments, the cached synthetic plants, child
processes (one per measurement, with its own peak RSS), timing loops, same-run baseline ratios,
the printed table and the results JSON.

A benchmark is a script (``python benchmarks/<name>.py``); it measures in child processes run
through :func:`run_child` (the script again with ``--child KIND --dir DIR --tag TAG``, writing
``DIR/result-TAG.json`` with :func:`child_done`), compares each number with a baseline measured
in the same run (machines here are noisy: up to 2x between runs), prints a table
(:func:`print_table`) and writes its results under ``benchmarks/.work/`` (:func:`write_json`).
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import hashlib
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
#: where benchmarks keep plants, lakes and results (``TRACELAKE_BENCH_WORK`` moves it, e.g. for
#: two runs of one benchmark side by side)
WORK = Path(os.environ.get("TRACELAKE_BENCH_WORK") or Path(__file__).resolve().parent / ".work")


# ------------------------------------------------------------------------------------------
# arguments


def parser(doc: str | None, *, child_args: Sequence[str] = ("child", "dir", "tag", "plant")
           ) -> argparse.ArgumentParser:
    """An argument parser described by the first line of the benchmark's docstring, with the
    hidden arguments a child process is started with."""
    p = argparse.ArgumentParser(description=(doc or "").splitlines()[0])
    for name in child_args:
        p.add_argument(f"--{name}", help=argparse.SUPPRESS)
    return p


# ------------------------------------------------------------------------------------------
# plants


def plant_dir(units: int, seed: int, adversarial: bool = False) -> Path:
    """Where the synthetic plant of (units, seed) is cached, shared by every benchmark."""
    return WORK / (f"plant-{units}-{seed}" + ("-adv" if adversarial else ""))


def ensure_plant(plant: Path, units: int, seed: int, options: dict[str, Any] | None = None,
                 *, ready: Callable[[Path], bool] | None = None) -> Any:
    """Generate the plant into ``plant`` unless it is complete (``.complete``, and ``ready``
    if given); returns the generator's ``PlantSummary``, or None when the cached plant served."""
    if (plant / ".complete").exists() and (ready is None or ready(plant)):
        return None
    from tracelake.synthetic import PlantOptions, generate_plant

    shutil.rmtree(plant, ignore_errors=True)
    summary = generate_plant(plant, units, seed, options=PlantOptions(**(options or {})))
    (plant / ".complete").write_text("ok")
    return summary


# ------------------------------------------------------------------------------------------
# child processes and memory


def run_child(script: str | Path, kind: str, tdir: Path, extra: list[str] | None = None,
              tag: str | None = None) -> dict[str, Any]:
    """Run ``script --child kind --dir tdir --tag tag`` in a fresh process; its result JSON, plus
    ``wall`` (seconds seen from here), or ``{"error": ..., "wall": ...}`` if it failed."""
    out = tdir / f"result-{tag or kind}.json"
    out.unlink(missing_ok=True)
    cmd = [sys.executable, str(Path(script).resolve()), "--child", kind, "--dir", str(tdir),
           "--tag", tag or kind, *(extra or [])]
    t = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - t
    if proc.returncode or not out.exists():
        sys.stderr.write(proc.stdout[-4000:] + proc.stderr[-8000:])
        why = (proc.stderr.strip().splitlines() or [f"exit status {proc.returncode}"])[-1]
        if proc.returncode < 0:
            why = f"killed by signal {-proc.returncode}" + (" (OOM killer?)"
                                                            if proc.returncode == -9 else "")
        return {"error": why, "wall": wall}
    res = json.loads(out.read_text())
    res["wall"] = wall
    return res


def child_done(tdir: Path, tag: str, result: dict[str, Any]) -> None:
    """In the child: hand the result to the parent (``run_child`` reads it)."""
    write_json(tdir / f"result-{tag}.json", result)


def rss_mib() -> float:
    """Peak RSS of this process: VmHWM of its own address space.

    Not ``ru_maxrss``: Linux carries it across fork + exec, so a child would report the
    parent's RSS at the fork whenever that is larger than its own peak.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def rss_now_mib() -> float:
    """Current resident set (not the peak), from /proc."""
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
    except (OSError, IndexError, ValueError):
        return float("nan")
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


# ------------------------------------------------------------------------------------------
# timing


def timed_loop(fn: Any, starts: list[Any], budget_s: float, min_n: int = 5
               ) -> tuple[list[float], list[Any], float]:
    """One warm-up call, then each start timed; stops early past ``budget_s`` (>= min_n runs).

    Returns (latencies in ms, raw answers, warm-up ms).
    """
    if not starts:
        return [], [], float("nan")
    t = time.perf_counter()
    fn(starts[0])
    warm = (time.perf_counter() - t) * 1000
    times: list[float] = []
    answers: list[Any] = []
    spent = 0.0
    for s in starts:
        t = time.perf_counter()
        r = fn(s)
        el = time.perf_counter() - t
        times.append(el * 1000)
        answers.append(r)
        spent += el
        if spent > budget_s and len(times) >= min_n:
            break
    return times, answers, warm


def pct(values: list[float], q: float) -> float:
    """The q-th percentile, NaN for no values."""
    import numpy as np

    return float(np.percentile(np.array(values), q)) if values else float("nan")


def ratio(value: float, baseline: float) -> float:
    """``value`` as a multiple of the same run's baseline (NaN without one)."""
    return value / baseline if baseline else float("nan")


# ------------------------------------------------------------------------------------------
# the printed table and the results


def print_table(headers: Sequence[str], rows: Sequence[Sequence[Any]],
                formats: Sequence[str] | None = None, *, left: Sequence[int] = (0,)) -> None:
    """A plain text table: the ``left`` columns (default the first) left-aligned, the others
    right-aligned, each as wide as its widest cell; ``formats`` are format specs per column
    ("" for str(); None cells stay empty)."""
    formats = formats or [""] * len(headers)
    cells = [[h for h in headers]] + [
        ["" if v is None else format(v, f) if f else str(v) for v, f in zip(row, formats, strict=True)]
        for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    for n, row in enumerate(cells):
        print("  ".join(c.ljust(w) if i in left else c.rjust(w)
                        for i, (c, w) in enumerate(zip(row, widths, strict=True))).rstrip())
        if n == 0:
            print("-" * (sum(widths) + 2 * (len(widths) - 1)))


def jsonable(obj: Any) -> Any:
    """Datetimes, paths, dataclasses and sets made JSON-ready."""
    if isinstance(obj, dt.datetime | dt.date):
        return obj.isoformat()
    if isinstance(obj, Path):
        return str(obj)
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return jsonable(dataclasses.asdict(obj))
    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple | set):
        return [jsonable(v) for v in obj]
    return obj


def write_json(path: Path, obj: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(jsonable(obj), indent=1))


def library_hash() -> str:
    """A hash of the library source: a cached lake is rebuilt when the library changes."""
    h = hashlib.sha256()
    for f in sorted((ROOT / "src" / "tracelake").rglob("*.py")):
        h.update(f.relative_to(ROOT).as_posix().encode())
        h.update(f.read_bytes())
    return h.hexdigest()[:16]


def git_describe() -> str:
    """The commit the library was at, and whether src/ had uncommitted changes."""
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, text=True,
                              capture_output=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "src"], cwd=ROOT, text=True,
                               capture_output=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head + ("+uncommitted changes in src/" if dirty else "")


def environment() -> dict[str, Any]:
    """The machine and versions a result was measured with."""
    import duckdb

    return {"duckdb": duckdb.__version__, "cpus": os.cpu_count(),
            "python": platform.python_version(), "machine": platform.machine(),
            "library": git_describe()}
