"""Bad-input benchmark: peak memory and time of one ingest run per hostile input (issue 12).

    uv run python benchmarks/bad_inputs.py [--cases zip_bomb,duplicate_keys] [--timeout 300]

For each case of ``tests/adversarial.py`` a fresh landing folder holds the sample plant plus the
case's files, and ``tracelake ingest`` runs on it in a child process under ``/usr/bin/time``
(peak RSS = the child's maximum resident set). The table shows the exit code, the last line on
stderr, peak RSS and wall time; the same-run baseline is the sample plant alone, and ``ratio`` is
each case's time over it. Results: ``benchmarks/.work/bad-inputs-results.json``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WORK = Path(__file__).resolve().parent / ".work"
sys.path.insert(0, str(ROOT))

from tests.adversarial import CASES, copy_sample  # noqa: E402


def run_case(name: str, timeout: float) -> dict[str, object]:
    """Ingest the sample plus one case in a child process; peak RSS (MB), seconds, exit, message."""
    with tempfile.TemporaryDirectory(prefix="tracelake-bad-") as tmp:
        landing = copy_sample(Path(tmp) / "landing")
        if name != "baseline":
            CASES[name](landing)
        cmd = ["/usr/bin/time", "-f", "%M %e", sys.executable, "-m", "tracelake.cli", "ingest",
               str(landing), "--lake", str(Path(tmp) / "lake"), "--format", "json"]
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                                  errors="replace")
        except subprocess.TimeoutExpired:
            return {"case": name, "exit": "timeout", "rss_mb": None, "seconds": timeout,
                    "message": f"killed after {timeout:.0f} s"}
        lines = proc.stderr.strip().splitlines()
        rss_kb, seconds = (lines[-1].split() if lines else ["0", "0"])[-2:]
        message = next((ln for ln in reversed(lines[:-1]) if ln.strip()), "")
        try:
            doc = json.loads(proc.stdout)
            statuses = sorted({f"{f['status']}" for f in doc["files"]})
            bad = [f for f in doc["files"] if f["status"] == "rejected"]
            message = message or "; ".join(f"{Path(f['path']).name}: {f['reason']}"[:120]
                                           for f in bad[:2]) or ",".join(statuses)
        except (json.JSONDecodeError, KeyError):
            pass
        return {"case": name, "exit": proc.returncode, "rss_mb": round(int(rss_kb) / 1024),
                "seconds": float(seconds), "message": message[:150]}


def main() -> None:
    """Run the cases and print the table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cases", default=",".join(CASES))
    parser.add_argument("--timeout", type=float, default=300)
    args = parser.parse_args()
    if not shutil.which("time") and not Path("/usr/bin/time").exists():
        sys.exit("needs /usr/bin/time")
    results = [run_case("baseline", args.timeout)]
    base = float(results[0]["seconds"] or 1)  # type: ignore[arg-type]
    for name in args.cases.split(","):
        results.append(run_case(name.strip(), args.timeout))
        r = results[-1]
        print(f"{r['case']:<24} exit {r['exit']!s:<8} {r['rss_mb']!s:>6} MB "
              f"{r['seconds']:>7.1f} s  x{float(r['seconds']) / base:5.1f}  {r['message']}",  # type: ignore[arg-type]
              flush=True)
    WORK.mkdir(exist_ok=True)
    (WORK / "bad-inputs-results.json").write_text(json.dumps(results, indent=1))
    print(f"baseline (sample plant): {results[0]['rss_mb']} MB, {base:.1f} s")


if __name__ == "__main__":
    main()
