"""Reports: the 17:00 wallboard and the daily report agree (same engine data, same definitions); week start;
hand-computed agent occupancy; gaps shown; self-contained HTML with SVG; CSV and JSON; bad input."""

from __future__ import annotations

import csv
import io
import itertools
import json
import re
from html.parser import HTMLParser
import tomllib
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest

from feeds.queue_log import QueueLogFeed
from wallboard.cli import main as cli_main
from wallboard.clock import ManualClock
from wallboard.events import AgentStateChanged, CallerAnswered, CallerJoined, FeedGap
from wallboard.history.calendar import CentreCalendar
from wallboard.reports.build import ReportError, ReportRequest, build_report
from wallboard.reports.render_csv import render_csv
from wallboard.config import TargetsConfig
from wallboard.reports.render_html import render_html, render_scorecard_html
from wallboard.reports.scorecard import FIGURES, scorecards

from .cdp import Chromium
from .test_rollup import DAY, SUPPORT_DAY, engine_with_day, t
from .test_transferred import raw_transfers

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "samples" / "sample_day.queue_log"
_ids = itertools.count()


class Page(HTMLParser):
    """The rendered page as a browser would read it: every element with its attributes, the text of each element
    (entities decoded) and the tables as rows of cell texts."""

    def __init__(self, html: str):
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, dict]] = []
        self.texts: dict[str, list[str]] = {}
        self.tables: list[list[list[str]]] = []
        self._open: list[tuple[str, list[str]]] = []
        self.feed(html)
        self.close()

    def handle_starttag(self, tag, attrs):
        self.elements.append((tag, dict(attrs)))
        if tag == "table":
            self.tables.append([])
        elif tag == "tr":
            self.tables[-1].append([])
        if tag not in ("meta", "rect", "line", "circle", "polyline"):  # the void and empty ones hold no text
            self._open.append((tag, []))

    def handle_startendtag(self, tag, attrs):
        self.elements.append((tag, dict(attrs)))

    def handle_endtag(self, tag):
        if tag in ("meta", "rect", "line", "circle", "polyline"):
            return
        while self._open:
            t, parts = self._open.pop()
            text = "".join(parts)
            if self._open:
                self._open[-1][1].append(text)
            self.texts.setdefault(t, []).append(text)
            if t in ("td", "th"):
                self.tables[-1][-1].append(text)
            if t == tag:
                break

    def handle_data(self, data):
        if self._open:
            self._open[-1][1].append(data)


def report_for(eng, redis_client, now: datetime, kind="day", ref=DAY, **kw):
    cal = CentreCalendar(eng.config.centre)
    req = ReportRequest(cal.period(kind, ref, kw.pop("to", None)), **kw)
    return build_report(redis_client, eng.config, req, keys=eng.keys, clock=ManualClock(now))


def close(a, b, tol=1e-6):
    if a is None or b is None:
        return a is b
    return abs(a - b) <= tol * max(1.0, abs(a), abs(b))


QUEUE_KEYS = (
    "entered",
    "offered",
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
    "service_level",
    "asa_s",
    "avg_wait_s",
    "abandon_rate",
    "aht_s",
)


def assert_agree(snap, rep) -> None:
    for name, q in snap.queues.items():
        r = rep["queues"][name]["total"]
        for k in QUEUE_KEYS:
            assert close(getattr(q, k), r[k]), (name, k, getattr(q, k), r[k])
        assert q.overflowed_by_reason == r["overflowed_by_reason"], name
    for k in QUEUE_KEYS:
        assert close(getattr(snap.total, k), rep["total"][k]), ("total", k)
    for aid, a in snap.agents.items():
        r = rep["agents"][aid]["total"] if aid in rep["agents"] else None
        if r is None:  # nobody there today: nothing on the wallboard either
            assert a.calls_handled == a.missed == 0 and a.talk_s == a.available_s == a.pause_s == 0, aid
            continue
        for k in ("calls_handled", "missed", "outbound_calls", "dial_attempts", "talk_s", "wrap_s", "available_s"):
            assert close(getattr(a, k), r[k]), (aid, k, getattr(a, k), r[k])
        assert close(a.pause_s, r["pause_s"]), (aid, a.pause_s, r["pause_s"])
        assert {k: v for k, v in a.pause_s_by_reason.items() if v} == r["pause_s_by_reason"], aid


