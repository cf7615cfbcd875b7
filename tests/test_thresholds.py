"""Thresholds, hysteresis, business hours, alerts, flashing and per-agent alerts, on explicit times."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from wallboard.config import THRESHOLD_METRICS, AgentAlerts, DisplayConfig, QueueConfig
from wallboard.hours import is_open
from wallboard.snapshot import AgentSnapshot, QueueSnapshot, Rolling
from wallboard.thresholds import (
    LevelState,
    NoAlertError,
    ack,
    agent_alerts,
    evaluate_queue,
    flash_on,
    flash_phase,
    next_deadline,
    should_flash,
    snooze,
)

UTC = timezone.utc
JLM = ZoneInfo("Asia/Jerusalem")
T0 = datetime(2026, 11, 23, 9, 0, 0, tzinfo=UTC)  # Monday 11:00 in Jerusalem: inside every test queue's hours


def at(s: float) -> datetime:
    return T0 + timedelta(seconds=s)


def queue(**thresholds) -> QueueConfig:
    return QueueConfig(name="support", min_calls=10, thresholds=thresholds)


def run(q: QueueConfig, figures: dict, state: LevelState, now: datetime) -> tuple[dict, LevelState]:
    return evaluate_queue(q, figures, state, now, tz=JLM)


class Series:
    """Feeds one metric's values tick by tick, carrying the state as the engine would."""

    def __init__(self, q: QueueConfig, metric: str, offered: int = 100):
        self.q, self.metric, self.offered = q, metric, offered
        self.state = LevelState()

    def tick(self, s: float, value: float | None) -> str:
        figures = {
            "offered": self.offered,
            self.metric: value,
            "rolling": {"offered": self.offered, self.metric: value},
        }
        levels, self.state = run(self.q, figures, self.state, at(s))
        return levels[self.metric]

    @property
    def entry(self):
        return self.state.get(self.q.name, self.metric)


# --- directions and levels -------------------------------------------------------------------------------

AVG_WAIT = {"warn": 45, "breach": 60, "direction": "above"}
SL = {"warn": 0.80, "breach": 0.70, "direction": "below", "window": "rolling"}


@pytest.mark.parametrize(
    "value, level", [(0, "ok"), (44.9, "ok"), (45, "warn"), (59.9, "warn"), (60, "breach"), (300, "breach")]
)
def test_above_warn_and_breach(value, level):
    assert Series(queue(avg_wait_s=AVG_WAIT), "avg_wait_s").tick(0, value) == level


@pytest.mark.parametrize(
    "value, level", [(1.0, "ok"), (0.81, "ok"), (0.80, "warn"), (0.71, "warn"), (0.70, "breach"), (0.0, "breach")]
)
def test_below_warn_and_breach(value, level):
    assert Series(queue(service_level=SL), "service_level").tick(0, value) == level


def test_breach_only_threshold_has_no_warn_level():
    s = Series(queue(waiting={"breach": 10}), "waiting")
    assert [s.tick(0, 9), s.tick(1, 10), s.tick(2, 9)] == ["ok", "breach", "ok"]


def test_value_is_read_from_the_thresholds_window():
    q = queue(service_level=SL, avg_wait_s={**AVG_WAIT, "window": "rolling"})
    figures = {
        "offered": 50,
        "service_level": 0.95,
        "avg_wait_s": 10,  # since reset: fine
        "rolling": {"offered": 20, "service_level": 0.65, "avg_wait_s": 50},  # last 30 min: bad
    }
    levels, _ = run(q, figures, LevelState(), T0)
    assert levels["service_level"] == "breach" and levels["avg_wait_s"] == "warn"
    since_reset = queue(service_level={**SL, "window": "since_reset"})
    assert run(since_reset, figures, LevelState(), T0)[0]["service_level"] == "ok"


def test_a_gauge_is_read_now_whatever_window_its_threshold_names():
    q = queue(longest_wait_s={"warn": 90, "breach": 180, "window": "rolling"})
    figures = {"offered": 0, "longest_wait_s": 200, "rolling": {"offered": 0}}  # windows hold no gauges
    assert run(q, figures, LevelState(), T0)[0]["longest_wait_s"] == "breach"


