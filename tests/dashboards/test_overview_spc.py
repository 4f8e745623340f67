"""Overview (the first page), SPC and the new trend charts in AppTest; the palettes."""

from __future__ import annotations

import base64
import datetime as dt
import itertools
import json

import numpy as np
import plotly.graph_objects as go
import polars as pl
import pytest
from streamlit.testing.v1 import AppTest

from dashboards import charts, strings
from tests.dashboards.apptest import APP, Opener, linked, metric, no_traceback, table, texts


def test_the_root_url_opens_the_overview_with_the_sample_storys_open_items(app: Opener) -> None:
    at = app()
    assert (metric(at, "Open NCRs"), metric(at, "Jobs blocked"),
            metric(at, "Waiting for review"), metric(at, "Equipment")) == ("1", "1", "2", "1")
    assert linked(table(at, "ncr_id")["serial_number"]) == ["SPX200-0013"]
    jobs = table(at, "majors_waiting")
    assert linked(jobs["job_id"]) == ["J-1047", "J-1042", "J-1044"]
    assert jobs["link"].tolist()[:2] == ["./batch?job=J-1047", "./batch?job=J-1042"]
    equipment = table(at, "suspect_results")
    assert linked(equipment["equipment_id"]) == ["DMM-04"]
    assert int(equipment["suspect_results"].iloc[0]) == 36
    assert strings.OVERVIEW_NO_LOTS.split(",")[0] in texts(at)
    # the open NCRs' counts as text; their chart drawn only when asked for
    assert ("By age: 0–7 days **0** · 8–30 days **1** · 31–90 days **0** · over 90 days **0**"
            " — by disposition: pending **1**") in texts(at)
    assert not at.get("plotly_chart")
    at.session_state[strings.OVERVIEW_NCR_CHART_KEY] = True
    at.run()
    no_traceback(at)
    [chart] = at.get("plotly_chart")
    assert "By disposition" in chart.proto.spec


def test_a_lot_in_the_root_url_still_opens_the_recall(app: Opener) -> None:
    at = AppTest.from_file(str(APP), default_timeout=90)  # the lake: set by the app fixture
    at.query_params.update({"component": "CAP-100", "lot": "L-4471"})
    at.run()
    no_traceback(at)
    assert at.selectbox(key=strings.COMPONENT_KEY).value == "CAP-100"


def test_spc_capability_table_and_a_chart_opened_by_link(app: Opener) -> None:
    at = app("spc")
    assert metric(at, "Measurements") == "19"
    assert at.selectbox(key=strings.SPC_SERIES_KEY).value is None
    at = app("spc", product="SPX-200", step="ALIGN", measurement="beam_offset")
    assert at.selectbox(key=strings.SPC_SERIES_KEY).value == "SPX-200 · ALIGN · beam_offset"
    assert (metric(at, "Points"), metric(at, "Cpk"), metric(at, "Run-rule breaks")) == (
        "14", "0.53", "1")
    assert [b.label for b in at.get("download_button")] == [strings.SPC_CSV,
                                                             strings.SPC_POINTS_CSV]
    # the points breaking a rule are listed (a second grid) only once their expander is opened
    assert not any("mr" in df.value.columns for df in at.dataframe)
    at.session_state[strings.SPC_FLAGGED_KEY] = True
    at.run()
    no_traceback(at)
    flagged = table(at, "mr")
    assert len(flagged) == 1 and flagged["rules"].tolist() == ["1"]
    # the I-MR figure: typed arrays of the points, the limits as lines, the break one trace
    figure = json.loads(at.get("plotly_chart")[0].proto.spec)
    names = [t.get("name") for t in figure["data"]]
    assert names == ["value", "breaks a run rule", "outside specification", "moving range"]
    outside = figure["data"][2]["y"]  # the one beam_offset result the table counts as failed
    got = (np.frombuffer(base64.b64decode(outside["bdata"]), dtype=outside["dtype"])
           if isinstance(outside, dict) else np.asarray(outside))
    assert len(got) == 1 and abs(got[0]) > 0.05  # beyond the ±0.05 mm specification
    assert figure["data"][0]["y"]["dtype"] == "f8" and len(figure["data"][0]["text"]) == 14
    assert {a["text"].split(" ")[0] for a in figure["layout"]["annotations"]} == {
        "mean", "UCL", "LCL", "USL", "LSL", "MR̄"}
    at.toggle(key=strings.SPC_LOT_EFFECTS_KEY).set_value(True).run()
    no_traceback(at)
    assert strings.SPC_NO_LOT_EFFECT in texts(at)