async def test_the_1700_wallboard_and_the_daily_report_agree(make_engine, redis_client):
    """The sample day through the engine up to 17:00 local: the live snapshot's since-reset figures equal the
    report's day so far; then the rest of the day: the end-of-day snapshot equals the report's day totals."""
    data = tomllib.loads((ROOT / "config" / "wallboard.toml").read_text(encoding="utf-8"))
    data.pop("redis")
    eng = await make_engine(**data)
    cal = CentreCalendar(eng.config.centre)
    events = list(QueueLogFeed(SAMPLE, eng.config).read())
    day = cal.day_of(events[0].ts.timestamp())
    five_pm = datetime(day.year, day.month, day.day, 17, 0, tzinfo=cal.tz)
    before = [e for e in events if e.ts < five_pm]
    after = [e for e in events if e.ts >= five_pm]
    assert len(before) > 5000 and len(after) > 1000
    for k in range(0, len(before), 5000):
        await eng.apply(before[k : k + 5000])
    snap = await eng.build_snapshot(five_pm)
    rep = await report_for(eng, redis_client, five_pm, ref=day)
    assert snap.window.since == datetime.fromtimestamp(cal.day_start(day), timezone.utc)
    assert rep["total"]["offered"] > 1000
    assert_agree(snap, rep)

    await eng.apply(after)
    end = max(e.ts for e in events) + timedelta(seconds=1)
    snap = await eng.build_snapshot(end)
    rep = await report_for(eng, redis_client, end, ref=day)  # rolls up again from where 17:00 left off
    assert_agree(snap, rep)
    # the interval rows add up to the day
    for name, q in rep["queues"].items():
        assert sum(r["entered"] for r in q["rows"]) == q["total"]["entered"] == snap.queues[name].entered
        assert max(r["peak_waiting"] or 0 for r in q["rows"]) == q["total"]["peak_waiting"] > 0
    # the HTML report's columns are the catalog's: transfers per queue and per agent, as the raw file has them
    per_queue, per_agent, _ = raw_transfers()
    page = Page(render_html(rep))
    summary, *_, agents = page.tables
    col = summary[0].index("Transferred")
    label_of = {q["label"]: name for name, q in rep["queues"].items()}
    assert {label_of[r[0]]: int(r[col]) for r in summary[1:-1]} == dict(per_queue)
    assert summary[-1][0] == "All queues" and int(summary[-1][col]) == 69
    by_interface = eng.config.agent_by_interface()
    col = agents[0].index("Transferred")
    shown = {r[0].rsplit(" (", 1)[-1].rstrip(")"): int(r[col]) for r in agents[1:-1]}
    assert {a: n for a, n in shown.items() if n} == {by_interface[i]: n for i, n in per_agent.items()}