def test_explicit_since_reset_mapping_is_accepted():
    figures = {"since_reset": {"offered": 20, "avg_wait_s": 61}, "rolling": {"offered": 20, "avg_wait_s": 1}}
    assert run(queue(avg_wait_s=AVG_WAIT), figures, LevelState(), T0)[0]["avg_wait_s"] == "breach"


def test_queue_snapshot_model_as_figures():
    qs = QueueSnapshot(
        sl_formula="excl_short_abandons",
        sl_threshold_s=20,
        short_abandon_s=5,
        count_overflow=False,
        offered=30,
        avg_wait_s=61.0,
        waiting=4,
        longest_wait_s=95.0,
        rolling=Rolling(minutes=30, since="2026-11-23T08:30:00Z", offered=12, service_level=0.75),
    )
    q = queue(avg_wait_s=AVG_WAIT, service_level=SL, longest_wait_s={"warn": 90, "breach": 180}, waiting={"warn": 5})
    levels, _ = run(q, qs, LevelState(), T0)
    assert (levels["avg_wait_s"], levels["service_level"], levels["longest_wait_s"], levels["waiting"]) == (
        "breach",
        "warn",
        "warn",
        "ok",
    )


def test_every_metric_has_a_level_and_unconfigured_or_none_is_ok():
    q = queue(avg_wait_s=AVG_WAIT, longest_wait_s={"warn": 90, "breach": 180})
    figures = {"offered": 20, "avg_wait_s": None, "longest_wait_s": None, "waiting": 500, "rolling": {"offered": 20}}
    levels, state = run(q, figures, LevelState(), T0)
    assert set(levels) == set(THRESHOLD_METRICS)
    assert set(levels.values()) == {"ok"} and len(state) == 0


def test_none_clears_at_once():
    s = Series(queue(longest_wait_s={"warn": 90, "breach": 180, "hold_s": 10}), "longest_wait_s")
    assert s.tick(0, 200) == "breach"
    assert s.tick(1, None) == "ok"  # nobody waiting: nothing left to hold the level against
    assert s.entry is None


# --- hysteresis ------------------------------------------------------------------------------------------

HYST = {**AVG_WAIT, "margin": 5, "hold_s": 30}  # breach clears below 55, warn below 40


def test_brief_dip_does_not_clear_and_a_return_restarts_the_hold():
    s = Series(queue(avg_wait_s=HYST), "avg_wait_s")
    assert s.tick(0, 70) == "breach"
    assert s.tick(1, 54) == "breach"  # back past breach by the margin: hold starts at 1 s
    assert s.entry.breach_clear_since == at(1)
    assert s.tick(10, 57) == "breach"  # back over 55 before the hold ran out: hold cancelled
    assert s.entry.breach_clear_since is None
    assert s.tick(11, 50) == "breach"  # hold restarts at 11 s
    assert s.tick(31, 50) == "breach"  # 20 s after the restart, 31 s after the first dip: still held
    assert s.tick(40, 50) == "breach"  # hold_s - 1 s
    assert s.tick(41, 50) == "warn"  # hold_s exactly
    assert s.entry.since == at(41)


def test_margin_is_respected():
    s = Series(queue(avg_wait_s=HYST), "avg_wait_s")
    assert s.tick(0, 61) == "breach"
    for sec in range(1, 200, 10):
        assert s.tick(sec, 55) == "breach"  # 55 is not *past* 60 - 5
    assert s.entry.breach_clear_since is None
    assert s.tick(200, 54.9) == "breach"
    assert s.tick(230, 54.9) == "warn"


def test_margin_below_direction():
    # agents_available: warn at 2 or fewer, breach at 0; margin 1 -> breach clears above 1, warn above 3
    s = Series(
        queue(agents_available={"warn": 2, "breach": 0, "direction": "below", "margin": 1, "hold_s": 5}),
        "agents_available",
    )
    assert s.tick(0, 0) == "breach"
    assert s.tick(1, 1) == "breach" and s.entry.breach_clear_since is None  # 1 is not past 0 + 1
    assert s.tick(2, 2) == "breach" and s.entry.breach_clear_since == at(2)
    assert s.tick(7, 2) == "warn"
    assert s.tick(8, 3) == "warn" and s.entry.warn_clear_since is None  # 3 is not past 2 + 1
    assert s.tick(9, 4) == "warn"
    assert s.tick(13, 4) == "warn"
    assert s.tick(14, 4) == "ok"


