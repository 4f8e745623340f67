"""Fuzzing the sample plant: every hostile case of ``tests/adversarial.py`` and a seeded batch of
random mutations of the sample's files, all in one landing folder beside the good files, ingested
by the real command line in a child process with a time limit and its peak memory measured.

For every file: the run is not aborted (exit 0, every good sample file loaded), no traceback,
``rows_read = rows_loaded + rows_quarantined``; for the run: bounded memory and time. Bounded
itself: the seed and the number of mutations are fixed, and the run is killed past its limit.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path

from tests import adversarial as adv
from tests.helpers import SAMPLE

SEED = 12
MUTATIONS = 30
TIME_LIMIT_S = 240
MEMORY_LIMIT_MB = 1500


def _mutate(rng: random.Random, src: Path, dest: Path) -> None:
    """One random mutation of a sample file, written beside it under a new name."""
    data = src.read_bytes()
    kind = rng.choice(["flip", "truncate", "repeat", "bigint", "cr", "utf16", "nul", "quote",
                       "column", "surrogate", "nest", "blank"])
    lines = data.splitlines(keepends=True)
    if kind == "flip":
        buf = bytearray(data)
        for _ in range(rng.randint(1, 30)):
            buf[rng.randrange(len(buf))] = rng.randrange(256)
        data = bytes(buf)
    elif kind == "truncate":
        data = data[:rng.randrange(1, len(data))]
    elif kind == "repeat":
        data = b"".join(lines[:1] + [rng.choice(lines[1:] or lines)] * rng.randint(2, 3000))
    elif kind == "bigint":
        data = data.replace(b",1\n", b",99999999999999999999\n").replace(b": 1,", b": 1e400,")
    elif kind == "cr":
        data = data.replace(b"\r\n", b"\n").replace(b"\n", b"\r")
    elif kind == "utf16":
        data = data.decode("utf-8", "replace").encode("utf-16")
    elif kind == "nul":
        data = data.replace(b",", b",\x00", rng.randint(1, 20))
    elif kind == "quote":
        data = data.replace(b",", b',"', rng.randint(1, 5))
    elif kind == "column":
        data = lines[0].rstrip(b"\r\n") + b",_row,_extra\n" + b"".join(
            ln.rstrip(b"\r\n") + b",1,2\n" for ln in lines[1:])
    elif kind == "surrogate":
        data = data.replace(b'"pass"', b'"\\ud800"').replace(b",pass,", b",\xed\xa0\x80,")
    elif kind == "nest":
        depth = rng.choice([100, 5000, 50_000])
        data = b'{"serial_number": ' + b"[" * depth + b"]" * depth + b"}\n" + data
    elif kind == "blank":
        data = data + b"\n" * rng.randint(1, 100_000)
    dest.write_bytes(data)


def test_fuzzed_sample_never_aborts_a_run(tmp_path: Path) -> None:
    landing = adv.copy_sample(tmp_path / "landing")
    good = sorted(f.name for f in landing.iterdir())
    for name, case in adv.CASES.items():
        if name == "zip_bomb":  # the 1 GiB one is the benchmark's; a 200 MiB one here
            adv.write_xlsx(landing / "units-bomb.xlsx", adv.UNIT_CELLS, padding=200 << 20)
        else:
            case(landing)
    rng = random.Random(SEED)
    sources = [f for f in sorted(SAMPLE.iterdir()) if f.suffix in (".csv", ".jsonl")]
    for i in range(MUTATIONS):
        src = rng.choice(sources)
        table = src.stem.split("_20")[0].split("-")[0]
        _mutate(rng, src, landing / f"{table}-fuzz{i:02d}{src.suffix}")
    cmd = ["/usr/bin/time", "-f", "%M %e", sys.executable, "-m", "tracelake.cli", "ingest",
           str(landing), "--lake", str(tmp_path / "lake"), "--format", "json"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=TIME_LIMIT_S,
                          errors="replace", env=os.environ | {"COLUMNS": "200"})
    rss_kb, seconds = proc.stderr.strip().splitlines()[-1].split()[-2:]
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr and "panicked" not in proc.stderr, proc.stderr[-2000:]
    doc = json.loads(proc.stdout)
    files = {Path(f["path"]).name: f for f in doc["files"]}
    assert len(files) >= len(good) + MUTATIONS
    for f in doc["files"]:
        assert f["rows_read"] == f["rows_loaded"] + f["rows_quarantined"], f
        assert f["status"] in ("loaded", "duplicate", "rejected", "unrecognised")
        if f["status"] == "rejected":
            assert f["reason"] and len(f["reason"]) < 600, f
    loaded = {f["sha256"] for f in doc["files"] if f["status"] == "loaded"}
    for name in good:  # loaded (or a mutation that left the bytes as they were loaded first)
        assert files[name]["status"] == "loaded" or files[name]["sha256"] in loaded, files[name]
    assert int(rss_kb) / 1024 < MEMORY_LIMIT_MB, f"peak RSS {int(rss_kb) / 1024:.0f} MB"
    assert float(seconds) < TIME_LIMIT_S
