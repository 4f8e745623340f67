"""Readers benchmark: 200 MB test-executive reports into a fresh lake, beside a plain iterparse.

    uv run python benchmarks/readers.py [--mb 200] [--keep]

Generates a TestStand legacy XML report and a JUnit XML file of about ``--mb`` MB each
(tracelake.synthetic.reports), then, each in its own child process (peak RSS is that child's
``ru_maxrss``):

* iterparse  a plain ``lxml.etree.iterparse`` pass over the file, clearing each element
             (the floor any streaming XML reader stands on)
* read       tracelake's reader alone (``read_source``): the file to a frame of rows
* ingest     ``tracelake.ingest`` into an empty lake: read, typed, checked, upserted with
             lineage, ledger, snapshot published

and prints MB/s, peak RSS and the ratio to the iterparse pass measured in the same run, by wall
time and by CPU time (the CPU ratio holds steady when other work shares the machine). A large
JUnit file is walked by a process of its own beside the ingest (see
``tracelake.intake.readers.junit``): its CPU time is counted, and its peak RSS ("of it, walk")
is added to the ingest's (the sum of the two peaks: never less than the two at any moment).
Target: ingest within 3x of the iterparse pass, peak RSS under 500 MB.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

WORK = Path(__file__).resolve().parent / ".work" / "readers"

#: per pass: (imports, timed code); imports are not timed (they cost the same to every file)
CHILD = {
    "iterparse": ("from lxml import etree", """
n = 0
for _ev, el in etree.iterparse(PATH, events=("end",), resolve_entities=False, no_network=True):
    n += 1
    el.clear(keep_tail=False)
    while el.getprevious() is not None:
        del el.getparent()[0]
ROWS = n
"""),
    "read": ("from pathlib import Path\nfrom tracelake.intake.readers import read_source", """
raw = read_source(Path(PATH))
ROWS = raw.rows_read
"""),
    "ingest": ("from tracelake.ingest import ingest", """
r = ingest([PATH], LAKE, search=False)
f = r.files[0]
assert f.status == "loaded", (f.status, f.reason)
ROWS = f.rows_loaded + f.rows_quarantined
"""),
}


#: started in each measured process: the largest VmHWM (peak RSS since its exec) of its child
#: processes, looked at every 20 ms while they live (ru_maxrss of a child counts the pages of
#: the parent it was forked from, before its exec)
WATCH_CHILDREN = """
import os, threading
CHILD_PEAK = [0]
def _watch():
    me = str(os.getpid())
    while True:
        for pid in os.listdir("/proc"):
            if not pid.isdigit():
                continue
            try:
                with open(f"/proc/{pid}/stat") as fh:
                    if fh.read().rsplit(")", 1)[1].split()[1] != me:
                        continue
                with open(f"/proc/{pid}/status") as fh:
                    for line in fh:
                        if line.startswith("VmHWM:"):
                            CHILD_PEAK[0] = max(CHILD_PEAK[0], int(line.split()[1]))
            except (OSError, IndexError, ValueError):
                continue
        threading.Event().wait(0.02)
threading.Thread(target=_watch, daemon=True).start()
"""


def _run(kind: str, path: Path, lake: Path) -> dict[str, float]:
    setup, timed = CHILD[kind]
    code = ("import time, resource\n" + WATCH_CHILDREN + setup + "\nPATH = " + repr(str(path))
            + "\nLAKE = "
            + repr(str(lake)) + "\nt = time.perf_counter()\nc = time.process_time()\n" + timed
            + "\nimport json\nprint(json.dumps({'rows': ROWS, 'seconds': time.perf_counter() - t,"
            " 'cpu': time.process_time() - c"
            " + resource.getrusage(resource.RUSAGE_CHILDREN).ru_utime"
            " + resource.getrusage(resource.RUSAGE_CHILDREN).ru_stime,"
            " 'rss_kib': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,"
            " 'child_kib': CHILD_PEAK[0]}))\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=False)
    if proc.returncode:
        raise SystemExit(f"{kind} on {path.name} failed:\n{proc.stderr}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=float, default=200.0, help="size of each generated file")
    parser.add_argument("--keep", action="store_true", help="keep the generated files")
    parser.add_argument("--only", choices=["teststand", "junit"], help="one format only")
    args = parser.parse_args()
    from tracelake.synthetic.reports import write_big_junit, write_big_teststand

    WORK.mkdir(parents=True, exist_ok=True)
    target = int(args.mb * 1_000_000)
    files = {"TestStand legacy": WORK / "legacy-uut-report-bench.xml",
             "JUnit": WORK / "TEST-bench.xml"}
    t = time.perf_counter()
    fresh = {k: not (p.exists() and abs(p.stat().st_size - target) < target // 50)
             for k, p in files.items()}  # --keep: files of the right size are used again
    if fresh["TestStand legacy"]:
        write_big_teststand(files["TestStand legacy"], target)
    if fresh["JUnit"]:
        write_big_junit(files["JUnit"], target)
    print(f"generated in {time.perf_counter() - t:.1f} s\n")
    header = f"{'file':<18} {'pass':<10} {'MB':>7} {'rows':>10} {'s':>7} {'MB/s':>7} " \
             f"{'peak RSS MB':>12} {'of it, walk':>12} {'x iterparse':>12} {'CPU s':>7} " \
             f"{'CPU x':>6}"
    print(header)
    print("-" * len(header))
    for label, path in files.items():
        if args.only and not label.lower().startswith(args.only):
            continue
        size_mb = path.stat().st_size / 1e6
        base = cpu_base = None
        for kind in ("iterparse", "read", "ingest"):
            lake = WORK / f"lake-{kind}"
            shutil.rmtree(lake, ignore_errors=True)
            m = _run(kind, path, lake)
            base = base or m["seconds"]
            cpu_base = cpu_base or m["cpu"]
            child = m.get("child_kib", 0) / 1024
            print(f"{label:<18} {kind:<10} {size_mb:>7.1f} {m['rows']:>10,} {m['seconds']:>7.2f} "
                  f"{size_mb / m['seconds']:>7.1f} {m['rss_kib'] / 1024 + child:>12.0f} "
                  f"{child:>12.0f} {m['seconds'] / base:>12.2f} {m['cpu']:>7.2f} "
                  f"{m['cpu'] / cpu_base:>6.2f}")
            shutil.rmtree(lake, ignore_errors=True)
    if not args.keep:
        shutil.rmtree(WORK, ignore_errors=True)


if __name__ == "__main__":
    main()