def test_breach_straight_to_ok_after_hold_clear_of_warn():
    s = Series(queue(avg_wait_s=HYST), "avg_wait_s")
    assert s.tick(0, 70) == "breach"
    assert s.tick(1, 30) == "breach"
    assert s.tick(30, 30) == "breach"
    assert s.tick(31, 30) == "ok"  # clear of warn (below 40) for the whole hold: no stop at warn
    assert s.entry is None


def test_breach_to_warn_then_ok_with_each_levels_own_hold():
    s = Series(queue(avg_wait_s=HYST), "avg_wait_s")
    s.tick(0, 70)
    assert s.tick(1, 50) == "breach"  # clear of breach from 1 s
    assert s.tick(20, 30) == "breach"  # clear of warn from 20 s
    assert s.tick(31, 30) == "warn"  # breach hold done (1 + 30); warn hold not yet
    assert s.tick(49, 30) == "warn"
    assert s.tick(50, 30) == "ok"  # 20 + 30


def test_rise_is_immediate_and_cancels_the_hold():
    s = Series(queue(avg_wait_s=HYST), "avg_wait_s")
    assert s.tick(0, 50) == "warn"
    assert s.tick(1, 30) == "warn"
    assert s.entry.warn_clear_since == at(1)
    assert s.tick(2, 60) == "breach"
    assert s.entry.since == at(2) and s.entry.warn_clear_since is None


def test_hold_zero_clears_on_the_first_tick_back():
    s = Series(queue(avg_wait_s=AVG_WAIT), "avg_wait_s")
    assert [s.tick(0, 60), s.tick(1, 59), s.tick(2, 44)] == ["breach", "warn", "ok"]


def test_next_deadline_is_the_earliest_hold_end():
    q = queue(avg_wait_s=HYST)
    s = Series(q, "avg_wait_s")
    s.tick(0, 70)
    assert next_deadline(s.state, q) is None
    s.tick(1, 50)
    s.tick(20, 30)
    assert next_deadline(s.state, q) == at(31)
    s.state = snooze(s.state, "support", "avg_wait_s", "dana", at(25))
    assert next_deadline(s.state, q) == at(25)


# --- minimum calls ---------------------------------------------------------------------------------------


def test_ratio_stays_ok_under_min_calls_and_breaches_at_it():
    q = queue(service_level=SL)  # queue min_calls 10, read from the rolling window's offered
    figs = lambda n: {"offered": 500, "rolling": {"offered": n, "service_level": 0.5}}  # noqa: E731
    assert run(q, figs(9), LevelState(), T0)[0]["service_level"] == "ok"
    assert run(q, figs(10), LevelState(), T0)[0]["service_level"] == "breach"


def test_threshold_min_calls_overrides_the_queues():
    q = queue(avg_wait_s={**AVG_WAIT, "min_calls": 5})
    assert run(q, {"offered": 4, "avg_wait_s": 90}, LevelState(), T0)[0]["avg_wait_s"] == "ok"
    assert run(q, {"offered": 5, "avg_wait_s": 90}, LevelState(), T0)[0]["avg_wait_s"] == "breach"
    q0 = queue(avg_wait_s={**AVG_WAIT, "min_calls": 0})
    assert run(q0, {"offered": 0, "avg_wait_s": 90}, LevelState(), T0)[0]["avg_wait_s"] == "breach"


def test_offered_falls_back_to_the_counters():
    q = queue(avg_wait_s=AVG_WAIT)
    figures = {"answered": 6, "abandoned": 3, "overflowed": 1, "avg_wait_s": 90}  # offered 10
    assert run(q, figures, LevelState(), T0)[0]["avg_wait_s"] == "breach"


