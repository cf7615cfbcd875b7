"""The metric catalog: every counter, ratio and gauge declared once. Pure data, no I/O, no pydantic.

Each ``Metric`` says what a number is (kind, unit, how screens format it), for ratios how it is computed
(numerator and denominator as signed terms, so the formula a screen shows is derived, never written twice), its
labels per language, whether a threshold may read it and which way is bad, and where it shows. Every surface is
derived from here:

==========================  =====================================================================================
surface                      derived from
==========================  =====================================================================================
snapshot model fields        ``wallboard.snapshot`` builds its counter, ratio and gauge fields from ``fields()``
stored counters / codec      ``metrics.COUNTERS`` and ``history.codec.QUEUE_FIELDS``/``AGENT_FIELDS``: ``stored``
                             is the position in the packed format, append-only (``codec_fields``)
ratios and their formulas    ``metrics.ratio()`` evaluates ``num``/``den``; ``formula()`` writes the words
report columns               ``reports.figures`` (JSON), ``reports.render_csv`` (``csv`` is the column order) and
                             ``reports.render_html`` (``html``: heading and format, in the CSV's order)
TV figures                   ``config.BoardFigure`` (``tv``: order of the choices), ``projection`` labels,
                             formats and alert phrases (``labels``, ``fmt``, ``phrases``)
threshold metrics            ``config.THRESHOLD_METRICS`` (``worse``: which way is bad; ratios need min calls)
desk                         ``ui.view``: the drill-down's figure rows (``desk``), the queue-table column that shows
                             a metric (``column``), a metric in words (``words``), the formulas panel
==========================  =====================================================================================

Adding a counter: one ``Metric`` here (``stored`` = the next free slot), the engine's counting (a Lua script
and the record that feeds it), and the feed mappings that produce the fact. ``tests/test_catalog.py`` walks every
entry through every surface.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Literal

from .events import OVERFLOW_REASONS

Kind = Literal["counter", "ratio", "gauge"]
Scope = Literal["queue", "agent"]
Unit = Literal["calls", "seconds", "fraction", "callers", "agents", "responses"]
Fmt = Literal["count", "duration", "pct", "score"]
# how the HTML report writes a figure: 1,234 · 81.3% · 42 s · 3:05 (m:ss) · 7:30 (h:mm) · +25 (score: NPS) · 5.3 (rate)
ReportFmt = Literal["count", "pct", "s", "m:ss", "h:mm", "score", "rate"]
Direction = Literal["above", "below"]
Surface = Literal["snapshot", "total", "report", "csv", "html", "tv", "desk", "threshold", "stored"]
LANGUAGES = ("en", "he")


@dataclass(frozen=True)
class Metric:
    name: str  # the name in snapshots, reports, config and JSON
    kind: Kind  # counter: counted over a window; ratio: of counters; gauge: the value now
    unit: Unit
    fmt: Fmt  # how screens show it: count (integer), duration (m:ss), pct (whole percent), score (x100, signed: NPS)
    scope: Scope = "queue"
    # a ratio (or a derived counter): signed terms, "name" added and "-name" subtracted; names are stored
    # counters or derived ones (``offered``)
    num: tuple[str, ...] = ()
    den: tuple[str, ...] = ()
    stored: int | None = None  # position in the packed rollup format (never reorder or reuse; append)
    store_as: str | None = None  # its field in Redis and the codec when that differs from ``name``
    breakdown: tuple[str, ...] = ()  # a counter kept per part: stored as "<store>:<part>" (overflow reasons)
    peak: bool = False  # a stored gauge whose total over minutes is their maximum, not their sum
    snapshot: bool = True  # a field of the snapshot model (queue: each window; gauges: the queue, now)
    total: bool = True  # a field of the centre total as well (queue metrics)
    report: bool = True  # a figure of the report's JSON rows
    csv: int | None = None  # its column in the report CSV, in this order (None: not a column)
    html: tuple[str, ReportFmt] | None = None  # its HTML report column (heading, format), in the CSV's order
    labels: Mapping[str, str] = field(default_factory=dict)  # TV label per language
    tv: int | None = None  # a TV layout may show it: its place in the list of choices
    phrases: Mapping[str, str] = field(default_factory=dict)  # the TV ticker's words, "{v}" the value
    desk: str | None = None  # the desk drill-down's row label (None: not a row)
    column: str | None = None  # the desk queue table's column that shows it (its threshold colours it)
    words: str | None = None  # the metric in a sentence (desk notices)
    worse: Direction | None = None  # may carry a threshold: which way is bad (its natural direction); an agent
    # metric's says which way a scorecard target is missed
    per: float = 1.0  # a ratio's value is num / den x per (calls per logged-in hour: 3600)
    # what the metric is called on other channels (wallboard.channels): channel or "written" -> label per
    # language; the value is computed alike (a chat's answer is the first agent reply, so its ASA is the
    # first response time; an e-mail queue's longest wait is the age of its oldest unanswered e-mail)
    by_channel: Mapping[str, Mapping[str, str]] = field(default_factory=dict)

    @property
    def store(self) -> str:
        return self.store_as or self.name

    @property
    def windowed(self) -> bool:
        return self.kind != "gauge"

    @property
    def derived(self) -> bool:
        """A counter computed from others (``offered``), not stored."""
        return self.kind == "counter" and bool(self.num)


def _he(en: str, he: str) -> dict[str, str]:
    return {"en": en, "he": he}


# fmt: off
# Queue metrics, in the snapshot's order: the window's counters, then its ratios, then the gauges (now).
QUEUE: tuple[Metric, ...] = (
    Metric("entered", "counter", "calls", "count", stored=0, csv=0, desk="Entered", html=("Entered", "count")),
    Metric("offered", "counter", "calls", "count", num=("answered", "abandoned", "overflowed"), csv=1,
           html=("Offered", "count"), desk="Offered", column="offered", labels=_he("Offered", "הוצעו"), tv=9),
    Metric("answered", "counter", "calls", "count", stored=1, csv=2, desk="Answered", column="answered",
           html=("Answered", "count"),
           labels=_he("Answered", "נענו"), tv=10),
    Metric("answered_within_sl", "counter", "calls", "count", stored=2, csv=3, desk="Answered in SL"),
    Metric("abandoned", "counter", "calls", "count", stored=3, csv=4, desk="Abandoned", column="abandoned",
           html=("Abandoned", "count"),
           labels=_he("Abandoned", "ננטשו"), tv=11),
    Metric("short_abandoned", "counter", "calls", "count", stored=4, csv=5, desk="Short abandons",
           html=("Short ab.", "count")),
    Metric("abandoned_within_sl", "counter", "calls", "count", stored=5, csv=6),
    Metric("overflowed", "counter", "calls", "count", stored=6, csv=7, desk="Overflowed",
           html=("Overflowed", "count")),
    Metric("overflowed_by_reason", "counter", "calls", "count", stored=14, store_as="overflowed",
           breakdown=OVERFLOW_REASONS, csv=8),
    Metric("completed", "counter", "calls", "count", stored=7, csv=17),
    Metric("talk_s", "counter", "seconds", "duration", stored=8, csv=18),
    Metric("wrap_s", "counter", "seconds", "duration", stored=9, csv=19),
    Metric("wait_answered_s", "counter", "seconds", "duration", stored=10, csv=20),
    Metric("wait_all_s", "counter", "seconds", "duration", stored=11, csv=21),
    Metric("callbacks_done", "counter", "calls", "count", stored=12),
    # a queue call the agent passed on (blind or attended transfer), once per queue entry
    Metric("transferred", "counter", "calls", "count", stored=15, csv=23, desk="Transferred",
           html=("Transferred", "count"),
           labels=_he("Transferred", "הועברו"), tv=12),
    # survey answers (``survey_response``), counted when they arrive, with the contact's queue entry and agent,
    # once per (contact, question); surveyed: contacts with at least one answer (the desk shows these counts as
    # the numerators and denominators of csat, nps and survey_rate)
    Metric("surveyed", "counter", "calls", "count", stored=16, csv=24),
    Metric("csat_responses", "counter", "responses", "count", stored=17, csv=25, html=("CSAT n", "count")),
    Metric("csat_top", "counter", "responses", "count", stored=18, csv=26),
    Metric("nps_responses", "counter", "responses", "count", stored=19, csv=27, html=("NPS n", "count")),
    Metric("nps_promoters", "counter", "responses", "count", stored=20, csv=28),
    Metric("nps_detractors", "counter", "responses", "count", stored=21, csv=29),
    # ratios: service_level's terms depend on the queue's sl_formula (SL_FORMULAS below)
    Metric("service_level", "ratio", "fraction", "pct", csv=9, html=("SL", "pct"), desk="Service level", column="sl",
           labels=_he("Service level", "רמת שירות"), tv=2, words="service level", worse="below",
           phrases=_he("SL {v}", "רמת שירות {v}")),
    Metric("asa_s", "ratio", "seconds", "duration", num=("wait_answered_s",), den=("answered",), csv=12,
           html=("ASA", "s"), desk="ASA", column="asa", labels=_he("Avg answer", "זמן מענה"), tv=4,
           words="average answer time", worse="above", phrases=_he("avg answer {v}", "זמן מענה {v}"),
           by_channel={"written": _he("First response", "תגובה ראשונה")}),
    Metric("avg_wait_s", "ratio", "seconds", "duration", num=("wait_all_s",), den=("offered",), csv=13,
           html=("Avg wait", "s"), desk="Avg wait", column="avg_wait", labels=_he("Avg wait", "המתנה ממוצעת"), tv=5,
           words="average wait", worse="above", phrases=_he("avg wait {v}", "המתנה ממוצעת {v}")),
    Metric("abandon_rate", "ratio", "fraction", "pct", num=("abandoned", "-short_abandoned"),
           den=("offered", "-short_abandoned"), csv=14, html=("Aband. rate", "pct"), desk="Abandon rate",
           column="abandon_rate", labels=_he("Abandoned", "נטישה"), tv=6, words="abandon rate", worse="above",
           phrases=_he("abandoned {v}", "נטישה {v}")),
    Metric("aht_s", "ratio", "seconds", "duration", num=("talk_s", "wrap_s"), den=("completed",), csv=15,
           html=("AHT", "m:ss"), desk="AHT", words="handling time", worse="above",
           phrases=_he("handle time {v}", "זמן טיפול {v}"), by_channel={"written": _he("Handle time", "זמן טיפול")}),
    Metric("answer_rate", "ratio", "fraction", "pct", num=("answered",), den=("offered",), csv=33,
           html=("Answer rate", "pct"), desk="Answer rate", labels=_he("Answered", "שיעור מענה"), tv=16,
           words="answer rate", worse="below", phrases=_he("answered {v}", "מענה {v}")),
    Metric("csat", "ratio", "fraction", "pct", num=("csat_top",), den=("csat_responses",), csv=30, desk="CSAT",
           html=("CSAT", "pct"), labels=_he("CSAT", "שביעות רצון"), tv=13),
    Metric("nps", "ratio", "fraction", "score", num=("nps_promoters", "-nps_detractors"), den=("nps_responses",),
           csv=31, html=("NPS", "score"), desk="NPS", labels=_he("NPS", "NPS"), tv=14),
    Metric("survey_rate", "ratio", "fraction", "pct", num=("surveyed",), den=("answered",), csv=32,
           html=("Surveyed", "pct"), desk="Survey rate", labels=_he("Surveyed", "נסקרו"), tv=15),
    # gauges: the value now
    Metric("waiting", "gauge", "callers", "count", report=False, desk="Waiting now", column="waiting",
           labels=_he("Waiting", "ממתינים"), tv=0, words="callers waiting", worse="above",
           phrases=_he("{v} waiting", "{v} ממתינים"), by_channel={"email": _he("Backlog", "צבר")}),
    Metric("longest_wait_s", "gauge", "seconds", "duration", report=False, desk="Longest wait now",
           column="longest", labels=_he("Longest wait", "המתנה ארוכה"), tv=1, words="longest wait", worse="above",
           phrases=_he("longest wait {v}", "המתנה ארוכה {v}"),
           by_channel={"email": _he("Backlog age", "גיל הצבר"), "written": _he("Oldest waiting", "הוותיק בתור")}),
    Metric("ewt_s", "gauge", "seconds", "duration", total=False, report=False, desk="EWT now", column="ewt",
           labels=_he("Expected wait", "המתנה צפויה"), tv=7, words="expected wait", worse="above",
           phrases=_he("expected wait {v}", "המתנה צפויה {v}")),
    Metric("callbacks_pending", "gauge", "calls", "count", report=False, desk="Callbacks now",
           labels=_he("Callbacks", "שיחות חוזרות"), tv=8, words="callbacks waiting", worse="above",
           phrases=_he("{v} callbacks", "{v} שיחות חוזרות")),
    Metric("oldest_callback_s", "gauge", "seconds", "duration", total=False, report=False,
           words="oldest callback", worse="above",
           phrases=_he("oldest callback {v}", "שיחה חוזרת ותיקה {v}")),
    # the queue's available agents: kept in the snapshot's agent_counts, not a field of its own
    Metric("agents_available", "gauge", "agents", "count", snapshot=False, total=False, report=False,
           desk="Agents available", column="avail", labels=_he("Agents free", "נציגים פנויים"), tv=3,
           words="agents free", worse="below", phrases=_he("{v} agents free", "{v} נציגים פנויים"),
           by_channel={"written": _he("Agents with room", "נציגים עם מקום")}),
    # the queue's agents talking or in wrap-up over those and the available, now (``channels.occupancy_now``; a
    # report's is the queue's agents' occupancy over the span, ``reports.build``): kept in agent_counts too
    Metric("occupancy", "gauge", "fraction", "pct", snapshot=False, total=False, report=False, csv=34,
           desk="Occupancy", labels=_he("Occupancy", "תפוסה"), tv=17, words="occupancy", worse="below",
           phrases=_he("occupancy {v}", "תפוסה {v}")),
    # the most callers waiting at once in a minute (reports; a longer span's is the largest of its minutes)
    Metric("peak_waiting", "gauge", "callers", "count", stored=13, peak=True, snapshot=False, csv=22,
           html=("Peak waiting", "count")),
)

# Agent metrics, in the snapshot's order. Seconds per state are stored under the state's name.
AGENT: tuple[Metric, ...] = (
    # every contact the agent answered, calls and written conversations alike ("Handled"); each kind apart below
    Metric("calls_handled", "counter", "calls", "count", scope="agent", stored=0, csv=0, column="calls",
           html=("Handled", "count"), worse="below"),
    Metric("missed", "counter", "calls", "count", scope="agent", stored=1, csv=5, column="missed",
           html=("Missed", "count"), worse="above"),
    Metric("missed_in_row", "gauge", "calls", "count", scope="agent", report=False),
    Metric("outbound_calls", "counter", "calls", "count", scope="agent", stored=3, csv=6,
           html=("Outbound", "count"), worse="below"),
    Metric("dial_attempts", "counter", "calls", "count", scope="agent", stored=2, csv=7,
           html=("Dial attempts", "count"), worse="below"),
    Metric("transferred", "counter", "calls", "count", scope="agent", stored=9, csv=9,
           html=("Transferred", "count")),
    Metric("talk_s", "counter", "seconds", "duration", scope="agent", stored=6, store_as="on_call_s", csv=1,
           html=("Talk", "h:mm")),
    Metric("wrap_s", "counter", "seconds", "duration", scope="agent", stored=7, store_as="wrap_up_s", csv=2,
           html=("Wrap-up", "h:mm")),
    Metric("available_s", "counter", "seconds", "duration", scope="agent", stored=4, csv=3,
           html=("Available", "h:mm")),
    Metric("ringing_s", "counter", "seconds", "duration", scope="agent", stored=5, snapshot=False),
    Metric("pause_s", "counter", "seconds", "duration", scope="agent", stored=8, store_as="paused_s", csv=8,
           html=("Paused", "h:mm")),
    # written work: seconds with one or more conversations open, overlaps counted once (added when the last
    # open one closes; kept as a span too, so the rollup splits it at interval boundaries as state time)
    Metric("conversation_s", "counter", "seconds", "duration", scope="agent", stored=16, csv=23,
           html=("Written busy", "h:mm")),
    # the handled contacts of a written channel (the handled event's queue is not voice); older rollups lack it
    # and read 0, as they counted then. Voice calls handled are the rest.
    Metric("conversations_handled", "counter", "calls", "count", scope="agent", stored=17, csv=24,
           html=("Written", "count"), worse="below"),
    Metric("voice_handled", "counter", "calls", "count", scope="agent", snapshot=False, csv=25,
           num=("calls_handled", "-conversations_handled"), html=("Voice calls", "count"), worse="below"),
    Metric("occupancy", "ratio", "fraction", "pct", scope="agent", snapshot=False, csv=4, html=("Occupancy", "pct"),
           num=("on_call_s", "wrap_up_s"), den=("on_call_s", "wrap_up_s", "available_s"), worse="below"),
    # scorecard figures: logged in = every state but logged out; a queue call offered to the agent either
    # answered or missed; handle time over voice queue calls and outbound calls alike (talk is the on_call state),
    # written work's over its conversations (busy time, overlaps once)
    Metric("logged_in_s", "counter", "seconds", "duration", scope="agent", snapshot=False, csv=19,
           num=("on_call_s", "wrap_up_s", "available_s", "ringing_s", "paused_s"), html=("Logged in", "h:mm")),
    Metric("calls_per_hour", "ratio", "fraction", "count", scope="agent", snapshot=False, csv=20, per=3600.0,
           num=("calls_handled",), den=("logged_in_s",), html=("Handled/h", "rate"), worse="below"),
    Metric("answer_rate", "ratio", "fraction", "pct", scope="agent", snapshot=False, csv=21,
           num=("calls_handled",), den=("calls_handled", "missed"), html=("Answer rate", "pct"), worse="below"),
    Metric("aht_s", "ratio", "seconds", "duration", scope="agent", snapshot=False, csv=22,
           num=("on_call_s", "wrap_up_s"), den=("voice_handled", "outbound_calls"), html=("AHT", "m:ss"),
           worse="above"),
    Metric("written_handle_s", "ratio", "seconds", "duration", scope="agent", snapshot=False, csv=26,
           num=("conversation_s",), den=("conversations_handled",), html=("Written HT", "m:ss"), worse="above"),
    Metric("surveyed", "counter", "calls", "count", scope="agent", stored=10, csv=10),
    Metric("csat_responses", "counter", "responses", "count", scope="agent", stored=11, csv=11,
           html=("CSAT n", "count")),
    Metric("csat_top", "counter", "responses", "count", scope="agent", stored=12, csv=12),
    Metric("nps_responses", "counter", "responses", "count", scope="agent", stored=13, csv=13,
           html=("NPS n", "count")),
    Metric("nps_promoters", "counter", "responses", "count", scope="agent", stored=14, csv=14),
    Metric("nps_detractors", "counter", "responses", "count", scope="agent", stored=15, csv=15),
    Metric("csat", "ratio", "fraction", "pct", scope="agent", snapshot=False, csv=16, html=("CSAT", "pct"),
           num=("csat_top",), den=("csat_responses",), worse="below"),
    Metric("nps", "ratio", "fraction", "score", scope="agent", snapshot=False, csv=17, html=("NPS", "score"),
           num=("nps_promoters", "-nps_detractors"), den=("nps_responses",), worse="below"),
    Metric("survey_rate", "ratio", "fraction", "pct", scope="agent", snapshot=False, csv=18,
           html=("Surveyed", "pct"), num=("surveyed",), den=("calls_handled",)),
)
# fmt: on

# service_level's terms by the queue's sl_formula; with count_overflow, "overflowed" joins the denominator
SL_FORMULAS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "answered": (("answered_within_sl",), ("answered",)),
    "excl_short_abandons": (("answered_within_sl",), ("answered", "abandoned", "-short_abandoned")),
    "all_offered": (("answered_within_sl",), ("answered", "abandoned")),
    "abandons_good": (("answered_within_sl", "abandoned_within_sl"), ("answered", "abandoned")),
}

ALL: tuple[Metric, ...] = QUEUE + AGENT
_BY: dict[tuple[str, str], Metric] = {(m.scope, m.name): m for m in ALL}


def label(m: Metric, language: str = "en", channel: str = "voice") -> str:
    """The metric's label on a queue of ``channel``: its own for that channel, else for written channels,
    else its TV label, else its desk label, else its name."""
    alt = m.by_channel.get(channel) or (m.by_channel.get("written") if channel != "voice" else None)
    if alt:
        return alt.get(language) or alt["en"]
    return m.labels.get(language) or m.desk or m.name


def get(name: str, scope: Scope = "queue") -> Metric:
    return _BY[(scope, name)]


def queue(**where) -> tuple[Metric, ...]:
    """Queue metrics matching every ``attribute=value`` given (in the catalog's order)."""
    return _matching(QUEUE, where)


def agent(**where) -> tuple[Metric, ...]:
    return _matching(AGENT, where)


_MATCHING: dict[tuple, tuple[Metric, ...]] = {}  # the catalog is constant: a snapshot asks the same a lot


def _matching(ms: tuple[Metric, ...], where: dict) -> tuple[Metric, ...]:
    key = (id(ms), *sorted(where.items()))
    try:
        return _MATCHING[key]
    except KeyError:
        pass
    except TypeError:  # an unhashable value: not kept
        return tuple(m for m in ms if all(getattr(m, k) == v for k, v in where.items()))
    out = _MATCHING[key] = tuple(m for m in ms if all(getattr(m, k) == v for k, v in where.items()))
    return out


# --- derived lists ----------------------------------------------------------------------------------------


def stored_counters(scope: Scope = "queue") -> tuple[str, ...]:
    """The counters the engine keeps per window (their stored names), in stored order (no breakdowns, no peaks)."""
    ms = [
        m
        for m in (QUEUE if scope == "queue" else AGENT)
        if m.stored is not None and m.kind == "counter" and not m.breakdown
    ]
    return tuple(m.store for m in sorted(ms, key=lambda m: m.stored or 0))


def codec_fields(scope: Scope) -> tuple[str, ...]:
    """The packed format's positional fields: every stored metric by its ``stored`` slot, a breakdown as its
    parts. Part of the stored format: append-only."""
    out: list[str] = []
    for m in sorted(
        (m for m in (QUEUE if scope == "queue" else AGENT) if m.stored is not None), key=lambda m: m.stored or 0
    ):
        out.extend(f"{m.store}:{p}" for p in m.breakdown) if m.breakdown else out.append(m.store)
    return tuple(out)


def peak_fields() -> frozenset[str]:
    return frozenset(m.store for m in ALL if m.peak)


def threshold_metrics() -> tuple[str, ...]:
    return tuple(m.name for m in QUEUE if m.worse is not None)


def ratio_names(scope: Scope = "queue") -> tuple[str, ...]:
    return tuple(m.name for m in (QUEUE if scope == "queue" else AGENT) if m.kind == "ratio")


def tv_figures() -> tuple[str, ...]:
    """What a TV layout may show, in the order the choices are listed."""
    return tuple(m.name for m in sorted((m for m in QUEUE if m.tv is not None), key=lambda m: m.tv or 0))


def tv_labels(language: str) -> dict[str, str]:
    return {m.name: m.labels[language] for m in QUEUE if m.tv is not None}


# The short form of each TV label (its own or a channel's), for a tile too narrow for the whole one: the one
# table of abbreviations the screens use (``wallboard.ui.board`` tries the whole label first).
TV_SHORT: dict[str, dict[str, str]] = {
    "en": {
        "Service level": "SL",
        "Longest wait": "Longest",
        "Agents free": "Free",
        "Agents with room": "Room",
        "Expected wait": "EWT",
        "Avg answer": "ASA",
        "First response": "1st reply",
        "Oldest waiting": "Oldest",
        "Backlog age": "Age",
        "Callbacks": "Callbk",
        "Transferred": "Xfer",
        "Abandoned": "Aband.",
        "Answered": "Ans.",
        "Offered": "Off.",
        "Surveyed": "Surv.",
        # the agents row (``projection.AGENT_LABELS``)
        "on call": "call",
        "wrap-up": "wrap",
        "logged in": "in",
        "with room": "room",
    },
    "he": {  # a short form keeps the meaning: the first word abbreviated ("ר. שירות"), never dropped
        "רמת שירות": "ר. שירות",
        "המתנה ארוכה": "המ. ארוכה",
        "נציגים פנויים": "נ. פנויים",
        "נציגים עם מקום": "נ. עם מקום",
        "המתנה צפויה": "המ. צפויה",
        "זמן מענה": "ז. מענה",
        "המתנה ממוצעת": "המ. ממוצעת",
        "תגובה ראשונה": "ת. ראשונה",
        "הוותיק בתור": "ותיק בתור",
        "גיל הצבר": "גיל צבר",
        "שיחות חוזרות": "ש. חוזרות",
        "שיעור מענה": "ש. מענה",
        "שביעות רצון": "CSAT",
        "בהפסקה": "הפסקה",
    },
}


def tv_short(label: str, language: str) -> str:
    """``label``'s short form on a TV (itself when it has none)."""
    return TV_SHORT.get(language, {}).get(label, label)


def alert_phrases(language: str) -> dict[str, str]:
    return {m.name: m.phrases[language] for m in QUEUE if m.phrases}


def formats() -> dict[str, Fmt]:
    """How the TV formats each figure it may show or name (its choices and the threshold metrics)."""
    return {m.name: m.fmt for m in QUEUE if m.tv is not None or m.worse is not None}


def csv_columns(scope: Scope) -> tuple[str, ...]:
    """The report CSV's columns of one side, in order: a breakdown as its parts, SL with its numerator and
    denominator."""
    out: list[str] = []
    for m in sorted((m for m in (QUEUE if scope == "queue" else AGENT) if m.csv is not None), key=lambda m: m.csv or 0):
        if m.breakdown:
            out.extend(f"{m.store}:{p}" for p in m.breakdown)
        elif m.name == "service_level":
            out.extend(("service_level", "sl_numerator", "sl_denominator"))
        else:
            out.append(m.name)
    return tuple(out)


# The HTML report's Hebrew headings of the columns whose TV label is not one (agent columns, report-only
# counts); a queue column with a TV label uses that (``labels["he"]``).
REPORT_HE: dict[tuple[Scope, str], str] = {
    ("queue", "entered"): "נכנסו",
    ("queue", "short_abandoned"): "נטישות קצרות",
    ("queue", "overflowed"): "גלשו",
    ("queue", "csat_responses"): "תשובות CSAT",
    ("queue", "nps_responses"): "תשובות NPS",
    ("queue", "aht_s"): "זמן טיפול",
    ("queue", "peak_waiting"): "שיא ממתינים",
    ("agent", "calls_handled"): "טופלו",
    ("agent", "conversations_handled"): "שיחות כתובות",
    ("agent", "voice_handled"): "שיחות קוליות",
    ("agent", "written_handle_s"): "זמן טיפול בכתב",
    ("agent", "missed"): "לא נענו",
    ("agent", "outbound_calls"): "יוצאות",
    ("agent", "dial_attempts"): "חיוגים",
    ("agent", "transferred"): "הועברו",
    ("agent", "talk_s"): "שיחה",
    ("agent", "wrap_s"): "סיכום",
    ("agent", "available_s"): "פנוי",
    ("agent", "pause_s"): "הפסקה",
    ("agent", "conversation_s"): "עסוק בכתב",
    ("agent", "occupancy"): "תפוסה",
    ("agent", "logged_in_s"): "מחובר",
    ("agent", "calls_per_hour"): "טופלו לשעה",
    ("agent", "answer_rate"): "שיעור מענה",
    ("agent", "aht_s"): "זמן טיפול",
    ("agent", "csat_responses"): "תשובות CSAT",
    ("agent", "nps_responses"): "תשובות NPS",
    ("agent", "csat"): "שביעות רצון",
    ("agent", "nps"): "NPS",
    ("agent", "survey_rate"): "נסקרו",
}


def html_heading(m: Metric, language: str = "en", channel: str = "voice") -> str:
    """A report column's heading: the English one of ``Metric.html``; in Hebrew ``REPORT_HE``'s, else the
    metric's TV label; on a queue of a written channel its name there (``by_channel``: first response, handle
    time), where it has one."""
    alt = m.by_channel.get(channel) or (m.by_channel.get("written") if channel != "voice" else None)
    if alt and m.kind == "ratio":  # a gauge's other name (backlog) is not a report column
        return alt.get(language) or alt["en"]
    if language == "en" or not m.html:
        return m.html[0] if m.html else m.name
    return REPORT_HE.get((m.scope, m.name)) or m.labels[language]


def html_columns(scope: Scope, language: str = "en", channel: str = "voice") -> tuple[tuple[str, str, ReportFmt], ...]:
    """The HTML report's table columns of one side: (figure, heading, format), in the CSV's order; ``channel``:
    a queue's own table, its figures named as on that channel."""
    ms = sorted((m for m in (QUEUE if scope == "queue" else AGENT) if m.html), key=lambda m: m.csv or 0)
    return tuple((m.name, html_heading(m, language, channel), m.html[1]) for m in ms if m.html)


# The desk drill-down's Hebrew row labels (``Metric.desk`` is the English one).
DESK_HE: dict[str, str] = {
    "entered": "נכנסו",
    "offered": "הוצעו",
    "answered": "נענו",
    "answered_within_sl": "נענו בזמן היעד",
    "abandoned": "ננטשו",
    "short_abandoned": "נטישות קצרות",
    "overflowed": "גלשו",
    "transferred": "הועברו",
    "service_level": "רמת שירות",
    "asa_s": "זמן מענה ממוצע",
    "avg_wait_s": "המתנה ממוצעת",
    "abandon_rate": "שיעור נטישה",
    "aht_s": "זמן טיפול ממוצע",
    "answer_rate": "שיעור מענה",
    "csat": "שביעות רצון",
    "nps": "NPS",
    "survey_rate": "שיעור סקרים",
    "waiting": "ממתינים עכשיו",
    "longest_wait_s": "המתנה ארוכה עכשיו",
    "ewt_s": "המתנה צפויה עכשיו",
    "callbacks_pending": "שיחות חוזרות עכשיו",
    "agents_available": "נציגים פנויים",
}

# A counter as a term of a formula, in words per language (the desk's formulas: "answered within SL / ...").
TERM_WORDS: dict[str, dict[str, str]] = {
    "offered": _he("offered", "הוצעו"),
    "answered": _he("answered", "נענו"),
    "answered_within_sl": _he("answered within SL", "נענו בזמן היעד"),
    "abandoned": _he("abandoned", "ננטשו"),
    "short_abandoned": _he("short abandons", "נטישות קצרות"),
    "abandoned_within_sl": _he("abandoned within SL", "ננטשו בזמן היעד"),
    "overflowed": _he("overflowed", "גלשו"),
    "completed": _he("completed", "הסתיימו"),
    "talk_s": _he("talk time", "זמן שיחה"),
    "wrap_s": _he("wrap-up time", "זמן סיכום"),
    "wait_answered_s": _he("total wait of the answered", "סך המתנת הנענים"),
    "wait_all_s": _he("total wait of all", "סך המתנת כולם"),
    "surveyed": _he("surveyed", "נסקרו"),
    "csat_top": _he("satisfied answers", "תשובות מרוצים"),
    "csat_responses": _he("CSAT answers", "תשובות CSAT"),
    "nps_promoters": _he("promoters", "ממליצים"),
    "nps_detractors": _he("detractors", "מבקרים"),
    "nps_responses": _he("NPS answers", "תשובות NPS"),
}

# A queue's sl_formula (SL_FORMULAS) in words.
SL_FORMULA_WORDS: dict[str, dict[str, str]] = {
    "answered": _he("of answered calls only", "מתוך הנענים בלבד"),
    "excl_short_abandons": _he("short abandons excluded", "בלי נטישות קצרות"),
    "all_offered": _he("of answered and abandoned", "מתוך הנענים והנוטשים"),
    "abandons_good": _he("an abandon within SL counts as met", "נטישה בזמן היעד נחשבת עמידה"),
}


def desk_label(m: Metric, language: str = "en", channel: str = "voice") -> str:
    """The drill-down's label: on a written channel its name there (``by_channel``), else ``Metric.desk`` (in
    Hebrew ``DESK_HE``'s)."""
    alt = m.by_channel.get(channel) or (m.by_channel.get("written") if channel != "voice" else None)
    if alt:
        return alt.get(language) or alt["en"]
    if language != "en":
        return DESK_HE.get(m.name) or m.labels.get(language) or m.desk or m.name
    return m.desk or m.name


def term_words(term: str, language: str = "en") -> str:
    return TERM_WORDS.get(term, {}).get(language) or term


def _side_words(ts: tuple[str, ...], language: str) -> str:
    text = term_words(ts[0], language)
    for t in ts[1:]:
        text += f" - {term_words(t[1:], language)}" if t.startswith("-") else f" + {term_words(t, language)}"
    return f"({text})" if len(ts) > 1 else text


def formula_words(
    name: str, language: str = "en", sl_formula: str = "excl_short_abandons", count_overflow: bool = False
) -> str:
    """A queue ratio's formula in a supervisor's words: ``answered within SL / (answered + abandoned - short
    abandons)`` (the snapshot's ``Explain.formula`` names the counters' fields)."""
    m = get(name)
    num, den = terms(m, sl_formula, count_overflow)
    return f"{_side_words(num, language)} / {_side_words(den, language)}" + (f" x {m.per:g}" if m.per != 1 else "")


def desk_figures() -> tuple[tuple[str, str, str], ...]:
    """The drill-down's rows: (name, label, kind), counters then ratios then gauges, each in catalog order."""
    rank = {"counter": 0, "ratio": 1, "gauge": 2}
    ms = sorted((m for m in QUEUE if m.desk), key=lambda m: rank[m.kind])  # stable: catalog order within a kind
    return tuple((m.name, m.desk or m.name, m.kind) for m in ms)


def desk_columns() -> dict[str, str]:
    """metric -> the desk queue table's column showing it (service_level has a rolling twin, see ui.view)."""
    return {m.name: m.column for m in QUEUE if m.column and m.worse is not None}


# --- ratios -----------------------------------------------------------------------------------------------


def terms(m: Metric, sl_formula: str = "excl_short_abandons", count_overflow: bool = False):
    """(numerator terms, denominator terms) of a ratio."""
    if m.name != "service_level":
        return m.num, m.den
    if sl_formula not in SL_FORMULAS:
        raise ValueError(f"unknown sl_formula {sl_formula!r}")
    num, den = SL_FORMULAS[sl_formula]
    return num, den + (("overflowed",) if count_overflow else ())


def value_of(c: Mapping[str, float], name: str, scope: Scope = "queue") -> float:
    """A counter's value from stored counters: stored ones as they are, derived ones from their terms."""
    m = _BY.get((scope, name))
    if m is not None and m.derived:
        return sum_terms(c, m.num, scope)
    return c.get(name, 0)


def sum_terms(c: Mapping[str, float], ts: Iterable[str], scope: Scope = "queue") -> float:
    if isinstance(ts, tuple):  # the catalog's own terms: worked out once (a snapshot sums them thousands of times)
        key = (ts, scope)
        plan = _PLANS.get(key)
        if plan is None:
            plan = _PLANS[key] = _plan(ts, scope)
        return _summed(c, plan)
    total: float = 0
    for t in ts:
        if t.startswith("-"):
            total -= value_of(c, t[1:], scope)
        else:
            total += value_of(c, t, scope)
    return total


# terms -> ((subtracted, stored name, the derived counter's own plan or None), ...): the same sums in the same
# order as ``value_of`` / ``sum_terms`` take them, so the same floating-point result
_PLANS: dict[tuple, tuple] = {}


def _plan(ts: Iterable[str], scope: Scope) -> tuple:
    out = []
    for t in ts:
        neg = t.startswith("-")
        name = t[1:] if neg else t
        m = _BY.get((scope, name))
        out.append((neg, name, _plan(m.num, scope) if m is not None and m.derived else None))
    return tuple(out)


def _summed(c: Mapping[str, float], plan: tuple) -> float:
    total: float = 0
    for neg, name, sub in plan:
        v = _summed(c, sub) if sub is not None else c.get(name, 0)
        if neg:
            total -= v
        else:
            total += v
    return total


def _side(ts: tuple[str, ...]) -> str:
    text = ts[0]
    for t in ts[1:]:
        text += f" - {t[1:]}" if t.startswith("-") else f" + {t}"
    return f"({text})" if len(ts) > 1 else text


def formula(num: tuple[str, ...], den: tuple[str, ...], per: float = 1.0) -> str:
    """The formula in words, as every screen shows it: ``(abandoned - short_abandoned) / (offered - ...)``."""
    return f"{_side(num)} / {_side(den)}" + (f" x {per:g}" if per != 1 else "")


def snapshot_names(scope: Scope = "queue", kinds: Iterable[str] = ("counter", "ratio", "gauge")) -> Iterator[str]:
    for m in QUEUE if scope == "queue" else AGENT:
        if m.snapshot and m.kind in kinds:
            yield m.name
