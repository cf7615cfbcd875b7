"""The metric catalog reaches every surface: each entry is walked through the snapshot model, the stored format,
the report (JSON, CSV and HTML), the TV (choices, labels in both languages, formats, alert phrases), the thresholds and
the desk. A metric added to the catalog and forgotten by a surface fails here, by name."""

from __future__ import annotations

import typing

import pytest

from wallboard import catalog, metrics
from wallboard.config import THRESHOLD_METRICS, BoardFigure, LayoutConfig, QueueConfig
from wallboard.history.codec import AGENT_FIELDS, QUEUE_FIELDS, pack, unpack
from wallboard import projection
from wallboard.reports.figures import agent_figures, queue_figures
from wallboard.reports import render_html as html_columns
from wallboard.reports.render_csv import AGENT_COLS, QUEUE_COLS
from wallboard.snapshot import AgentSnapshot, Counters, QueueSnapshot, Rolling, Total
from wallboard.thresholds import RATIO_METRICS
from wallboard.ui import view

# The stored format before the catalog: positions never move (rollups already on disk are read by position).
QUEUE_FIELDS_V1 = (
    "entered",
    "answered",
    "answered_within_sl",
    "abandoned",
    "short_abandoned",
    "abandoned_within_sl",
    "overflowed",
    "completed",
    "talk_s",
    "wrap_s",
    "wait_answered_s",
    "wait_all_s",
    "callbacks_done",
    "peak_waiting",
    "overflowed:timeout",
    "overflowed:empty",
    "overflowed:key",
    "overflowed:withdrawn",
    "overflowed:callback",
)
AGENT_FIELDS_V1 = (
    "calls_handled",
    "missed",
    "dial_attempts",
    "outbound_calls",
    "available_s",
    "ringing_s",
    "on_call_s",
    "wrap_up_s",
    "paused_s",
)

QUEUE = [pytest.param(m, id=m.name) for m in catalog.QUEUE]
AGENT = [pytest.param(m, id=m.name) for m in catalog.AGENT]


def test_names_are_unique_and_slots_append_only():
    for ms in (catalog.QUEUE, catalog.AGENT):
        names = [m.name for m in ms]
        assert len(names) == len(set(names))
        slots = [m.stored for m in ms if m.stored is not None]
        assert len(slots) == len(set(slots)) and sorted(slots) == list(range(len(slots)))
    assert QUEUE_FIELDS[: len(QUEUE_FIELDS_V1)] == QUEUE_FIELDS_V1
    assert AGENT_FIELDS[: len(AGENT_FIELDS_V1)] == AGENT_FIELDS_V1
    assert set(metrics.COUNTERS) <= set(QUEUE_FIELDS)