def test_falling_under_min_calls_drops_the_level():
    s = Series(queue(avg_wait_s=HYST), "avg_wait_s", offered=10)
    assert s.tick(0, 90) == "breach"
    s.offered = 9  # the rolling window thinned out
    assert s.tick(1, 90) == "ok" and s.entry is None


@pytest.mark.parametrize(
    "metric, value, limits",
    [
        ("waiting", 12, {"warn": 5, "breach": 10}),
        ("longest_wait_s", 200, {"warn": 90, "breach": 180}),
        ("ewt_s", 200, {"warn": 90, "breach": 180}),
        ("callbacks_pending", 3, {"breach": 3}),
        ("oldest_callback_s", 900, {"breach": 600}),
        ("agents_available", 0, {"warn": 2, "breach": 0, "direction": "below"}),
    ],
)
def test_gauges_ignore_min_calls(metric, value, limits):
    figures = {"offered": 0, metric: value, "rolling": {"offered": 0}}
    assert run(queue(**{metric: limits}), figures, LevelState(), T0)[0][metric] == "breach"


# --- business hours --------------------------------------------------------------------------------------

HOURS = QueueConfig(name="support", hours={"sun-thu": "08:00-20:00", "fri": "08:00-13:00"})
NIGHT = QueueConfig(name="night", hours={"sun-thu": "22:00-06:00"})


def local(y, mo, d, h, mi, s=0) -> datetime:
    return datetime(y, mo, d, h, mi, s, tzinfo=JLM)


@pytest.mark.parametrize(
    "when, open_",
    [
        # Sunday 2026-11-22, Jerusalem at UTC+2: opens 08:00 local = 06:00Z, closes 20:00 local = 18:00Z
        (datetime(2026, 11, 22, 5, 59, 59, tzinfo=UTC), False),
        (datetime(2026, 11, 22, 6, 0, 0, tzinfo=UTC), True),
        (datetime(2026, 11, 22, 17, 59, 59, tzinfo=UTC), True),
        (datetime(2026, 11, 22, 18, 0, 0, tzinfo=UTC), False),
        # Friday 2026-11-27: short day, closes 13:00 local = 11:00Z
        (datetime(2026, 11, 27, 10, 59, 59, tzinfo=UTC), True),
        (datetime(2026, 11, 27, 11, 0, 0, tzinfo=UTC), False),
        # Saturday: not listed
        (local(2026, 11, 28, 12, 0), False),
        # Friday 2026-07-03, summer time UTC+3: 08:00 local = 05:00Z, 13:00 local = 10:00Z
        (datetime(2026, 7, 3, 4, 59, 59, tzinfo=UTC), False),
        (datetime(2026, 7, 3, 5, 0, 0, tzinfo=UTC), True),
        (datetime(2026, 7, 3, 9, 59, 59, tzinfo=UTC), True),
        (datetime(2026, 7, 3, 10, 0, 0, tzinfo=UTC), False),
    ],
)
def test_business_hours_in_jerusalem(when, open_):
    assert is_open(HOURS, when, JLM) is open_


@pytest.mark.parametrize(
    "when, open_",
    [
        (local(2026, 11, 22, 5, 0), False),  # Sunday early: Saturday night is not listed
        (local(2026, 11, 22, 21, 59, 59), False),
        (local(2026, 11, 22, 22, 0), True),  # Sunday 22:00 opens
        (local(2026, 11, 23, 3, 0), True),  # ... and runs into Monday
        (local(2026, 11, 26, 23, 0), True),  # Thursday night
        (local(2026, 11, 27, 5, 59, 59), True),  # carried into Friday morning
        (local(2026, 11, 27, 6, 0), False),  # closes at 06:00 Friday
        (local(2026, 11, 27, 22, 0), False),  # Friday night is not listed
    ],
)
def test_wrap_around_span(when, open_):
    assert is_open(NIGHT, when, JLM) is open_


def test_no_hours_means_always_open():
    assert is_open(QueueConfig(name="x"), local(2026, 11, 28, 3, 0), JLM)