async def test_hand_computed_queue_and_agent_figures(make_engine, redis_client):
    eng = await engine_with_day(make_engine)
    rep = await report_for(eng, redis_client, t("11:00:00"))
    q = rep["queues"]["support"]["total"]
    assert {k: q[k] for k in ("entered", "answered", "abandoned", "short_abandoned", "overflowed")} == {
        k: SUPPORT_DAY.get(k, 0) for k in ("entered", "answered", "abandoned", "short_abandoned", "overflowed")
    }
    assert q["offered"] == 6 and q["overflowed_by_reason"] == {"timeout": 1} and q["peak_waiting"] == 2
    assert q["service_level"] == pytest.approx(1 / (3 + 2 - 1))  # excl_short_abandons
    assert q["asa_s"] == pytest.approx(100 / 3) and q["avg_wait_s"] == pytest.approx(175 / 6)
    assert q["abandon_rate"] == pytest.approx((2 - 1) / (6 - 1)) and q["aht_s"] == pytest.approx(710 / 3)
    rows = {r["label"]: r for r in rep["queues"]["support"]["rows"]}
    assert list(rows) == ["09:00", "09:15", "09:30"]  # trimmed to the intervals with data
    assert rows["09:15"]["aht_s"] == pytest.approx((360 + 20) / 2) and rows["09:15"]["service_level"] == 0
    assert rows["09:00"]["service_level"] == 1 and rows["09:30"]["overflowed_by_reason"] == {"timeout": 1}

    a = rep["agents"]["1001"]["total"]
    # occupancy = (talk + wrap-up) / (talk + wrap-up + available) = (540 + 50) / (540 + 50 + 3005)
    assert a["occupancy"] == pytest.approx(590 / 3595)
    assert (a["calls_handled"], a["missed"], a["outbound_calls"], a["dial_attempts"]) == (2, 1, 1, 2)
    assert (a["talk_s"], a["wrap_s"], a["available_s"], a["pause_s"]) == (540, 50, 3005, 1800)
    assert a["pause_s_by_reason"] == {"lunch": 1800}
    b = rep["agents"]["1002"]["total"]  # still available at 11:00: 7080 s available, 120 s talk
    assert b["occupancy"] == pytest.approx(120 / (120 + 7080))
    all_a = rep["agent_total"]
    assert all_a["occupancy"] == pytest.approx((590 + 120) / (590 + 120 + 3005 + 7080))


async def test_week_starts_on_the_configured_day(make_engine, redis_client):
    eng = await make_engine(centre={"timezone": "UTC", "week_start": "sunday"})
    evs = []
    for d, n in ((21, 1), (22, 2), (23, 4)):  # Sat, Sun, Mon
        for i in range(n):
            ts = datetime(2026, 11, d, 10, i, tzinfo=timezone.utc)
            evs += [
                CallerJoined(id=f"w{next(_ids)}", ts=ts, source="t", queue="q", call_id=f"w{d}-{i}"),
                CallerAnswered(
                    id=f"w{next(_ids)}",
                    ts=ts + timedelta(seconds=5),
                    source="t",
                    queue="q",
                    call_id=f"w{d}-{i}",
                    wait_s=5,
                ),
            ]
    await eng.apply(evs)
    now = datetime(2026, 11, 23, 12, 0, tzinfo=timezone.utc)
    sunday = date(2026, 11, 22)
    expect = {"sunday": (date(2026, 11, 22), 6), "monday": (date(2026, 11, 16), 3), "saturday": (date(2026, 11, 21), 7)}
    for start, (first, entered) in expect.items():
        centre = eng.config.centre.model_copy(update={"week_start": start})
        eng.config = eng.config.model_copy(update={"centre": centre})
        rep = await report_for(eng, redis_client, now, kind="week", ref=sunday)
        assert rep["period"]["first"] == first.isoformat() and rep["period"]["week_start"] == start
        shown = min(7, (now.date() - first).days + 1)  # day rows up to today
        assert rep["detail"] == "day" and len(rep["queues"]["q"]["rows"]) == shown
        assert rep["queues"]["q"]["rows"][0]["label"] == first.strftime("%a %d %b")
        assert rep["queues"]["q"]["total"]["entered"] == entered, start
    month = await report_for(eng, redis_client, now, kind="month", ref=sunday)
    assert month["period"]["key"] == "2026-11" and len(month["queues"]["q"]["rows"]) == 23  # up to today
    assert month["queues"]["q"]["total"]["entered"] == 7 and any("runs to 2026-11-30" in n for n in month["notes"])
    rng = await report_for(eng, redis_client, now, kind="range", ref=date(2026, 11, 22), to=date(2026, 11, 23))
    assert rng["queues"]["q"]["total"]["entered"] == 6


