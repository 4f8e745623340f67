"""tracelake asks polars' jemalloc to give freed pages back at once (a 200 MB TestStand ingest
otherwise kept what typing a chunk freed resident through staging, peaking past 500 MB), and
keeps a setting of the user's own."""

from __future__ import annotations

import os
import subprocess
import sys

CODE = ("import os, tracelake, polars\n"
        "print(os.environ['_RJEM_MALLOC_CONF'])\n")


def _conf(env: dict[str, str]) -> dict[str, str]:
    """The options jemalloc applies (polars puts its defaults first; a later option wins)."""
    proc = subprocess.run([sys.executable, "-c", CODE], env=env, capture_output=True,
                          text=True, check=True)
    return dict(item.split(":") for item in proc.stdout.strip().split(","))


def test_freed_pages_are_purged_at_once() -> None:
    env = {k: v for k, v in os.environ.items() if k != "_RJEM_MALLOC_CONF"}
    conf = _conf(env)
    assert (conf["dirty_decay_ms"], conf["muzzy_decay_ms"]) == ("0", "0")
    assert conf["background_thread"] == "true"


def test_a_users_own_setting_is_kept() -> None:
    env = {**os.environ, "_RJEM_MALLOC_CONF": "dirty_decay_ms:250"}
    conf = _conf(env)
    assert conf["dirty_decay_ms"] == "250" and "background_thread" not in conf