def test_naive_time_is_refused():
    with pytest.raises(ValueError):
        is_open(HOURS, datetime(2026, 11, 22, 9, 0), JLM)
    with pytest.raises(ValueError):
        evaluate_queue(queue(), {}, LevelState(), datetime(2026, 11, 22, 9, 0), tz=JLM)


def test_closed_shows_closed_and_resets_the_state():
    q = QueueConfig(name="support", hours={"sun-thu": "08:00-20:00"}, thresholds={"waiting": {"warn": 5, "breach": 10}})
    other = QueueConfig(name="tech", thresholds={"waiting": {"breach": 1}})
    bad = {"waiting": 20}
    _, state = evaluate_queue(other, {"waiting": 3}, LevelState(), local(2026, 11, 22, 19, 0), tz=JLM)
    levels, state = evaluate_queue(q, bad, state, local(2026, 11, 22, 19, 59, 59), tz=JLM)
    assert levels["waiting"] == "breach"
    state = ack(state, "support", "waiting", "dana", local(2026, 11, 22, 19, 59, 59))
    levels, state = evaluate_queue(q, bad, state, local(2026, 11, 22, 20, 0), tz=JLM)
    assert levels == {m: "closed" for m in THRESHOLD_METRICS}
    assert state.get("support", "waiting") is None and state.alerts("support") == {}
    assert state.get("tech", "waiting") is not None  # other queues pass through
    # next morning: a fresh alert, not the acknowledged one from last night
    opening = local(2026, 11, 23, 8, 0)
    levels, state = evaluate_queue(q, bad, state, opening, tz=JLM)
    entry = state.get("support", "waiting")
    assert levels["waiting"] == "breach" and entry.since == opening and entry.acked_by is None


# --- acknowledge, snooze, flashing -----------------------------------------------------------------------


def test_ack_stops_flashing_keeps_level_and_a_rise_re_alerts():
    s = Series(queue(waiting={"warn": 5, "breach": 10, "hold_s": 10}), "waiting")
    s.tick(0, 6)
    s.state = ack(s.state, "support", "waiting", "dana", at(1))
    assert s.entry.acked_by == "dana" and s.entry.acked_at == at(1)
    assert s.tick(2, 12) == "breach"  # rise: acknowledgement was for warn
    assert s.entry.acked_by is None and should_flash(s.entry, at(2))
    s.state = ack(s.state, "support", "waiting", "dana", at(3))
    assert s.tick(4, 12) == "breach"  # colour stays ...
    assert not should_flash(s.entry, at(4))  # ... flashing stops
    assert s.state.alerts("support")["waiting"].acked_by == "dana"
    assert s.tick(5, 7) == "breach" and s.entry.acked_by == "dana"  # still breach during the hold
    assert s.tick(15, 7) == "warn" and s.entry.acked_by is None  # level changed: acknowledgement ends


def test_ack_or_snooze_without_an_alert():
    with pytest.raises(NoAlertError):
        ack(LevelState(), "support", "waiting", "dana", T0)
    with pytest.raises(NoAlertError):
        snooze(LevelState(), "support", "waiting", "dana", at(60))
    s = Series(queue(waiting={"breach": 10}), "waiting")
    s.tick(0, 12)
    with pytest.raises(ValueError):
        ack(s.state, "support", "waiting", "", T0)


def test_snooze_until_a_time_then_flashing_resumes():
    s = Series(queue(waiting={"breach": 10}), "waiting")
    s.tick(0, 12)
    assert should_flash(s.entry, at(0))
    s.state = snooze(s.state, "support", "waiting", "dana", at(300))
    alert = s.state.alerts("support")["waiting"]
    assert alert.snoozed_until == datetime(2026, 11, 23, 9, 5, tzinfo=UTC)  # published as ISO 8601 with a Z
    assert '"snoozed_until":"2026-11-23T09:05:00Z"' in alert.model_dump_json()
    assert not should_flash(alert, at(299))  # works on the snapshot's Alert too
    assert should_flash(alert, at(300))
    s.tick(299, 12)
    assert not should_flash(s.entry, at(299))
    s.tick(300, 12)
    assert s.entry.snoozed_until is None and should_flash(s.entry, at(300))  # expired snooze tidied away