@pytest.mark.parametrize("m", QUEUE)
def test_queue_metric_on_every_surface(m: catalog.Metric):
    # snapshot: a window's counter or ratio in both windows and the total; a gauge on the queue (and total)
    if m.snapshot and m.windowed:
        for model in (Counters, Rolling, QueueSnapshot, Total):
            assert m.name in model.model_fields, (model.__name__, m.name)
    elif m.snapshot:
        assert m.name in QueueSnapshot.model_fields
        assert (m.name in Total.model_fields) == m.total
        assert m.name not in Rolling.model_fields
    else:
        assert m.name not in QueueSnapshot.model_fields
    # stored: the codec packs it by position and reads it back
    if m.stored is not None:
        parts = [f"{m.store}:{p}" for p in m.breakdown] or [m.store]
        for f in parts:
            assert f in QUEUE_FIELDS
            packed = pack(QUEUE_FIELDS, {f: 3})
            assert "=" not in packed and unpack(QUEUE_FIELDS, packed) == {f: 3}
    if m.kind == "counter" and m.stored is not None and not m.breakdown:
        assert m.store in metrics.COUNTERS
    # report: a figure of the JSON rows, and its CSV column(s)
    fig = queue_figures({f: 1 for f in QUEUE_FIELDS}, QueueConfig(name="q"))
    assert (m.name in fig) == m.report, m.name
    if m.csv is not None:
        cols = [f"{m.store}:{p}" for p in m.breakdown] or [m.name]
        assert set(cols) <= set(QUEUE_COLS)
    # the HTML report: a column of the summary and per-row tables, formatted as declared
    assert (m.name in {c[0] for c in html_columns.QUEUE_COLUMNS}) == (m.html is not None)
    if m.html is not None:
        assert m.report and m.csv is not None and m.html[1] in html_columns.FORMATS
        assert html_columns.FORMATS[m.html[1]](fig[m.name]) != ""
    # TV: a choice for a layout, labelled in every language, with a format; projected with its value
    choices = typing.get_args(BoardFigure)
    assert (m.name in choices) == (m.tv is not None)
    if m.tv is not None:
        for lang in catalog.LANGUAGES:
            assert projection.FIGURE_LABELS[lang][m.name] == m.labels[lang]
        assert projection.FIGURE_FORMAT[m.name] == m.fmt
        LayoutConfig(name="x", figures=[m.name])
        assert (m.name in projection.WINDOWED) == m.windowed
    # thresholds: may carry one (both directions valid), named on the TV ticker and in the desk's notices
    assert (m.name in THRESHOLD_METRICS) == (m.worse is not None)
    if m.worse is not None:
        QueueConfig(name="q", thresholds={m.name: {"warn": 1, "breach": 1, "direction": m.worse}})
        assert (m.name in RATIO_METRICS) == (m.kind == "ratio")
        for lang in catalog.LANGUAGES:
            assert "{v}" in projection.ALERT_PHRASES[lang][m.name]
        assert projection.FIGURE_FORMAT[m.name] == m.fmt
        assert view.METRIC_WORDS[m.name] == m.words
    else:
        with pytest.raises(ValueError):
            QueueConfig(name="q", thresholds={m.name: {"warn": 1}})
    # desk: a drill-down row, and the queue-table column its threshold colours
    assert ((m.name, m.desk, m.kind) in view.FIGURES) == bool(m.desk)
    if m.column:
        assert m.column in {c.key for c in view.QUEUE_COLUMNS}
    if m.column and m.worse is not None and m.name != "service_level":
        from wallboard.config import WallboardConfig

        assert view.metric_columns(m.name, "q", WallboardConfig(queues=[{"name": "q"}])) == (m.column,)
    if m.kind == "ratio" and m.desk:
        assert m.name in view.FORMULA_KEYS
        # its formula in words in both languages: every term has words (no field name shows)
        for lang in catalog.LANGUAGES:
            text = catalog.formula_words(m.name, lang)
            assert "_" not in text, text
        assert catalog.desk_label(m, "he") not in (m.desk, m.name) or m.name == "nps"


@pytest.mark.parametrize("m", AGENT)
def test_agent_metric_on_every_surface(m: catalog.Metric):
    assert (m.name in AgentSnapshot.model_fields) == m.snapshot
    if m.stored is not None:
        assert m.store in AGENT_FIELDS
        assert unpack(AGENT_FIELDS, pack(AGENT_FIELDS, {m.store: 2})) == {m.store: 2}
    fig = agent_figures({f: 1 for f in AGENT_FIELDS})
    assert (m.name in fig) == m.report
    assert (m.name in AGENT_COLS) == (m.csv is not None)
    assert (m.name in {c[0] for c in html_columns.AGENT_COLUMNS}) == (m.html is not None)
    if m.html is not None:
        assert m.report and m.csv is not None and m.html[1] in html_columns.FORMATS
    if m.column:
        assert m.column in dict(view.AGENT_COLUMNS)


def test_formulas_are_derived_from_the_terms():
    c = {
        "answered": 80,
        "answered_within_sl": 60,
        "abandoned": 10,
        "short_abandoned": 2,
        "abandoned_within_sl": 4,
        "overflowed": 10,
        "wait_answered_s": 800,
        "wait_all_s": 1000,
        "talk_s": 300,
        "wrap_s": 100,
        "completed": 4,
    }
    assert metrics.offered(c) == 100
    sl = metrics.service_level(c, "excl_short_abandons", True)
    assert (sl.value, sl.formula) == (
        60 / 98,
        "answered_within_sl / (answered + abandoned - short_abandoned + overflowed)",
    )
    assert metrics.service_level(c, "abandons_good", False).formula == (
        "(answered_within_sl + abandoned_within_sl) / (answered + abandoned)"
    )
    ab = metrics.abandon_rate(c)
    assert (ab.numerator, ab.denominator, ab.formula) == (
        8,
        98,
        "(abandoned - short_abandoned) / (offered - short_abandoned)",
    )
    assert metrics.aht_s(c).formula == "(talk_s + wrap_s) / completed" and metrics.aht_s(c).value == 100
    assert metrics.avg_wait_s(c).formula == "wait_all_s / offered"
    occ = metrics.occupancy({"on_call_s": 30, "wrap_up_s": 10, "available_s": 60})
    assert occ.value == pytest.approx(0.4) and occ.formula.startswith("(on_call_s + wrap_up_s) /")
    with pytest.raises(ValueError):
        metrics.service_level(c, "nope", False)