def test_spc_filtered_by_product_and_dates(app: Opener) -> None:
    at = app("spc")
    at.multiselect(key=strings.SPC_PRODUCTS_KEY).set_value(["CAL-KIT-5"]).run()
    no_traceback(at)
    assert metric(at, "Measurements") == "4"
    at.multiselect(key=strings.SPC_PRODUCTS_KEY).set_value([]).run()
    at.date_input(key=strings.SPC_DATES_KEY).set_value(
        (dt.date(2026, 10, 1), dt.date(2026, 10, 10))).run()
    no_traceback(at)
    assert metric(at, "Measurements") == "2"  # J-1038's PCB rails only


@pytest.mark.parametrize("n", [1, 5, 8, 9, 10])
def test_category_colours_are_distinct_and_colour_blind_safe(n: int) -> None:
    keys = [f"k{i}" for i in range(n)]
    colours = charts.category_colours(keys)
    assert len(set(colours.values())) == n
    assert set(colours.values()) <= set(charts.OKABE_ITO if n <= 8 else charts.SAFE)


def test_a_chart_with_many_categories_folds_the_rest_into_other() -> None:
    counts = pl.DataFrame({"period": [dt.date(2026, 1, 5)] * 20,
                           "defect_code": [f"D{i:02d}" for i in range(20)],
                           "ncrs": list(range(20, 0, -1))})
    fig = charts.ncr_trend(counts, "defect_code", "week")
    names = [t.name for t in fig.data]
    colours = [t.marker.color for t in fig.data]
    assert len(names) == charts.MAX_CATEGORIES and names[-1] == "other"
    assert len(set(colours)) == len(colours)  # never two traces in one colour
    assert sum(sum(t.y) for t in fig.data if isinstance(t, go.Bar)) == sum(range(1, 21))
    with pytest.raises(ValueError, match="fold them"):
        charts.category_colours([f"k{i}" for i in range(11)])


def test_a_long_series_draws_its_latest_points_as_lines() -> None:
    n = charts.IMR_MAX_POINTS + 1000
    points = pl.DataFrame({
        "serial_number": ["<b>S</b>"] + [f"S{i}" for i in range(1, n)],
        "tested_at": [dt.datetime(2026, 1, 1, tzinfo=dt.UTC) + dt.timedelta(minutes=i)
                      for i in range(n)],
        "value": [float(i % 7) for i in range(n)], "mr": [None] + [1.0] * (n - 1),
        "rules": [[1] if i == n - 1 else [] for i in range(n)]},
        schema_overrides={"rules": pl.List(pl.Int64)})
    limits = {"mean": 3.0, "ucl": 9.0, "lcl": -3.0, "usl": 10.0, "lsl": None, "mr_bar": 1.0,
              "ucl_mr": 3.267}
    fig = charts.imr_chart(points, limits, "t", "V")
    values, flagged, mrs = fig.data
    assert fig.layout.title.text == f"t (the last 5,000 of {n:,} points)"
    assert len(values.y) == 5000 and values.x[0] == 1001 and values.x[-1] == n
    assert values.mode == mrs.mode == "lines"  # no SVG marker per point past 1,000
    assert list(flagged.x) == [n] and list(flagged.text) == ["1"]  # the break still marked
    small = charts.imr_chart(points.head(20), limits, "t", "V")
    assert small.data[0].mode == "lines+markers"
    assert small.data[0].text[0].startswith("&lt;b&gt;S&lt;/b&gt; · ")  # shown as stored


def test_results_outside_specification_are_marked_on_the_chart() -> None:
    values = [0.05, 0.04, 0.14, 0.06, -0.01, 0.07]
    points = pl.DataFrame({
        "serial_number": [f"S{i}" for i in range(len(values))],
        "tested_at": [dt.datetime(2026, 1, 1, tzinfo=dt.UTC) + dt.timedelta(hours=i)
                      for i in range(len(values))],
        "value": values, "mr": [None, *(abs(b - a) for a, b in itertools.pairwise(values))],
        "rules": [[] for _ in values]}, schema_overrides={"rules": pl.List(pl.Int64)})
    limits = {"mean": 0.06, "ucl": 0.2, "lcl": -0.08, "usl": 0.1, "lsl": 0.0, "mr_bar": 0.05,
              "ucl_mr": 0.16}
    fig = charts.imr_chart(points, limits, "t", "mAU")
    outside = [t for t in fig.data if t.name == "outside specification"]
    assert len(outside) == 1
    assert list(outside[0].x) == [3, 5] and list(outside[0].y) == [0.14, -0.01]
    inside = charts.imr_chart(points.filter(pl.col("value").is_between(0.0, 0.1)), limits, "t")
    assert not [t for t in inside.data if t.name == "outside specification"]