def test_snooze_outlasts_a_rise_and_can_be_cancelled():
    s = Series(queue(waiting={"warn": 5, "breach": 10}), "waiting")
    s.tick(0, 6)
    s.state = snooze(s.state, "support", "waiting", "dana", at(600))
    s.tick(1, 12)
    assert s.entry.level == "breach" and not should_flash(s.entry, at(1))
    s.state = snooze(s.state, "support", "waiting", "dana", None)
    assert should_flash(s.entry, at(2))


def test_warn_never_flashes():
    s = Series(queue(waiting={"warn": 5, "breach": 10}), "waiting")
    s.tick(0, 6)
    assert not should_flash(s.entry, at(0)) and not should_flash(None, at(0))


def test_flash_phase_alternates_at_the_rate():
    # 1 Hz: on for [0, 0.5), off for [0.5, 1)
    assert [flash_phase(at(x), 1) for x in (0, 0.25, 0.499999, 0.5, 0.75, 1.0, 1.5)] == [
        True,
        True,
        True,
        False,
        False,
        True,
        False,
    ]
    # 2 Hz: on for [0, 0.25), off for [0.25, 0.5)
    assert [flash_phase(at(x), 2) for x in (0, 0.125, 0.25, 0.375, 0.5)] == [True, True, False, False, True]
    # 0.5 Hz: a 2 s period
    assert [flash_phase(at(x), 0.5) for x in (0, 0.999, 1.0, 1.999, 2.0)] == [True, True, False, False, True]


def test_flash_phase_is_capped_at_2_hz():
    for hz in (4, 10, 100):
        # 4 Hz would be off at 0.125 s; capped to 2 Hz it is still on
        assert [flash_phase(at(x), hz) for x in (0, 0.125, 0.25, 0.5)] == [True, True, False, True]
    with pytest.raises(ValueError):
        flash_phase(T0, 0)


def test_flash_on_honours_the_display_switch():
    s = Series(queue(waiting={"breach": 10}), "waiting")
    s.tick(0, 12)
    assert flash_on(s.entry, at(0), DisplayConfig()) and not flash_on(s.entry, at(0.5), DisplayConfig())
    assert not flash_on(s.entry, at(0), DisplayConfig(flash=False))


# --- per-agent alerts ------------------------------------------------------------------------------------

CFG = AgentAlerts(long_call_s=900, long_wrap_s=120, long_pause_s={"default": 900, "lunch": 2700}, missed_in_row=3)


class _A:
    """The fields agent_alerts reads, with ``since`` as a datetime."""

    def __init__(self, state, reason, since, missed):
        self.state, self.reason, self.since, self.missed_in_row = state, reason, since, missed


def agent(state, age_s, reason=None, missed=0, as_text=False):
    since = T0 - timedelta(seconds=age_s)
    if as_text:  # an AgentSnapshot read from ISO text
        return AgentSnapshot(state=state, reason=reason, missed_in_row=missed, since=since.isoformat())
    return _A(state, reason, since, missed)


@pytest.mark.parametrize(
    "state, reason, limit, name",
    [
        ("on_call", None, 900, "long_call"),
        ("wrap_up", None, 120, "long_wrap"),
        ("paused", "lunch", 2700, "long_pause"),
        ("paused", "toilet", 900, "long_pause"),  # unlisted reason: default
        ("paused", None, 900, "long_pause"),
    ],
)
def test_agent_time_alerts_trigger_at_their_limit(state, reason, limit, name):
    assert agent_alerts(agent(state, limit - 1, reason), CFG, T0) == []
    assert agent_alerts(agent(state, limit, reason), CFG, T0) == [name]
    assert agent_alerts(agent(state, limit, reason, as_text=True), CFG, T0) == [name]  # AgentSnapshot's ISO text


def test_missed_in_row_triggers_at_its_limit():
    assert agent_alerts(agent("available", 10, missed=2), CFG, T0) == []
    assert agent_alerts(agent("available", 10, missed=3), CFG, T0) == ["missed_in_row"]
    assert agent_alerts(agent("on_call", 900, missed=4), CFG, T0) == ["long_call", "missed_in_row"]
    assert agent_alerts(agent("logged_out", 10_000, missed=5), CFG, T0) == []