async def test_gaps_are_shown_not_hidden(make_engine, redis_client):
    eng = await engine_with_day(make_engine)
    gap = FeedGap(id="g1", ts=t("09:50:00"), source="ami", start=t("09:44:00"), length_s=1260, feed="ami")
    await eng.apply([gap])
    rep = await report_for(eng, redis_client, t("11:00:00"))
    gaps = [(g["start"], g["length_s"], g["feed"]) for g in rep["gaps"]]
    assert gaps == [("2026-11-23T09:44:00+00:00", 1260.0, "ami")]
    rows = {r["label"]: r for r in rep["queues"]["support"]["rows"]}
    # 09:44-10:05: one minute of 09:30, all of 09:45, five minutes of 10:00; the empty gap intervals are shown
    assert (rows["09:30"]["gap_s"], rows["09:45"]["gap_s"], rows["10:00"]["gap_s"]) == (60, 900, 300)
    assert not rows["09:45"]["has_data"] and rep["queues"]["support"]["total"]["gap_s"] == 1260
    html = render_html(rep)
    assert "Gaps in the data" in html and html.count('<tr class="gap">') >= 3 * 1  # support rows at least
    assert "Mon 23 Nov 09:44 – Mon 23 Nov 10:05 (21 min 00 s, feed ami)" in html
    assert "url(#gap" in html  # hatched band on the chart
    rows_csv = list(csv.DictReader(io.StringIO(render_csv(rep))))
    gaps = [r for r in rows_csv if r["section"] == "gap"]
    assert len(gaps) == 1 and gaps[0]["gap_s"] == "1260"
    assert [r["gap_s"] for r in rows_csv if r["section"] == "queue" and r["label"] == "09:45"] == ["900"]


async def test_html_is_self_contained_with_svg_and_csv_json_agree(make_engine, redis_client, tmp_path):
    eng = await engine_with_day(make_engine)
    rep = await report_for(eng, redis_client, t("11:00:00"))
    html = render_html(rep)
    assert html.startswith("<!DOCTYPE html>") and html.count("<svg") == 2  # the queue's chart and the agents'
    assert "<polyline" in html and "<rect" in html
    lowered = html.lower()
    for external in ("http://", "https://", "//", "<script", "<link", "@import", "src=", "<img"):
        assert external not in lowered, external
    assert not re.search(r"href=|url\((?!#)", lowered)
    assert "Occupancy" in html and "16.4%" in html  # 1001's occupancy, 590 / 3595
    # the JSON round-trips and the CSV holds the same totals
    again = json.loads(json.dumps(rep))
    assert again["queues"]["support"]["total"]["entered"] == 6
    rows = list(csv.DictReader(io.StringIO(render_csv(rep))))
    qt = next(r for r in rows if r["section"] == "queue_total" and r["name"] == "support")
    assert (qt["entered"], qt["service_level"], qt["overflowed:timeout"]) == ("6", "0.25", "1")
    at = next(r for r in rows if r["section"] == "agent_total" and r["name"] == "1001")
    got = (at["calls_handled"], at["agent.talk_s"], at["pause_s:lunch"], at["occupancy"])
    assert got == ("2", "540", "1800", "0.1641")


HOSTILE_QUEUE = "<script>alert(\"q\")</script> & 'Support' </h2>"
HOSTILE_AGENT = '"><svg onload=alert(1)> דנה לוי \u202eevil'  # quotes, markup, Hebrew and a right-to-left override
HOSTILE_REASON = "<img src=x onerror=alert(1)>"


