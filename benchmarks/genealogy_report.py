"""Genealogy benchmark, the printed report: one table per tier and the scaling between tiers."""

from __future__ import annotations

import json
from typing import Any

import harness
from genealogy_plant import PEERS, QNAMES, QUERIES, TARGETS, TIERS


def _fmt_ms(v: float) -> str:
    if v != v:  # nan
        return "-"
    return f"{v:.2f}" if v < 10 else f"{v:.1f}" if v < 100 else f"{v:,.0f}"


def _lat(res: dict[str, Any], q: str, with_dicts: bool = False) -> str:
    r = res.get("queries", {}).get(q)
    if not r or not r["ms"]:
        return "-"
    n = len(r["ms"])
    ms = r["ms"]
    if with_dicts:  # the call, then the answer's rows as Python dicts (the CLI's JSON)
        if "dicts_ms" not in r:
            return "-"
        ms = [a + b for a, b in zip(r["ms"], r["dicts_ms"], strict=False)]
    cell = f"{_fmt_ms(harness.pct(ms, 50))} / {_fmt_ms(harness.pct(ms, 95))}"
    return cell + (f" (n={n})" if n < 20 else "")


def report(tier: str, info: dict[str, Any]) -> None:
    res = info["peers"]
    st = info["storage"]
    units, opts = TIERS[tier]
    tl = res.get("tracelake", {})
    print()
    print(f"=== tier {tier}: {units:,} finished units"
          + (f", adversarial {json.dumps(opts)}" if opts else "")
          + f"; {st['nodes']:,} nodes, {st['edges']:,} edges, {st['closure_rows']:,} closure rows "
          f"({st['closure_rows'] / max(1, st['edges']):.2f} per edge)")
    print(f"    {info['starts_n']} starts per query (seed {info['seed']}), one warm-up each; "
          f"duckdb {info['env']['duckdb']}, {info['env']['cpus']} CPUs, "
          f"python {info['env']['python']}; tracelake at {info['env']['library']}")
    if info.get("library_changed_during_run"):
        print("    WARNING: the library source changed during this tier's run: its numbers mix "
              "versions")
    print(f"    targets at M: Q1/Q2 p95 <= {TARGETS['Q1']:g} ms, Q3/Q4 p95 <= {TARGETS['Q3']:g} ms, "
          f"rebuild <= {TARGETS['rebuild_s']:g} s, upkeep >= {TARGETS['upkeep_units_s']:,.0f} "
          f"units/s, peak RSS <= {TARGETS['rss_mib'] / 1024:g} GB, M/S latency <= "
          f"{TARGETS['scaling']:g}x\n")
    peers = [p for p in PEERS if p in res]
    headers = ["query (p50 / p95 ms)", "results p50", *peers[:1], "tracelake +dicts", *peers[1:],
               "target p95", "check"]
    rows: list[list[str]] = []
    for q in QUERIES:
        if q == "Q4" and "Q4" not in tl.get("queries", {}):
            rows.append([QNAMES[q], "", *[""] * (len(headers) - 3),
                         "not available (tracelake.derived.calibration.impact.calibration_impact "
                         "not found)"])
            continue
        if q not in tl.get("queries", {}) and not any(q in r.get("queries", {}) for r in
                                                       res.values()):
            continue
        counts = tl.get("queries", {}).get(q, {}).get("counts", [])
        rsize = f"{int(harness.pct(counts, 50)):,}" if counts else "-"
        cells = [_lat(res[p], q) for p in peers[:1]] + \
            [_lat(res.get("tracelake", {}), q, with_dicts=True)] + \
            [_lat(res[p], q) for p in peers[1:]]
        tgt = TARGETS.get(q)
        p95 = harness.pct(tl["queries"][q]["ms"], 95) if q in tl.get("queries", {}) else float("nan")
        tcol = f"<= {tgt:g} {'ok' if p95 <= tgt else 'MISS'}" if tgt else ""
        mism = info["crosscheck"].get(q, {})
        bad = {p: len(v) for p, v in mism.items() if v}
        check = "counts agree" if mism and not bad else (
            "WARNING " + ", ".join(f"{p}: {n} starts differ" for p, n in bad.items())
            if bad else "")
        rows.append([QNAMES[q], rsize, *cells, tcol, check])
    harness.print_table(headers, rows, left=(0, len(headers) - 1))
    q3 = tl.get("queries", {}).get("Q3")
    if q3:
        print(f"{'':<24}Q3 lots per window: p50 {harness.pct(q3['lots'], 50):.0f} "
              f"(min {min(q3['lots'])}, max {max(q3['lots'])})")
    q4 = tl.get("queries", {}).get("Q4")
    if q4:
        print(f"{'':<24}Q4 results = units concerned; suspect test results p50 "
              f"{harness.pct(q4['results'], 50):,.0f} (max {max(q4['results']):,})")
    print()
    ing = info["ingest"]
    rb = info.get("rebuild", {})
    if ing.get("mode") == "split":
        ip = ing["index_process"]
        print(f"ingest without the index:       {ing['seconds']:8.1f} s (peak RSS "
              f"{ing['peak_rss_mib']:,.0f} MiB); then rebuild_lake_index {ip['seconds']:.1f} s "
              f"(peak RSS {ip['peak_rss_mib']:,.0f} MiB) and publish_lake {ip['publish_s']:.1f} s")
    else:
        print(f"index build, inside ingest:     {ing['genealogy']['seconds']:8.1f} s "
              f"(ingest {ing['seconds']:.1f} s in all, peak RSS {ing['peak_rss_mib']:,.0f} MiB)")
    if "seconds" in rb:
        v = "ok" if rb["seconds"] <= TARGETS["rebuild_s"] else "MISS"
        commit = f", then COMMIT {rb['commit_s']:.1f} s" if "commit_s" in rb else ""
        print(f"full rebuild, fresh process:    {rb['seconds']:8.1f} s (peak RSS "
              f"{rb['peak_rss_mib']:,.0f} MiB{commit})   target at M <= "
              f"{TARGETS['rebuild_s']:g} s: {v}")
    else:
        print(f"full rebuild: failed ({rb.get('error')})")
    up = info.get("upkeep", {})
    if "ingest_s" in up:
        b = info["batch"]
        g = up["genealogy"] or {}
        rate = b["finished_units"] / g["seconds"] if g.get("seconds") else float("nan")
        v = "ok" if rate >= TARGETS["upkeep_units_s"] else "MISS"
        print(f"upkeep, batch of {b['finished_units']:,} finished units ({b['all_units']:,} units "
              f"at all levels, {sum(b['rows'].values()):,} rows): index mode "
              f"{g.get('mode', '?')!r} {g.get('seconds', float('nan')):.2f} s = "
              f"{rate:,.0f} finished units/s ({b['all_units'] / g['seconds']:,.0f} units/s at all "
              f"levels; target >= {TARGETS['upkeep_units_s']:,.0f}: {v}); "
              f"whole ingest {up['ingest_s']:.1f} s = {b['finished_units'] / up['ingest_s']:,.0f} "
              f"units/s")
        if "verify" in up:
            bad = [k for k, v in up["verify"].items() if not v["same"]]
            print("    incremental index vs full rebuild of the same lake: "
                  + ("identical" if not bad else "DIFFERENT in " + ", ".join(bad)))
    else:
        print(f"upkeep: failed ({up.get('error')})")
    cold = info.get("cold", {})
    if "first_q1_ms" in cold:
        print(f"cold start (fresh process, snapshot {'evicted from' if cold['page_cache_evicted'] else 'in'} "
              f"page cache): import {cold['import_s']:.2f} s, open {cold['open_ms']:.1f} ms, first Q1 "
              f"{cold['first_q1_ms']:,.1f} ms, second {cold['second_q1_ms']:,.1f} ms")
    if tl.get("first_query_ms") is not None:
        print(f"first Q1 in the query process (page cache warm): open {tl['open_ms']:.1f} ms + "
              f"query {tl['first_query_ms']:,.1f} ms")
    by_q = ", ".join(f"{q} {r['peak_rss_after_mib']:,.0f}" for q, r in tl.get("queries", {}).items()
                     if "peak_rss_after_mib" in r and q != "Q4")
    if by_q:
        print(f"tracelake query process, peak RSS (MiB) after each query kind: {by_q}; "
              f"Q4 in its own process: {(tl.get('q4_process') or {}).get('peak_rss_mib') or 0:,.0f}")
    if (tl.get("q4_process") or {}).get("error"):
        print(f"Q4 process failed: {tl['q4_process']['error']}")
    rss = ", ".join(f"{p} {res[p]['peak_rss_mib']:,.0f}" for p in peers if "peak_rss_mib" in res[p])
    v = "ok" if tl.get("peak_rss_mib", 0) <= TARGETS["rss_mib"] else "MISS"
    print(f"peak RSS (MiB), query processes: {rss}   (tracelake target <= "
          f"{TARGETS['rss_mib']:,.0f}: {v})")
    for p in ("rustworkx", "networkx"):
        if p in res and "build_s" in res[p]:
            r = res[p]
            per_edge = (r["rss_loaded_mib"] - r["rss_before_load_mib"]) * 2**20 / max(1, r["edges"])
            print(f"{p} load: read edges {r['read_s']:.1f} s + build {r['build_s']:.1f} s; RSS "
                  f"{r['rss_loaded_mib']:,.0f} MiB once loaded ({per_edge:.0f} B/edge over the "
                  f"process before loading), {r['rss_load_peak_mib']:,.0f} MiB peak while loading")
    print(f"disk: serving.duckdb {st['file_bytes'] / 2**20:,.0f} MiB = {st['bytes_per_edge']:.0f} B "
          f"per edge; genealogy tables {st['genealogy_share']:.0%} of its blocks "
          f"({st['genealogy_bytes'] / 2**20:,.0f} MiB, {st['genealogy_bytes_per_edge']:.0f} B/edge); "
          f"the lake folder holds 2 copies (lake.duckdb + serving.duckdb)")
    truth = tl.get("truth", [])
    if truth:
        bad = [t for t in truth if not t["ok"]]
        print(f"known facts: {len(truth) - len(bad)}/{len(truth)} agree"
              + ("" if not bad else "; DISAGREE: " + "; ".join(
                  f"{t['what']}: want {t['want']}, got {t.get('got_finished', t.get('got'))} "
                  f"(missing {t['missing']}, extra {t['extra']})" for t in bad)))
        extra = [t for t in truth if t.get("other_top_units")]
        for t in extra:
            print(f"    note: {t['what']} also reaches {t['other_top_units']} top-level units "
                  "that are not finished devices (scrapped PCBAs, a quarantined module)")
    for q, mism in info["crosscheck"].items():
        for peer, bad in mism.items():
            for b in bad[:3]:
                print(f"    {q} {peer} differs at start {b['start']}: {json.dumps(b)}")
    for p, r in res.items():
        if "error" in r:
            print(f"peer {p} failed: {r['error']}")