def test_pause_without_a_limit_for_its_reason():
    cfg = AgentAlerts(long_pause_s={"lunch": 2700})  # no default
    assert agent_alerts(agent("paused", 10_000, "meeting"), cfg, T0) == []
    assert agent_alerts(agent("paused", 2700, "lunch"), cfg, T0) == ["long_pause"]


def test_states_without_time_alerts():
    assert agent_alerts(agent("available", 10_000), CFG, T0) == []
    assert agent_alerts(agent("ringing", 10_000), CFG, T0) == []
    assert agent_alerts(_A("on_call", None, None, 0), CFG, T0) == []  # since unknown


# --- serialisation ---------------------------------------------------------------------------------------


def _busy_state() -> tuple[QueueConfig, LevelState]:
    q = queue(avg_wait_s=HYST, waiting={"warn": 5, "breach": 10})
    state = LevelState()
    for s, (wait, waiting) in enumerate([(70, 12), (50, 12), (30, 6)]):
        _, state = run(q, {"offered": 20, "avg_wait_s": wait, "waiting": waiting}, state, at(s + 0.25))
    state = ack(state, "support", "avg_wait_s", "dana", at(3))
    state = snooze(state, "support", "waiting", "yossi", at(400))
    return q, state


def test_state_round_trips_through_json():
    q, state = _busy_state()
    e = state.get("support", "avg_wait_s")
    assert (e.level, e.breach_clear_since, e.warn_clear_since, e.acked_by) == ("breach", at(1.25), at(2.25), "dana")
    text = state.to_json()
    assert set(json.loads(text)) == {"support|avg_wait_s", "support|waiting"}
    back = LevelState.from_json(text)
    assert back == state
    # the hash form of the ':alerts' key, as redis-py returns it (bytes)
    raw = {k.encode(): v.encode() for k, v in state.to_hash().items()}
    assert LevelState.from_hash(raw) == state
    # and evaluation carries on identically from the restored state
    figures = {"offered": 20, "avg_wait_s": 30, "waiting": 6}
    assert run(q, figures, back, at(40)) == run(q, figures, state, at(40))


def test_queue_names_with_a_bar_round_trip():
    q = QueueConfig(name="sales|north", thresholds={"waiting": {"breach": 1}})
    _, state = run(q, {"waiting": 2}, LevelState(), T0)
    assert LevelState.from_json(state.to_json()).get("sales|north", "waiting") is not None


def test_diff_gives_what_to_write_and_delete():
    q, state = _busy_state()
    _, later = run(q, {"offered": 20, "avg_wait_s": 70, "waiting": 0}, state, at(4))
    changed, deleted = later.diff(state)
    assert deleted == ["support|waiting"]  # back to ok: the alert ends
    assert list(changed) == ["support|avg_wait_s"]  # back over: its hold timers were cancelled
    assert (
        LevelState.from_json(json.dumps({k: json.loads(v) for k, v in changed.items()}))
        .get("support", "avg_wait_s")
        .breach_clear_since
        is None
    )
    assert later.diff(later) == ({}, [])


def test_occupancy_threshold_reads_the_agents_busy_now():
    """Occupancy (utilisation) is kept in agent_counts: on a call or in wrap-up over those and the available."""
    q = queue(occupancy={"warn": 0.6, "breach": 0.4, "direction": "below"})
    counts = {"available": 3, "on_call": 1, "wrap_up": 1, "ringing": 5, "paused": 4}  # 2 / 5 = 0.4: breach
    levels, _ = run(q, {"offered": 100, "agent_counts": counts, "rolling": {}}, LevelState(), at(0))
    assert levels["occupancy"] == "breach"
    counts = {"available": 1, "on_call": 2, "wrap_up": 1}  # 3 / 4 = 0.75: ok
    levels, _ = run(q, {"offered": 100, "agent_counts": counts, "rolling": {}}, LevelState(), at(0))
    assert levels["occupancy"] == "ok"