async def test_hostile_queue_agent_and_reason_names_are_text(make_engine, redis_client):
    eng = await engine_with_day(
        make_engine,
        queues=[{"name": "support", "label": HOSTILE_QUEUE}],
        agents=[{"id": "1001", "name": HOSTILE_AGENT}],
    )
    paused = AgentStateChanged(id="hp", ts=t("10:30:00"), source="test", agent="1002", state="paused")
    await eng.apply([paused.model_copy(update={"reason": HOSTILE_REASON})])
    rep = await report_for(eng, redis_client, t("11:00:00"))
    html = render_html(rep)
    page = Page(html)
    # no element or attribute came from the names: only the report's own tags, no event handler
    tags = {tag for tag, _ in page.elements}
    assert tags <= set(
        "html head meta title style body div h1 h2 b span ul li table thead tbody tr th td p dl dt dd "
        "svg defs pattern rect line text polyline circle".split()
    ), tags
    assert not [a for _, attrs in page.elements for a in attrs if a.startswith("on")]
    assert "<script" not in html and "<img" not in html and "<svg onload" not in html
    # each name reads back as the same text where it shows
    assert f"{HOSTILE_QUEUE} (support)" in page.texts["h2"]
    summary, queue_table, agents = page.tables
    assert summary[1][0] == HOSTILE_QUEUE
    assert [r[0] for r in agents[1:]] == [f"{HOSTILE_AGENT} (1001)", "1002", "All agents"]
    assert f"{HOSTILE_AGENT} (1001)"[:24] in page.texts["text"]  # its bar in the agents' chart
    assert f"Paused: {HOSTILE_REASON}" in agents[0]
    assert page.texts["title"][0].startswith("Contact centre — daily report — ")