def _shown_pairs(all_info: dict[str, dict[str, Any]]) -> list[tuple[str, str]]:
    pairs = [("S", "M"), ("adv", "adv-M"), ("M", "L")]
    return [(a, b) for a, b in pairs if a in all_info and b in all_info
            and not (all_info[a].get("from_earlier_run") and all_info[b].get("from_earlier_run"))]


def scaling(all_info: dict[str, dict[str, Any]]) -> None:
    for small, big in _shown_pairs(all_info):
        a, b = all_info[small]["peers"], all_info[big]["peers"]
        print(f"\n=== scaling {big} / {small} (same generator, lots of the same size, so result "
              f"sizes are comparable; target <= {TARGETS['scaling']:g}x)")
        print(f"{'query':<24}{'results ' + small:>12}{'results ' + big:>12}  "
              + "".join(f"{p + ' p50x':>16}{'p95x':>7}" for p in PEERS if p in a and p in b))
        for q in QUERIES:
            qa = a.get("tracelake", {}).get("queries", {}).get(q)
            qb = b.get("tracelake", {}).get("queries", {}).get(q)
            if not qa or not qb:
                continue
            na, nb = harness.pct(qa["counts"], 50), harness.pct(qb["counts"], 50)
            row = f"{QNAMES[q]:<24}{int(na):>12,}{int(nb):>12,}  "
            if not na or not nb or max(na, nb) / min(na, nb) > 1.5:
                print(row + "result sizes differ: not comparable")
                continue
            for p in PEERS:
                if p not in a or p not in b:
                    continue
                ra, rb = a[p].get("queries", {}).get(q), b[p].get("queries", {}).get(q)
                if not ra or not rb or not ra["ms"] or not rb["ms"]:
                    row += f"{'-':>16}{'-':>7}"
                    continue
                r50 = harness.pct(rb["ms"], 50) / harness.pct(ra["ms"], 50)
                r95 = harness.pct(rb["ms"], 95) / harness.pct(ra["ms"], 95)
                row += f"{r50:>15.2f}x{r95:>6.2f}x"
            print(row)
