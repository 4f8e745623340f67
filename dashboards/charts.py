"""Plotly figures of the pages, built from library answers and frames (no lake access, no Streamlit).

Colours come from ``ui.PALETTE`` through :func:`dashboards.ui.colour`, so a status looks the same in
every table and chart.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from typing import Any

import numpy as np
import plotly.graph_objects as go
import polars as pl
from plotly.colors import qualitative

from dashboards.ui import AMBER, BLUE, GREEN, GREY, RED, colour

FONT = {"family": "DejaVu Sans, Arial, sans-serif", "size": 13}
#: Colours for categories that are not statuses (products, defect codes, suppliers), safe for
#: colour-blind readers. Up to 8 at once: Okabe & Ito's palette (blue first; black last). Up to
#: 10: the "Safe" qualitative palette (CARTO, after Paul Tol; ``plotly.colors.qualitative.Safe``,
#: whose 11th colour, grey, is kept for "other").
#: A chart never shows more than :data:`MAX_CATEGORIES` categories in their own colours: the rest
#: go together as "other" in grey (:func:`fold_categories`), so no two of its colours look alike.
OKABE_ITO = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442",
             "#000000"]
SAFE = list(qualitative.Safe)
MAX_CATEGORIES = len(SAFE) - 1  # Safe's last colour is its grey, kept for "other"
OTHER = "other"
OTHER_COLOUR = "#888888"
CATEGORIES = OKABE_ITO  # kept for callers of the old name


def category_colours(keys: list[str]) -> dict[str, str]:
    """A distinct, colour-blind-safe colour per category, in the order given (``other`` grey).

    Raises ValueError past :data:`MAX_CATEGORIES` keys: fold them first."""
    named = [k for k in keys if k != OTHER]
    if len(named) > MAX_CATEGORIES:
        raise ValueError(f"{len(named)} categories in one chart: fold them to "
                         f"{MAX_CATEGORIES} first (fold_categories)")
    palette = OKABE_ITO if len(named) <= len(OKABE_ITO) else SAFE
    out = {k: palette[i] for i, k in enumerate(named)}
    if OTHER in keys:
        out[OTHER] = OTHER_COLOUR
    return out


def fold_categories(keys: list[str], limit: int = MAX_CATEGORIES) -> dict[str, str]:
    """Each key's shown category: the first ``limit`` - 1 keys (largest first, as given) as
    they are and the rest as ``other`` when there are more than ``limit``."""
    if len(keys) <= limit:
        return {k: k for k in keys}
    return {k: (k if i < limit - 1 else OTHER) for i, k in enumerate(keys)}


#: Above this many nodes a genealogy Sankey groups units by product, status and customer.
SANKEY_MAX_NODES = 80


def _layout(fig: go.Figure, title: str | None = None, height: int = 320, **kw: Any) -> go.Figure:
    fig.update_layout(title={"text": title, "x": 0, "font": {"size": 15}} if title else None,
                      height=height, margin={"l": 10, "r": 10, "t": 40 if title else 28, "b": 10},
                      font=FONT, plot_bgcolor="white", legend={"orientation": "h", "y": -0.15},
                      **kw)
    fig.update_xaxes(gridcolor="#eeeeee", zerolinecolor="#dddddd")
    fig.update_yaxes(gridcolor="#eeeeee", zerolinecolor="#dddddd")
    return fig


def counts_bar(counts: dict[str, int], title: str, *, horizontal: bool = False,
               coloured: bool = True, top: int = 15) -> go.Figure:
    """A bar per key (e.g. units by status or by customer), largest first."""
    items = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    if len(items) > top:  # the rest in the title, not as a bar that dwarfs the others
        rest = sum(v for _, v in items[top:])
        title = f"{title}: the {top} largest of {len(items)} ({rest:,} more units at the others)"
        items = items[:top]
    keys = [k for k, _ in items]
    values = [v for _, v in items]
    colours = [colour(k) if coloured else BLUE for k in keys]
    if horizontal:
        bar = go.Bar(x=values, y=keys, orientation="h", marker_color=colours, text=values,
                     textposition="auto")
        fig = go.Figure(bar)
        fig.update_yaxes(autorange="reversed")
        return _layout(fig, title, height=max(220, 34 * len(keys) + 60))
    fig = go.Figure(go.Bar(x=keys, y=values, marker_color=colours, text=values,
                           textposition="auto"))
    return _layout(fig, title)


def genealogy_sankey(affected: list[dict[str, Any]], title: str = "From lot to devices") -> go.Figure:
    """The genealogy from the traced lot to each affected unit, as a Sankey.

    Small answers draw every path node by node (lot, sub-assemblies, devices); large ones group
    the units by product, then status, then customer, so the picture stays readable.
    """
    nodes = {label for a in affected for label in a["path"]}
    if len(nodes) <= SANKEY_MAX_NODES:
        links: Counter[tuple[str, str]] = Counter()
        for a in affected:
            for parent, child in zip(a["path"], a["path"][1:], strict=False):
                links[(parent, child)] += 1
        status_of = {a["serial_number"]: a["status"] for a in affected}
        depth_of: dict[str, int] = {}
        for a in affected:
            for i, label in enumerate(a["path"]):
                depth_of[label] = min(depth_of.get(label, i), i)
        labels = sorted(nodes, key=lambda n: (depth_of[n], n))
        node_colours = [colour(status_of[n]) if n in status_of else GREY for n in labels]
    else:
        links = Counter()
        for a in affected:
            lot = a["path"][0]
            product = a["product_code"] or "?"
            status = a["status"] or "?"
            customer = a["customer"] or "not shipped"
            links[(lot, product)] += 1
            links[(product, f"{status} ")] += 1
            links[(f"{status} ", customer)] += 1
        reached: Counter[str] = Counter()
        for (src, dst), n in links.items():
            if src.endswith(" "):
                reached[dst] += n
        top_customers = {c for c, _ in reached.most_common(12)} | {"not shipped"}
        grouped: Counter[tuple[str, str]] = Counter()
        for (src, dst), n in links.items():
            if src.endswith(" ") and dst not in top_customers:
                dst = "other customers"
            grouped[(src, dst)] += n
        links = grouped
        labels = sorted({n for pair in links for n in pair})
        node_colours = [colour(n.strip()) if n.endswith(" ") else GREY for n in labels]
    index = {n: i for i, n in enumerate(labels)}
    fig = go.Figure(go.Sankey(
        arrangement="snap",
        node={"label": [n.strip() for n in labels], "color": node_colours, "pad": 12,
              "thickness": 14},
        # dark labels without the default white halo, which left them pale over the links
        textfont={"color": "#1f2937", "shadow": "none", "size": 12},
        link={"source": [index[s] for s, _ in links], "target": [index[t] for _, t in links],
              "value": list(links.values()), "color": "rgba(21,101,192,0.30)"}))
    return _layout(fig, title, height=max(320, min(900, 22 * len(affected) + 120)))


def ncr_trend(counts: pl.DataFrame, by: str, period: str) -> go.Figure:
    """NCRs per period, stacked by one dimension (past :data:`MAX_CATEGORIES` keys, the
    smallest together as "other")."""
    fig = go.Figure()
    keys = counts.group_by(by).agg(pl.col("ncrs").sum()).sort(["ncrs", by],
                                                               descending=[True, False])[by]
    shown = fold_categories([str(k) for k in keys.to_list()])
    counts = (counts.with_columns(pl.col(by).cast(pl.String).replace_strict(shown).alias(by))
              .group_by("period", by).agg(pl.col("ncrs").sum()).sort("period"))
    order = list(dict.fromkeys(shown.values()))
    palette = category_colours(order)
    for key in order:
        part = counts.filter(pl.col(by) == key)
        fig.add_bar(x=part["period"].to_list(), y=part["ncrs"].to_list(), name=str(key),
                    marker_color=colour(key) if by == "disposition" else palette[str(key)])
    fig.update_layout(barmode="stack", legend={"orientation": "h", "x": 0, "y": -0.12,
                                               "yanchor": "top"})
    fig.update_xaxes(title=None)
    tallest = counts.group_by("period").agg(pl.col("ncrs").sum())["ncrs"].max() or 0
    fig.update_yaxes(title="NCRs raised", rangemode="tozero",
                     dtick=1 if int(tallest) <= 8 else None)
    return _layout(fig, f"NCRs per {period} by {by.replace('_', ' ')}",
                   height=360 + 22 * ((len(order) + 3) // 4))


def pareto(frame: pl.DataFrame) -> go.Figure:
    """Defect codes by count with the cumulative share (the Pareto chart)."""
    fig = go.Figure()
    fig.add_bar(x=frame["defect_code"].to_list(), y=frame["ncrs"].to_list(), name="NCRs",
                marker_color=BLUE)
    fig.add_scatter(x=frame["defect_code"].to_list(),
                    y=(frame["cumulative_share"] * 100).to_list(), name="cumulative share",
                    yaxis="y2", mode="lines+markers", line={"color": AMBER})
    fig.update_layout(showlegend=False,
                      yaxis2={"overlaying": "y", "side": "right", "range": [0, 105],
                              "ticksuffix": "%", "showgrid": False, "title": "cumulative share",
                              "tickvals": [0, 25, 50, 75, 100]})
    most = int(frame["ncrs"].max() or 0)
    fig.update_layout(yaxis={"title": "NCRs", "rangemode": "tozero",
                             "dtick": 1 if most <= 8 else None})
    return _layout(fig, "Pareto of defect codes", height=340)


def fpy_chart(frame: pl.DataFrame) -> go.Figure:
    """First-pass yield per test step (rows) and product (columns): red is low, green is 100 %."""
    products = frame["product_code"].unique().sort().to_list()
    steps = (frame.group_by("test_step").agg(pl.col("fpy").min()).sort(["fpy", "test_step"])
             ["test_step"].to_list())
    cell = {(r["test_step"], r["product_code"]): r for r in frame.iter_rows(named=True)}
    z = [[cell[(s_, p)]["fpy"] * 100 if (s_, p) in cell else None for p in products]
         for s_ in steps]
    text = [[f"{cell[(s_, p)]['fpy']:.1%}" if (s_, p) in cell else "" for p in products]
            for s_ in steps]
    detail = [[f"{cell[(s_, p)]['first_pass']:,} of {cell[(s_, p)]['units_tested']:,} units"
               if (s_, p) in cell else "" for p in products] for s_ in steps]
    low = min((v for row in z for v in row if v is not None), default=100.0)
    fig = go.Figure(go.Heatmap(
        x=products, y=steps, z=z, text=text, texttemplate="%{text}", customdata=detail,
        zmin=min(low, 95.0), zmax=100, xgap=3, ygap=3,
        colorscale=[[0, RED], [0.5, AMBER], [1, GREEN]], showscale=False,
        hovertemplate="%{y} on %{x}: %{text} first time (%{customdata})<extra></extra>"))
    fig.update_yaxes(autorange="reversed", showgrid=False)
    fig.update_xaxes(side="top", showgrid=False)
    return _layout(fig, None, height=max(220, 34 * len(steps) + 90))


def ageing_chart(ageing: pl.DataFrame, buckets: list[str]) -> go.Figure:
    """Open NCRs by age bucket."""
    counts = Counter(ageing["age_bucket"].to_list())
    shades = [GREEN, AMBER, "#ef6c00", RED]
    fig = go.Figure(go.Bar(x=buckets, y=[counts.get(b, 0) for b in buckets],
                           marker_color=shades[:len(buckets)],
                           text=[counts.get(b, 0) for b in buckets], textposition="auto"))
    fig.update_yaxes(title="open NCRs", rangemode="tozero",
                     dtick=1 if max(counts.values(), default=0) <= 8 else None)
    return _layout(fig, None, height=300)


def limits_chart(results: pl.DataFrame) -> go.Figure:
    """Each measurement placed within its limits: 0 % is the low limit, 100 % the high one.

    One row per test step and measurement (every attempt a point, pass green, fail red); the hover
    shows the value and limits as measured. Measurements without two limits are left out.
    """
    rows = results.filter(pl.col("value").is_not_null() & pl.col("low_limit").is_not_null()
                          & pl.col("high_limit").is_not_null()
                          & (pl.col("high_limit") > pl.col("low_limit")))
    rows = rows.with_columns(
        ((pl.col("value") - pl.col("low_limit")) / (pl.col("high_limit") - pl.col("low_limit"))
         * 100).alias("position"),
        (pl.col("test_step") + " · " + pl.col("measurement")).alias("what"))
    fig = go.Figure()
    fig.add_vrect(x0=0, x1=100, fillcolor="rgba(46,125,50,0.08)", line_width=0)
    for x, name in ((0, "low limit"), (100, "high limit")):
        fig.add_vline(x=x, line={"color": GREY, "dash": "dash", "width": 1},
                      annotation_text=name, annotation_position="top")
    for verdict in ("pass", "fail"):
        part = rows.filter(pl.col("result") == verdict)
        if not part.height:
            continue
        attempt = part["attempt"].fill_null(1).to_list() if "attempt" in part.columns \
            else [1] * part.height
        fig.add_scatter(
            x=part["position"].to_list(), y=part["what"].to_list(), mode="markers", name=verdict,
            marker={"color": colour(verdict), "size": 11,
                    "symbol": ["circle" if a == 1 else "diamond" for a in attempt],
                    "line": {"color": "white", "width": 1}},
            customdata=list(zip(part["value"].to_list(), part["low_limit"].to_list(),
                                part["high_limit"].to_list(),
                                part["units"].fill_null("").to_list(), attempt, strict=True)),
            hovertemplate="%{y}<br>%{customdata[0]} %{customdata[3]} (limits %{customdata[1]}"
                          " … %{customdata[2]}), attempt %{customdata[4]}<extra></extra>")
    lo = min(-10.0, float(rows["position"].min() or 0) - 10) if rows.height else -10
    hi = max(110.0, float(rows["position"].max() or 100) + 10) if rows.height else 110
    fig.update_xaxes(range=[lo, hi], ticksuffix="%", title="position within limits")
    fig.update_yaxes(autorange="reversed", title=None)
    return _layout(fig, None, height=max(240, 26 * rows["what"].n_unique() + 90))


def operations_timeline(ops: pl.DataFrame) -> go.Figure:
    """Operations in time order, one row per step: a marker at the start (coloured by result) on
    a bar from start to finish; a repeated step (rework) shows as a second marker on its row."""
    fig = go.Figure()
    ops = ops.with_columns((pl.col("op_seq").cast(pl.String) + " " + pl.col("op_code"))
                           .alias("step"))
    order = ops.sort("op_seq")["step"].unique(maintain_order=True).to_list()
    for result in ops["result"].unique().sort().to_list():
        part = ops.filter(pl.col("result") == result)
        start = part["started_at"].to_list()
        finish = part["finished_at"].to_list()
        info = list(zip(part["operator"].fill_null("").to_list(),
                        part["equipment_id"].fill_null("—").to_list(),
                        [f.strftime("%d %b %H:%M") if f else "" for f in finish], strict=True))
        fig.add_bar(base=start, x=[(f - s).total_seconds() * 1000 if s and f else 0
                                   for s, f in zip(start, finish, strict=True)],
                    y=part["step"].to_list(), orientation="h", marker_color=colour(result),
                    showlegend=False, hoverinfo="skip", width=0.35)
        fig.add_scatter(x=start, y=part["step"].to_list(), mode="markers", name=result,
                        marker={"color": colour(result), "size": 12, "symbol": "circle",
                                "line": {"color": "white", "width": 1}},
                        customdata=info,
                        hovertemplate="%{y}: %{x|%d %b %H:%M} → %{customdata[2]}<br>"
                                      "%{customdata[0]} · equipment %{customdata[1]}"
                                      "<extra>" + result + "</extra>")
    fig.update_xaxes(type="date")
    fig.update_yaxes(categoryorder="array", categoryarray=order, autorange="reversed")
    return _layout(fig, None, height=max(240, 28 * len(order) + 100))


def calibration_timeline(history: pl.DataFrame, now: dt.datetime,
                         windows: list[dict[str, Any]] | None = None) -> go.Figure:
    """Each calibration in force (calibrated → next calibration or due date) per piece of
    equipment, with the suspect windows of status.py shaded over their rows, as a legend entry
    each kind: last good calibration → found out of tolerance (``kind`` "found"), and a
    calibration that left the equipment out of tolerance → its next calibration (or today;
    ``kind`` "left"); today marked."""
    fig = go.Figure()
    ends = history.sort("equipment_id", "calibrated_at").with_columns(
        pl.min_horizontal(pl.col("calibrated_at").shift(-1).over("equipment_id"),
                          pl.col("due_at")).fill_null(pl.col("due_at")).alias("_end"))
    if ends.height:
        start, end = ends["calibrated_at"].to_list(), ends["_end"].to_list()
        fig.add_bar(base=start, x=[(e - s).total_seconds() * 1000
                                   for s, e in zip(start, end, strict=True)],
                    y=ends["equipment_id"].to_list(), orientation="h", name="calibration in force",
                    marker_color=GREEN, opacity=0.55, width=0.6,
                    customdata=ends["certificate_no"].to_list(),
                    hovertemplate="%{y} %{customdata}: from %{base|%d %b %Y}<extra></extra>")
    ids = set(history["equipment_id"])
    first = dict(history.group_by("equipment_id").agg(pl.col("calibrated_at").min()).iter_rows())
    kinds = {"found": ("suspect window (last good calibration → found out of tolerance)", "/",
                       "%{y}: suspect from %{base|%d %b %Y %H:%M} until found out of tolerance "
                       "by %{customdata}<extra></extra>"),
             "left": ("suspect: left out of tolerance, until its next calibration", "x",
                      "%{y}: left out of tolerance by %{customdata} on %{base|%d %b %Y %H:%M}: "
                      "every use suspect until its next calibration<extra></extra>")}
    for kind, (name, hatch, hover) in kinds.items():
        shown = [w for w in windows or [] if w["equipment_id"] in ids
                 and w.get("kind", "found") == kind]
        if not shown:
            continue
        # a shaded span over its row per window, drawn over the bars of the calibrations
        start = [w["from"] or first.get(w["equipment_id"]) or w["to"] for w in shown]
        stop = [w["to"] or max(now, s) for s, w in zip(start, shown, strict=True)]
        fig.add_bar(base=start, x=[(e - s).total_seconds() * 1000
                                   for s, e in zip(start, stop, strict=True)],
                    y=[w["equipment_id"] for w in shown], orientation="h", width=0.9, name=name,
                    marker={"color": "rgba(198,40,40,0.30)", "line": {"color": RED, "width": 1.5},
                            "pattern": {"shape": hatch, "fgcolor": RED, "size": 6,
                                        "solidity": 0.3}},
                    customdata=[w["certificate_no"] for w in shown], hovertemplate=hover)
    fig.add_vline(x=now.timestamp() * 1000, line={"color": RED, "width": 2})
    fig.add_annotation(x=now.timestamp() * 1000, y=1.04, yref="paper", text="today",
                       showarrow=False, font={"color": RED})
    fig.update_xaxes(type="date")
    fig.update_yaxes(autorange="reversed", title=None)
    return _layout(fig, None, height=max(220, 36 * history["equipment_id"].n_unique() + 90),
                   barmode="overlay")


#: most points an I-MR chart draws (the latest ones; limits come from every point)
IMR_MAX_POINTS = 5000
#: most points an I-MR chart draws with a marker each (more: lines alone)
IMR_MARKERS = 1000


def imr_chart(points: pl.DataFrame, limits: dict[str, Any], title: str,
              units: str | None = None) -> go.Figure:
    """Individuals (top) and moving range (bottom) with centre line, control limits (3σ),
    specification limits, the points breaking a run rule and the results outside specification
    marked."""
    from plotly.subplots import make_subplots

    shown = points.tail(IMR_MAX_POINTS)
    first = points.height - shown.height + 1
    # numbers as NumPy arrays: Plotly sends them as typed arrays (base64), not as JSON lists;
    # one hover text per point, its serial escaped (shown as stored, never as Plotly's HTML)
    x = np.arange(first, points.height + 1, dtype=np.int32)
    hover = shown.select(
        pl.col("serial_number").fill_null("").str.replace_all("&", "&amp;", literal=True)
         .str.replace_all("<", "&lt;", literal=True).str.replace_all(">", "&gt;", literal=True)
         + " · " + pl.col("tested_at").dt.strftime("%Y-%m-%d %H:%M").fill_null("")
    ).to_series().to_list()
    flagged = shown.with_columns(pl.Series("i", x)).filter(pl.col("rules").list.len() > 0)
    # past IMR_MARKERS points, lines alone: a marker each is an SVG node each (10,000 of them
    # took seconds to draw), and they merge into a band; hover still reads every point
    mode = "lines" if shown.height > IMR_MARKERS else "lines+markers"
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[0.68, 0.32],
                        vertical_spacing=0.06)
    fig.add_scatter(x=x, y=shown["value"].cast(pl.Float64).to_numpy(), mode=mode,
                    name="value", line={"color": OKABE_ITO[0], "width": 1}, marker={"size": 4},
                    text=hover, row=1, col=1, hovertemplate="%{text}<br>%{y}<extra></extra>")
    if flagged.height:  # every break one trace
        fig.add_scatter(x=flagged["i"].to_numpy(), y=flagged["value"].cast(pl.Float64).to_numpy(),
                        mode="markers", name="breaks a run rule",
                        marker={"color": OKABE_ITO[5], "size": 10, "symbol": "x"},
                        text=[" ".join(str(r) for r in rs) for rs in flagged["rules"].to_list()],
                        hovertemplate="rule %{text}<extra></extra>", row=1, col=1)
    usl, lsl = limits.get("usl"), limits.get("lsl")
    outside = shown.with_columns(pl.Series("i", x)).filter(
        (pl.col("value") > usl if usl is not None else pl.lit(False))
        | (pl.col("value") < lsl if lsl is not None else pl.lit(False)))
    if outside.height:  # a result outside its specification: failed, whatever the control limits
        fig.add_scatter(x=outside["i"].to_numpy(), y=outside["value"].cast(pl.Float64).to_numpy(),
                        mode="markers", name="outside specification",
                        marker={"color": RED, "size": 11, "symbol": "circle-open",
                                "line": {"width": 2}},
                        hovertemplate="outside specification: %{y}<extra></extra>", row=1, col=1)
    fig.add_scatter(x=x, y=shown["mr"].cast(pl.Float64).to_numpy(), mode=mode,
                    name="moving range", line={"color": OKABE_ITO[4], "width": 1},
                    marker={"size": 3}, row=2, col=1, showlegend=False)
    lines = [(limits.get("mean"), "mean", GREY, "solid", 1), (limits.get("ucl"), "UCL", RED, "dash", 1),
             (limits.get("lcl"), "LCL", RED, "dash", 1), (limits.get("usl"), "USL", "#000000", "dot", 1),
             (limits.get("lsl"), "LSL", "#000000", "dot", 1),
             (limits.get("mr_bar"), "MR̄", GREY, "solid", 2), (limits.get("ucl_mr"), "UCL", RED, "dash", 2)]
    for value, name, col, dash, row in lines:
        if value is None:
            continue
        fig.add_hline(y=value, line={"color": col, "dash": dash, "width": 1}, row=row, col=1,
                      annotation_text=f"{name} {value:.4g}", annotation_position="right",
                      annotation_font_size=11)
    fig.update_yaxes(title=units or "value", row=1, col=1)
    fig.update_yaxes(title="moving range", row=2, col=1, rangemode="tozero")
    fig.update_xaxes(title="point (test order)", row=2, col=1)
    if shown.height < points.height:
        title += f" (the last {shown.height:,} of {points.height:,} points)"
    fig = _layout(fig, title, height=520)
    fig.update_layout(margin={"r": 110})
    return fig


#: lines a yield trend draws on their own (the lowest yields); the rest are one "other" line
YIELD_LINES = 6


def yield_trend(frame: pl.DataFrame, period: str) -> go.Figure:
    """First-pass yield per period, a line per product and test step: the
    :data:`YIELD_LINES` - 1 lowest over the window on their own, the rest together."""
    frame = frame.with_columns((pl.col("product_code") + " · " + pl.col("test_step")).alias("what"))
    order = (frame.group_by("what").agg((pl.col("first_pass").sum()
                                         / pl.col("units_tested").sum()).alias("fpy"),
                                        pl.col("units_tested").sum())
             .sort(["fpy", "units_tested", "what"], descending=[False, True, False])
             ["what"].to_list())
    shown = fold_categories(order, YIELD_LINES)
    frame = (frame.with_columns(pl.col("what").replace_strict(shown))
             .group_by("period", "what").agg(pl.col("units_tested").sum(),
                                             pl.col("first_pass").sum())
             .with_columns((pl.col("first_pass") / pl.col("units_tested")).alias("fpy"))
             .sort("period"))
    keys = list(dict.fromkeys(shown.values()))
    palette = category_colours(keys)
    fig = go.Figure()
    for key in keys:
        part = frame.filter(pl.col("what") == key)
        fig.add_scatter(x=part["period"].to_list(), y=(part["fpy"] * 100).to_list(),
                        mode="lines+markers", name=key, line={"color": palette[key]},
                        customdata=list(zip(part["first_pass"].to_list(),
                                            part["units_tested"].to_list(), strict=True)),
                        hovertemplate=key + ": %{y:.1f}% (%{customdata[0]:,} of "
                                            "%{customdata[1]:,})<extra></extra>")
    fig.update_yaxes(title="first-pass yield", ticksuffix="%")
    return _layout(fig, f"First-pass yield per {period}",
                   height=360 + 22 * ((len(keys) + 2) // 3))


def rework_trend(frame: pl.DataFrame, period: str) -> go.Figure:
    """Rework rate per period, a line per product."""
    order = (frame.group_by("product_code").agg(pl.col("units").sum())
             .sort(["units", "product_code"], descending=[True, False])["product_code"].to_list())
    shown = fold_categories(order)
    frame = (frame.with_columns(pl.col("product_code").replace_strict(shown))
             .group_by("period", "product_code").agg(pl.col("units").sum(),
                                                     pl.col("reworked").sum())
             .with_columns((pl.col("reworked") / pl.col("units")).alias("rate")).sort("period"))
    keys = list(dict.fromkeys(shown.values()))
    palette = category_colours(keys)
    fig = go.Figure()
    for key in keys:
        part = frame.filter(pl.col("product_code") == key)
        fig.add_scatter(x=part["period"].to_list(), y=(part["rate"] * 100).to_list(),
                        mode="lines+markers", name=key, line={"color": palette[key]},
                        customdata=list(zip(part["reworked"].to_list(), part["units"].to_list(),
                                            strict=True)),
                        hovertemplate=key + ": %{y:.1f}% (%{customdata[0]:,} of "
                                            "%{customdata[1]:,} units)<extra></extra>")
    fig.update_yaxes(title="rework rate", ticksuffix="%", rangemode="tozero")
    return _layout(fig, f"Rework rate per {period}", height=340)


def lot_effect_chart(lots: pl.DataFrame, component: str, units: str | None) -> go.Figure:
    """Each lot of one component: its mean with the other lots' mean, flagged lots marked."""
    part = lots.filter(pl.col("component_code") == component).sort("lot_number")
    fig = go.Figure()
    fig.add_bar(x=part["lot_number"].to_list(), y=part["shift"].to_list(),
                marker_color=[OKABE_ITO[5] if f else OKABE_ITO[0]
                              for f in part["flagged"].to_list()],
                customdata=list(zip(part["n"].to_list(), part["p_adjusted"].to_list(),
                                    strict=True)),
                hovertemplate="%{x}: %{y:.4g} (%{customdata[0]:,} units, adjusted p "
                              "%{customdata[1]:.2g})<extra></extra>")
    fig.update_yaxes(title=f"shift from the other lots ({units})" if units else "shift")
    return _layout(fig, f"{component}: each lot against the others", height=300)