async def test_the_hebrew_report_is_right_to_left_with_the_catalogs_labels(make_engine, redis_client, tmp_path):
    """``--lang he``: dir=rtl, every column headed by the catalog's Hebrew label, the channels named in Hebrew,
    figures and times kept left to right, and hostile names still text."""
    from wallboard import catalog
    from wallboard.events import CallerAbandoned

    eng = await engine_with_day(
        make_engine,
        queues=[{"name": "support", "label": HOSTILE_QUEUE}, {"name": "web", "channel": "chat", "label": "Web help"}],
        agents=[{"id": "1001", "name": HOSTILE_AGENT}],
    )
    q = {"queue": "web", "channel": "chat", "source": "t"}
    await eng.apply(
        [
            CallerJoined(id="w1", ts=t("09:00:00"), call_id="w1", **q),
            CallerAnswered(id="w1a", ts=t("09:00:20"), call_id="w1", agent="1001", **q),
            CallerJoined(id="w2", ts=t("09:00:00"), call_id="w2", **q),
            CallerAbandoned(id="w2x", ts=t("09:00:05"), call_id="w2", **q),
        ]
    )
    rep = await report_for(eng, redis_client, t("11:00:00"))
    html = render_html(rep, "he")
    page = Page(html)
    assert page.elements[0] == ("html", {"lang": "he", "dir": "rtl"})
    summary, _support, _web, agents = page.tables
    qheads = [h for _, h, _ in catalog.html_columns("queue", "he")]
    aheads = [h for _, h, _ in catalog.html_columns("agent", "he")]
    assert summary[0] == ["תור", *qheads] and agents[0][: len(aheads) + 1] == ["נציג", *aheads]
    hand = {"service_level": "רמת שירות", "asa_s": "זמן מענה", "offered": "הוצעו", "abandoned": "ננטשו"}
    for name, label in hand.items():
        assert summary[0][1 + [n for n, _, _ in catalog.html_columns("queue")].index(name)] == label
    assert "תפוסה" in agents[0] and "עסוק בכתב" in agents[0] and "זמן טיפול" in agents[0]
    # a written queue's own table names its figures as on its channel: first response, handle time
    assert _web[0][8:12] == ["תגובה ראשונה", "המתנה ממוצעת", "נטישה", "זמן טיפול"] and _support[0][8] == "זמן מענה"
    assert Page(render_html(rep)).tables[2][0][8:12] == ["First response", "Avg wait", "Aband. rate", "Handle time"]
    assert all(re.search("[\u0590-\u05ff]", h) or h in ("NPS",) for h in qheads + aheads), qheads + aheads
    # the channels in Hebrew: the written queue's name and the per-channel totals
    assert [r[0] for r in summary[1:]] == [
        HOSTILE_QUEUE,
        "Web help (צ'אט)",
        "כל התורים",
        "כל תורי קולי",
        "כל תורי צ'אט",
    ]
    # figures and times left to right inside the right-to-left page: each figure cell isolated as ltr
    assert re.search(r'<td><bdi dir="ltr">[0-9]+</bdi></td>', html) and '<bdi dir="ltr">09:00</bdi>' in html
    assert not re.findall(r"</td><td>(?!<bdi dir=\"ltr\">)", html)  # every cell after a row's name
    # hostile names: text, never markup
    tags = {tag for tag, _ in page.elements}
    assert "script" not in tags and "img" not in tags and "<svg onload" not in html
    assert not [a for _, attrs in page.elements for a in attrs if a.startswith("on")]
    assert [r[0] for r in agents[1:]][:1] == [f"{HOSTILE_AGENT} (1001)"] and agents[-1][0] == "כל הנציגים"
    rows = list(csv.reader(io.StringIO(render_csv(rep, "he"))))
    assert ["channel_total", "chat", "כל תורי צ'אט"] in [r[:3] for r in rows]
    assert rows[0] == list(csv.reader(io.StringIO(render_csv(rep))))[0]  # the same columns in every language
    # units, day names and fixed words in Hebrew: support's ASA 100 / 3 s, short abandon 5 s, overflow "timeout"
    asa = [n for n, _, _ in catalog.html_columns("queue")].index("asa_s") + 1
    assert summary[1][asa] == "33 שנ׳" and summary[-1][0] == "כל תורי צ'אט"
    text = " ".join(page.texts["div"] + page.texts["h2"])
    assert "יום ב׳ 23.11.2026" in text and "נטישה קצרה ≤ 5 שנ׳" in text and "גלישה לפי סיבה: תם זמן ההמתנה 1" in text
    assert 'aria-label="שיחות ורמת שירות לפי רבע שעה"' in html and 'aria-label="זמן הנציגים"' in html
    assert_no_english(page, names=(HOSTILE_QUEUE, HOSTILE_AGENT, "Web help"))

    # a week (its day rows, a note, targets met or missed) and the scorecards, in Hebrew
    targets = TargetsConfig(queues={"support": {"service_level": 0.2, "answer_rate": 0.95}}, agents={"occupancy": 0.5})
    eng.config = eng.config.model_copy(update={"targets": targets})
    week = await report_for(eng, redis_client, t("11:00:00"), kind="week")
    wp = Page(render_html(week, "he"))
    assert "שבוע יום א׳ 22.11.2026 – שבת 28.11.2026" in wp.texts["b"]  # the week starts on Sunday
    assert "התקופה נמשכת עד 2026-11-28; הנתונים נכונים עד 2026-11-23T11:00+00:00." in wp.texts["div"]
    support_rows, targets_table = wp.tables[1], wp.tables[2]
    assert [r[0] for r in support_rows[1:]] == ["יום א׳ 22.11", "יום ב׳ 23.11", 'סה"כ']
    # SL 1 / 4 = 25% meets 20% on the day; 3 answered of 6 offered misses 95%: "0 of 1" days met
    assert targets_table[1:] == [
        ["שיעור מענה", "50.0%", "95.0%", "לא הושג", "95.0%", "0 מתוך 1"],
        ["רמת שירות", "25.0%", "20.0%", "הושג", "20.0%", "1 מתוך 1"],
    ]
    assert_no_english(wp, names=(HOSTILE_QUEUE, HOSTILE_AGENT, "Web help"))
    card = Page(render_scorecard_html(scorecards(week, eng.config), "he"))
    assert card.elements[0] == ("html", {"lang": "he", "dir": "rtl"})
    heads = {n: h for n, h, _ in catalog.html_columns("agent", "he")}
    assert card.tables[0][0] == ["", *(heads[k] for k in FIGURES)]
    assert [r[0] for r in card.tables[0][1:]] == ["שבוע יום א׳ 22.11.2026 – שבת 28.11.2026", "יום ב׳ 23.11"]
    # 1001's occupancy 590 / 3595 = 16.4% misses 50%
    assert card.tables[0][1][1 + FIGURES.index("occupancy")] == "16.4% / 50.0% לא הושג"
    assert_no_english(card, names=(HOSTILE_AGENT, '"Agent scorecards"'))  # docs/REPORTS.md's section, in English

    # every table fits the page in a browser 1,400 px wide; nothing scrolls sideways
    fits = """JSON.stringify([document.documentElement.scrollWidth <= innerWidth,
        ...[...document.querySelectorAll('table')].map(t => t.scrollWidth <= t.parentElement.clientWidth
            && t.parentElement.getBoundingClientRect().right <= document.querySelector('.page').getBoundingClientRect().right)])"""
    async with Chromium.launch() as browser:
        tab = await browser.new_page(1400, 900)
        for i, doc in enumerate(
            (html, render_html(week, "he"), render_scorecard_html(scorecards(week, eng.config), "he"))
        ):
            (tmp_path / f"{i}.html").write_text(doc, encoding="utf-8")
            await tab.goto((tmp_path / f"{i}.html").as_uri())
            shown = json.loads(await tab.eval(fits))
            assert len(shown) > 2 and all(shown), (i, shown)


# English a Hebrew page must not show (whole words; the data's own names are taken out first)
ENGLISH = (
    "Mon Tue Wed Thu Fri Sat Sun Nov Dec Jan week of s min h missed met Total Interval Day Summary Agents Agent "
    "Queue Target FCR answered abandoned overflowed talk wrap available Paused timeout key generated report "
    "scorecards team Calls service level time period runs figures data gap feed"
).split()


def assert_no_english(page: Page, names: tuple[str, ...]) -> None:
    """No English word of ``ENGLISH`` in the page's text, titles and labels (``names``: the data's, left out)."""
    shown = " ".join(
        [t for tag, ts in page.texts.items() if tag not in ("html", "head", "body", "style") for t in ts]
        + [a.get("aria-label", "") + " " + a.get("title", "") for _, a in page.elements]
    )
    for n in names:
        shown = shown.replace(n, " ")
    left = [m.group() for w in ENGLISH for m in [re.search(rf".{{0,30}}\b{w}\b.{{0,30}}", shown, re.IGNORECASE)] if m]
    assert not left, left


async def test_bad_input_gives_a_clear_message(make_engine, redis_client):
    eng = await engine_with_day(make_engine)
    now = t("11:00:00")
    with pytest.raises(ReportError, match=r"unknown queue 'nope'; known queues: support"):
        await report_for(eng, redis_client, now, queues=["nope"])
    with pytest.raises(ReportError, match=r"unknown agent '9999'"):
        await report_for(eng, redis_client, now, agents=["9999"])
    with pytest.raises(ReportError, match="the period is empty"):
        await report_for(eng, redis_client, now, kind="range", ref=DAY, to=DAY - timedelta(days=1))
    with pytest.raises(ReportError, match="has not started yet"):
        await report_for(eng, redis_client, now, ref=DAY + timedelta(days=1))
    with pytest.raises(ReportError, match="kept 400 days"):
        await report_for(eng, redis_client, now, ref=DAY - timedelta(days=500))
    empty = await report_for(eng, redis_client, now, ref=DAY - timedelta(days=3))
    assert "No data was recorded in this period." in empty["notes"]
    assert empty["queues"]["support"]["total"]["offered"] == 0
    only = await report_for(eng, redis_client, now, agents=["1002"])
    assert list(only["agents"]) == ["1002"]


def test_report_command_line(tmp_path, capsys):
    # no Redis needed to reject these
    assert cli_main(["report", "--period", "range", "--from", "2026-11-01"]) == 2
    assert "--period range needs --from and --to" in capsys.readouterr().err
    assert cli_main(["report", "--from", "2026-13-01"]) == 2
    assert "is not a date" in capsys.readouterr().err
