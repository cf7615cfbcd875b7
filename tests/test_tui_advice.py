"""The desk's advice panel (v) on the real path: the simulated centre's demo day (an overload on support whose
backups stand by in sales) through the real engine into Redis; the desk reads the snapshot and the minute
buckets itself (``read_estimates``, nothing patched), shows required vs staffed and the advisor's moves, and
Enter applies one through the real executor on the same simulated centre. Expected figures come from the
simulator's own state and call log, not from the advisor."""

from __future__ import annotations

import math
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from wallboard.actions.auth import issue
from wallboard.actions.executor import Executor
from wallboard.actions.sim_backend import SimBackend
from wallboard.clock import ManualClock
from wallboard.config import load_config
from wallboard.engine import Engine
from wallboard.keys import Keys
from wallboard.livetime import fmt_clock
from wallboard.sim import SimCentre, scenario_by_name

from . import polling
from .conftest import redis_url
from .test_tui_actions import screen_text
from .ui_seen import Notices, requests_sent

ROOT = Path(__file__).resolve().parent.parent
START = datetime(2026, 11, 23, 10, 0, tzinfo=ZoneInfo("Asia/Jerusalem"))
SIZE = (110, 40)
STAFFED = ("available", "ringing", "on_call", "wrap_up", "dialing")  # the model's states of a staffed agent


class DemoFloor:
    """The demo scenario on the demo config, its engine and an executor on it, one ManualClock."""

    def __init__(self, client, prefix: str):
        self.r = client
        self.config = load_config(
            ROOT / "wallboard" / "data" / "demo.toml",
            redis={"prefix": prefix, "url": redis_url()},
            display={"stale_after_s": 3600},
        )
        self.clock = ManualClock(START)
        self.keys = Keys(prefix)
        names = [q.name for q in self.config.queues]
        self.centre = SimCentre(self.config, scenario_by_name("demo", names), 1, START)
        self.engine = Engine(client, self.config, self.keys)
        self.executor = Executor(client, self.config, SimBackend(self.centre), clock=self.clock, name="t-exec")

    async def start(self) -> None:
        await self.engine.start()
        await self.executor.ensure_group()

    async def run(self, seconds: float, step: float = 30.0) -> int:
        """Let the centre run ``seconds`` (events applied every ``step``), then publish; the snapshot's seq."""
        end = self.clock.now() + timedelta(seconds=seconds)
        while self.clock.now() < end:
            self.clock.set(min(end, self.clock.now() + timedelta(seconds=step)))
            await self.engine.apply(self.centre.advance_to(self.clock.now()))
        return await self.publish()

    async def publish(self) -> int:
        now = self.clock.now()
        await self.engine.apply(self.centre.advance_to(now))
        snap = await self.engine.build_snapshot(now)
        snap, _ = self.engine.evaluate(snap, await self.engine.load_levels(), now)
        return (await self.engine.publish(snap)).seq

    def staffed(self, queue: str) -> int:
        return sum(1 for a, _ in self.centre.members(queue) if self.centre.agent_state(a) in STAFFED)

    def standing_by(self, queue: str) -> set[str]:
        """Agents skilled for ``queue`` in the config who are not its members now."""
        members = {a for a, _ in self.centre.members(queue)}
        return {a.id for a in self.config.agents if queue in a.skills and a.id not in members}


@pytest.fixture
async def floor(redis_client, prefix, monkeypatch):
    monkeypatch.setenv("WALLBOARD_TOKEN_SECRET", "test-secret-123")
    for name in ("WALLBOARD_TOKEN", "WALLBOARD_TOKEN_FILE"):
        monkeypatch.delenv(name, raising=False)
    f = DemoFloor(redis_client, prefix)
    await f.start()
    yield f
    keys = [k async for k in redis_client.scan_iter(match=f"{prefix}:*", count=1000)]
    if keys:
        await redis_client.unlink(*keys)


def make_app(floor: DemoFloor, user: str):
    from wallboard.ui.app import build_desk_app

    token = issue(floor.config, user, now=floor.clock.now().timestamp())
    return build_desk_app(floor.config, redis_url(), user=user, clock=floor.clock, token=token)


async def until(pilot, predicate, what: str, timeout: float = 5.0) -> None:
    await polling.until(predicate, what, timeout=timeout, every=0.02, pilot=pilot)


def seen(app, seq: int):
    """The desk holds the agents part ``seq`` (or later) and has drawn it (its tables are drawn one a frame)."""
    return lambda: app.summary is not None and app.agents is not None and app.agents.seq >= seq and not app.panels_due


def text_of(screen, selector: str) -> str:
    return str(screen.query_one(selector).render())


def independent_rate_and_aht(floor: DemoFloor, queue: str) -> tuple[float, float]:
    """From the simulator's call log: the arrival rate as the estimates' docstring defines it (entered per
    minute bucket, weighted 2^(-age/5 min), over the last 60 whole minutes and the current one, from the first
    minute with data: the minute of the centre's first join) and the handle time ((talk + wrap-up) / completed
    calls in those minutes; the run is shorter than the hour)."""
    now = floor.clock.now().timestamp()
    cur = int(now // 60) * 60
    first = int(min(c.joined.timestamp() for c in floor.centre.calls) // 60) * 60
    num = den = 0.0
    for m in range(max(cur - 3600, first), cur + 1, 60):
        if m >= now:
            continue
        exposure = min(60.0, now - m)
        w = 0.5 ** ((now - (m + exposure / 2)) / 60 / 5)
        num += w * sum(1 for c in floor.centre.calls if c.queue == queue and m <= c.joined.timestamp() < m + 60)
        den += w * exposure
    # completed and talk_s count at the end of talk, wrap_s at the end of wrap-up (a call in wrap-up now has
    # its talk counted and not yet its wrap-up)
    mine = [c for c in floor.centre.calls if c.queue == queue and c.outcome == "answered"]
    done = [c for c in mine if c.joined.timestamp() + c.wait_s + c.talk_s <= now]
    wrap = sum(c.wrap_s for c in mine if c.wrap_s is not None)
    return num / den, (sum(c.talk_s for c in done) + wrap) / len(done)


@asynccontextmanager
async def advice_open(floor):
    """The demo's busy morning 12 minutes in, on rivka's desk, the advice panel open. Yields (pilot, app,
    notices)."""
    from wallboard.ui.dialogs import AdviceScreen

    seq = await floor.run(12 * 60)
    app = make_app(floor, "rivka")
    notices = Notices()
    async with app.run_test(size=SIZE, message_hook=notices) as pilot:
        await until(pilot, seen(app, seq), "the snapshot")
        await pilot.press("v")
        await until(pilot, lambda: isinstance(app.screen, AdviceScreen), "the advice panel")
        yield pilot, app, notices


async def test_advice_on_the_demo_overload_shows_required_vs_staffed_and_applies_a_move(floor):
    from wallboard.ui.dialogs import AdviceScreen, ConfirmScreen

    async with advice_open(floor) as (pilot, app, notices):
        support_short = floor.staffed("support")
        assert floor.standing_by("support") == {"1004", "1016", "1028"}  # Omer, Ido, Adi: sales first, in sales only
        panel = app.screen
        advice = panel.advice
        support = advice.queues["support"]
        # staffed: the simulator's members of support not paused; the estimates: its own call log
        assert support.staffed == support_short == 7
        rate, aht = independent_rate_and_aht(floor, "support")
        assert support.rate_per_h == pytest.approx(rate * 3600, rel=1e-9)
        assert support.aht_s == pytest.approx(aht, rel=1e-9)
        # short: more agents required than the load in erlangs, and than are staffed
        assert support.status == "short" and support.required > max(support_short, math.ceil(rate * aht))
        assert support.short_by == support.required - support_short
        queues = text_of(panel, "#advice-queues")
        # every member of support serves it first (the simulator's penalties): its effective staffing is its count
        assert all(p == min(floor.centre.member_queues(a).values()) for a, p in floor.centre.members("support"))
        assert f"Customer service   {support.required:>8} {support_short:>9.1f}" in queues
        assert f"short by {support.short_by}" in queues
        # each row's status is computed from the effective staffing it shows (a backup counts a share)
        for q in advice.queues.values():
            row = next(line for line in queues.splitlines() if line.startswith(q.label))
            if q.model is None:
                continue
            shown = float(row[28:38])
            assert shown == math.floor(q.effective * 10) / 10, row
            assert row.rstrip().endswith(q.model_short) and q.model_short in ("Erlang A", "Erlang C"), row
            if q.status == "short":
                assert f"short by {math.ceil(q.required - shown)} " in row, row
        # the moves: an agent standing by, out of sales; the panel lists them as the advisor ranked them
        first = advice.moves[0]
        assert first.agent in floor.standing_by("support") and (first.from_queue, first.to_queue) == (
            "sales",
            "support",
        )
        assert first.to_sl_after > first.to_sl_before and first.text.startswith(f"Move {first.agent_name}: Sales → ")
        assert panel.query_one("#advice-moves").get_option_at_index(0).prompt == first.text
        screen_text = "\n".join(str(w.render()) for w in panel.query("Static"))
        assert "Required" in screen_text and "Effective" in screen_text and "apply (confirm)" in screen_text

        # enter applies it: both steps confirmed at once; the remove is sent only once the add is done, both
        # performed by the executor on the simulated centre
        await pilot.press("enter")
        assert isinstance(app.screen, ConfirmScreen)
        name = first.agent_name
        assert (
            text_of(app.screen, "#confirm-text")
            == f"1. Add {name} to support at penalty 0\n2. Remove {name} from sales"
        )
        await pilot.press("enter")
        await until(pilot, lambda: len(requests_sent(app)) == 1, "the add request")
        assert app.screen is app.screen_stack[0]  # nothing left to confirm: a stray key cannot act on a step
        await pilot.press("enter")  # a stray enter opens the drill-down, as on any screen; it sends nothing
        await pilot.pause(0.3)
        assert [r["op"] for r in requests_sent(app)] == ["add"]  # the remove waits for the add's outcome
        await pilot.press("escape")
        performed = await floor.executor.process_pending()  # the add (and the remove, if the desk is quick)
        await until(pilot, lambda: len(requests_sent(app)) == 2, "the remove, once the add was done")
        assert [r["op"] for r in requests_sent(app)] == ["add", "remove"]
        assert performed + await floor.executor.process_pending() == 2
        assert floor.centre.member_queues(first.agent) == {"support": 0}
        await until(pilot, lambda: any(m.endswith(": ok") for m, _ in notices), "the outcomes")
        seq = await floor.publish()
        await until(pilot, seen(app, seq), "the snapshot after the move")
        assert app.agent_table.shown(first.agent, "queues")[0] == "support"
        # asked again: support is staffed by one more, and that agent is no longer offered
        await pilot.press("v")
        await until(pilot, lambda: isinstance(app.screen, AdviceScreen), "the advice panel again")
        assert app.screen.advice.queues["support"].staffed == floor.staffed("support")
        assert first.agent not in {m.agent for m in app.screen.advice.moves}
        await pilot.press("escape")
        assert app.screen is app.screen_stack[0]


@asynccontextmanager
async def first_step_sent(floor):
    """``advice_open``, its first move confirmed: the add is on the stream, the remove waits for its outcome.
    Yields (pilot, app, notices, the move)."""
    async with advice_open(floor) as (pilot, app, notices):
        first = app.screen.advice.moves[0]
        await pilot.press("enter", "enter")
        await until(pilot, lambda: len(requests_sent(app)) == 1, "the add request")
        yield pilot, app, notices, first


def _skipped(notices) -> str | None:
    return next((m for m, _ in notices if "Not sent" in m), None)


async def test_a_refused_first_step_sends_no_second_and_says_so(floor):
    """The add reaches the executor too late and is refused (stale): the agent must not be taken out of sales."""
    from wallboard.actions.executor import STALE_S

    async with first_step_sent(floor) as (pilot, app, notices, first):
        before = floor.centre.member_queues(first.agent)
        floor.clock.set(floor.clock.now() + timedelta(seconds=STALE_S + 1))
        assert await floor.executor.process_pending() == 1
        await until(pilot, lambda: _skipped(notices), "the notice that the remove was not sent")
        await pilot.pause(0.3)
        assert [r["op"] for r in requests_sent(app)] == ["add"]
        assert floor.centre.member_queues(first.agent) == before == {"sales": 0}
        assert _skipped(notices).endswith(f"Remove {first.agent_name} from sales"), _skipped(notices)
        assert any(m.startswith(f"Add {first.agent_name} to support") and "stale" in m for m, _ in notices), notices


async def test_a_first_step_given_up_sends_no_second_even_when_its_outcome_comes_late(floor):
    """The executor is slow: the desk gives the add up (no outcome in time) and says the remove was not sent,
    and why in words that allow for the add still being done; the add's late outcome must not send it."""
    from wallboard.actions.executor import STALE_S
    from wallboard.ui.requests import OUTCOME_TIMEOUT_S

    async with first_step_sent(floor) as (pilot, app, notices, first):
        floor.clock.advance(OUTCOME_TIMEOUT_S + 1)
        assert OUTCOME_TIMEOUT_S + 1 < STALE_S  # still fresh for the executor
        app.tick()
        await until(pilot, lambda: _skipped(notices), "the notice that the remove was not sent")
        assert _skipped(notices) == (
            "Not sent, as the step before was not done (or its outcome did not come in time): "
            f"Remove {first.agent_name} from sales"
        )
        assert await floor.executor.process_pending() == 1  # the add, late: performed
        assert floor.centre.member_queues(first.agent) == {"sales": 0, "support": 0}
        await until(pilot, lambda: not app.outcome_watch.watching, "the audit reader done")
        await pilot.pause(0.3)
        assert [r["op"] for r in requests_sent(app)] == ["add"]


async def test_no_move_says_why_in_words_and_a_user_who_may_not_move_is_not_offered_it(floor):
    from wallboard.ui.dialogs import AdviceScreen

    seq = await floor.run(60, step=10)  # one minute in: too few calls to size any queue
    app = make_app(floor, "moshe")  # a team lead: no move permission
    notices = Notices()
    async with app.run_test(size=SIZE, message_hook=notices) as pilot:
        await until(pilot, seen(app, seq), "the snapshot")
        await pilot.press("v")
        assert notices[-1] == ("moshe may not move (not offered)", "warning")
        assert "Advice" not in [c.title for c in app.get_system_commands(app.screen)]
    app = make_app(floor, "rivka")
    async with app.run_test(size=(80, 24), message_hook=notices) as pilot:
        await until(pilot, seen(app, seq), "the snapshot")
        await pilot.press("v")
        await until(pilot, lambda: isinstance(app.screen, AdviceScreen), "the advice panel")
        joined = sum(1 for c in floor.centre.calls if c.queue == "support")
        assert 0 < joined < 10
        empty = text_of(app.screen, "#advice-empty")
        assert empty.startswith("No move to offer yet: too few calls to size the queues")
        assert f"- Customer service: no figures, too few calls for an arrival rate ({joined} < 10)" in empty
        # the panel has a size: it is not an empty box
        box = app.screen.query_one("#advice-box")
        assert box.size.width >= 70 and box.size.height >= 10
        await pilot.press("escape")
        assert app.screen is app.screen_stack[0] and requests_sent(app) == []


async def test_the_panel_names_each_queue_s_model_and_a_written_queue_s_effective_staffing(floor):
    """A chat queue's half hour on the demo floor, through the real engine and the desk's own estimates: the
    panel says the chat queue is modelled on slots (3 chats an agent: the members' median capacity), and
    shows the effective staffing the status is computed from: the four chat agents count 1 each, Erez (e-mail
    first, chat as a backup) a share, so 5 staffed are fewer than 5 servers."""
    from wallboard.events import AgentStateChanged, CallCompleted, CallerAnswered, CallerJoined
    from wallboard.ui.dialogs import AdviceScreen

    t0 = floor.clock.now()

    def ts(s: float):
        return t0 + timedelta(seconds=s)

    chat_agents = ["1029", "1030", "1031", "1032"]
    events: list = [
        AgentStateChanged(id=f"s{a}", ts=ts(0), source="t", agent=a, state="available")
        for a in [*chat_agents, "1033", "1034"]
    ]
    end = 5460.0  # an hour and a half: a chat and an e-mail every 100 s, each closed when its time came
    for queue, agents, answer_s, handle_s in (
        ("chat", chat_agents, 20, 400),
        ("email", ["1033", "1034", "1032"], 60, 900),
    ):
        q = {"queue": queue, "channel": queue, "source": "t"}
        for i in range(54):
            c, a, t = f"{queue}{i}", agents[i % len(agents)], 60 + 100 * i
            events += [
                CallerJoined(id=f"j{c}", ts=ts(t), call_id=c, **q),
                CallerAnswered(id=f"a{c}", ts=ts(t + answer_s), call_id=c, agent=a, **q),
            ]
            if t + answer_s + handle_s < end:
                events.append(
                    CallCompleted(id=f"c{c}", ts=ts(t + answer_s + handle_s), call_id=c, agent=a, talk_s=handle_s, **q)
                )
    floor.clock.set(ts(end))
    await floor.engine.apply(events)
    now = floor.clock.now()
    snap = await floor.engine.build_snapshot(now)
    snap, _ = floor.engine.evaluate(snap, await floor.engine.load_levels(), now)
    seq = (await floor.engine.publish(snap)).seq
    app = make_app(floor, "rivka")
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, seen(app, seq), "the snapshot")
        await pilot.press("v")
        await until(pilot, lambda: isinstance(app.screen, AdviceScreen), "the advice panel")
        advice = app.screen.advice
        rows = {line.split("  ")[0].strip(): line for line in text_of(app.screen, "#advice-queues").splitlines()}
    chat = advice.queues["chat"]
    assert chat.model_short == "Erlang C on slots, 3 chats/agent"  # no abandons: the patience is unknown
    assert chat.staffed == 5 and 4 < chat.effective < 5  # the backup's share
    shown = f"{math.floor(chat.effective * 10) / 10:.1f}"
    line = rows["Web chat"]
    assert line.split()[3] == shown and line.endswith("Erlang C on slots, 3 chats/agent"), line
    status = {"ok": "ok", "slack": "slack", "short": f"short by {math.ceil(chat.required - float(shown))}"}
    assert status[chat.status] in line, line
    assert rows["Customer service"].split()[2:5] == ["-", "-", "-"] and rows["Customer service"].endswith(" -")


# ---- the advice in the desk's language ---------------------------------------------------------------------------


def _pct(v: float) -> str:
    return f"{v * 100:.0f}%"


def test_the_english_advice_lines_are_the_advisors_own_words_and_the_hebrew_ones_say_the_same():
    """A move (added to one queue, removed from another) and a penalty swap, as the advisor ranks them: on an
    English desk each line is exactly ``Move.text`` (what ``wallboard advise`` prints); on a Hebrew one the same
    figures in Hebrew, written out here by hand in reading order (a terminal that reorders gets it so)."""
    from wallboard.ui.dialogs import AdviceScreen
    from wallboard.ui.words import Words

    from wallboard.advisor import advise

    from .test_advisor import four_queues_tech_short, omer_backs_tech_up

    config, snap, estimates, _ = omer_backs_tech_up()
    swap = advise(snap, estimates, config)
    config, snap, estimates = four_queues_tech_short()
    moved = advise(snap, estimates, config)
    assert {m.kind for m in swap.moves} == {"penalty"} and {m.kind for m in moved.moves} == {"move"}
    assert len(moved.plan) == 2  # a plan of two: its line too
    he = Words("he", bidi="terminal")
    for advice in (swap, moved):
        en_panel, he_panel = AdviceScreen(advice), AdviceScreen(advice, words=he)
        for m in advice.moves + advice.plan:
            assert en_panel.move_text(m) == m.text
            how = " (החלפת עדיפויות)" if m.kind == "penalty" else ""
            to = "\u200f←\u200f"  # the arrow held right to left between Latin names (a right-to-left mark each side)
            assert he_panel.move_text(m) == (
                f"העברת {m.agent_name}{how}: {m.from_label} {to} {m.to_label}; שירות {m.to_label} "
                f"{_pct(m.to_sl_before)} {to} {_pct(m.to_sl_after)}, {m.from_label} {_pct(m.from_sl_before)} {to} "
                f"{_pct(m.from_sl_after)}"
            )
    # the plan: Gefen, then Omer, take Tech support from what it is now to what the second move leaves it at
    first, second = moved.plan
    assert AdviceScreen(moved).plan_text == (
        f"Plan: Gefen, Omer in turn take Tech support from {_pct(first.to_sl_before)} to "
        f"{_pct(second.to_sl_after)} (projected)"
    )
    assert AdviceScreen(moved, words=he).plan_text == (
        f"תוכנית: Gefen, Omer בזה אחר זה מעלים את Tech support מ-{_pct(first.to_sl_before)} ל-"
        f"{_pct(second.to_sl_after)} (צפוי)"
    )


async def test_the_advice_panel_on_a_hebrew_desk_reads_right_to_left(floor):
    """rivka's desk in Hebrew on the demo's overload: the panel's title, its table from the right (the queue's name
    in the right-hand column, the model's in the left-hand one), the statuses, the first move and the keys in
    Hebrew, each as a terminal without bidi support must be sent it (written out here by hand: a run of Hebrew
    letters reversed, Latin names and numbers left to right)."""
    from wallboard.ui.app import build_desk_app
    from wallboard.ui.dialogs import AdviceScreen

    seq = await floor.run(12 * 60)
    token = issue(floor.config, "rivka", now=floor.clock.now().timestamp())
    app = build_desk_app(floor.config, redis_url(), user="rivka", clock=floor.clock, token=token, language="he")
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, seen(app, seq), "the snapshot")
        await pilot.press("v")
        await until(pilot, lambda: isinstance(app.screen, AdviceScreen), "the advice panel")
        panel, advice = app.screen, app.screen.advice
        assert panel.query_one("#advice-box").border_title == "סמועב הצע"  # עצה בעומס
        lines = text_of(panel, "#advice-queues").splitlines()
        head = lines[0].split()
        assert head[0] == "לדומ" and head[-1] == "רות"  # מודל on the left, תור on the right
        assert head[1:-1] == ["בצמ", "לדומב", "תוריש", "תעכ", "תוריש", "לעופב", "םישרדנ"]
        support = advice.queues["support"]
        assert support.status == "short"
        row = next(line for line in lines if line.rstrip().endswith("Customer service"))
        assert row.lstrip().startswith(support.model_short)
        assert f"{support.short_by} םירסח" in row  # חסרים N: the number on its left
        m = advice.moves[0]
        pct = [_pct(v) for v in (m.to_sl_before, m.to_sl_after, m.from_sl_before, m.from_sl_after)]
        # העברת Adi: Sales → Customer service; שירות Customer service a → b, Sales c → d, read from the right
        assert str(panel.query_one("#advice-moves").get_option_at_index(0).prompt).strip() == (
            f"{pct[3]} ← Sales {pct[2]} ,{pct[1]} ← Customer service {pct[0]} תוריש ;Customer service ← "
            f"{m.agent_name}: Sales תרבעה"
        )
        assert (
            text_of(panel, "#advice-keys").strip() == "הריגס esc   (רושיאב) הלחה ⏎"
        )  # the brackets mirrored, as a terminal draws them
        # chosen: its two steps confirmed at once, in Hebrew, the note saying each waits for the one before
        from wallboard.ui.dialogs import ConfirmScreen

        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the confirmation")
        assert text_of(app.screen, "#confirm-note").strip() == ".עצוב וינפלש דעצהש ירחא קר חלשנ דעצ לכ"
        await pilot.press("escape")
        assert app.screen is app.screen_stack[0]
    # 80 columns: each queue's row fits (its name cut), its model on the line below, from the right as well
    app = build_desk_app(floor.config, redis_url(), user="rivka", clock=floor.clock, token=token, language="he")
    async with app.run_test(size=(80, 30)) as pilot:
        await until(pilot, seen(app, seq), "the snapshot")
        await pilot.press("v")
        await until(pilot, lambda: isinstance(app.screen, AdviceScreen), "the advice panel")
        lines = text_of(app.screen, "#advice-queues").splitlines()
        assert all(len(line) <= 74 for line in lines), lines
        at = next(i for i, line in enumerate(lines) if line.rstrip().endswith("Customer servic"))
        assert f"{support.short_by} םירסח" in lines[at]
        assert lines[at + 1].strip() == support.model_short


def assert_the_hebrew_panel_reads_from_the_right(app, advice, width: int) -> None:
    """The Hebrew panel at ``width`` columns, as drawn: each line of the queue table fits the box (the screen wraps
    none of them: a wrapped right-to-left line puts its start on the line below), each row's first line holds the
    queue's name at its right end with the required agents to its left, the header's first line ends with תור
    (queue), and the status comes after the name, never above it; the moves' lines fit too; the bottom border
    (``at HH:MM:SS · on <basis>``) keeps its start, נכון ל- and the time, at its right end."""
    room = min(width, 110) - 4  # the box's border and padding
    lines = text_of(app.screen, "#advice-queues").splitlines()
    assert all(len(line) <= room for line in lines), lines
    assert lines[0].rstrip().endswith(" רות"), lines  # תור

    def name(line: str) -> str:  # the rightmost cell: the name, unless a figure's or a status's
        return line.rstrip().split("  ")[-1].strip()

    starts = []
    for q in advice.queues.values():
        at = next(i for i, line in enumerate(lines) if q.label.startswith(name(line)) and len(name(line)) >= 5)
        shown = name(lines[at])
        assert len(shown) >= min(8, len(q.label)), (q.label, lines[at])
        assert lines[at].rstrip()[: -len(shown)].split()[-1] == ("-" if q.required is None else str(q.required))
        starts.append(at)
    assert starts == sorted(starts) and starts[0] > 0
    for at, end, q in zip(starts, [*starts[1:], len(lines)], advice.queues.values()):
        if q.status == "short":  # חסרים N below or beside the name, not above it
            assert any(f"{q.short_by} םירסח" in line for line in lines[at:end]), (q.label, lines[at:end])
    moves = app.screen.query_one("#advice-moves")
    for i in range(moves.option_count):
        assert all(len(line) <= room for line in str(moves.get_option_at_index(i).prompt).split("\n"))
    bottom = next(line for line in screen_text(app).splitlines() if "╰" in line)
    t = fmt_clock(advice.at, app.tz)
    assert f"{t}-ל ןוכנ" in bottom, bottom  # נכון ל-HH:MM:SS: the subtitle's start, on its right


async def test_the_hebrew_advice_panel_on_a_narrow_screen_and_after_a_resize(floor):
    """rivka's Hebrew desk at 60 columns (the demo's 12 minutes: the subtitle's basis is "the 12 min of calls since
    the data began"): the queue table's rows do not fit a line, so each is cut into lines in reading order, the
    queue's name first on the right; the subtitle is cut at its end, not its start. The same once a panel opened
    at 110 columns is narrowed to 60 (the panel rewraps, as the confirmation does)."""
    from wallboard.ui.app import build_desk_app
    from wallboard.ui.dialogs import AdviceScreen

    seq = await floor.run(12 * 60)
    token = issue(floor.config, "rivka", now=floor.clock.now().timestamp())
    for first, then in (((60, 40), None), (SIZE, (60, 40))):
        app = build_desk_app(floor.config, redis_url(), user="rivka", clock=floor.clock, token=token, language="he")
        async with app.run_test(size=first) as pilot:
            await until(pilot, seen(app, seq), "the snapshot")
            await pilot.press("v")
            await until(pilot, lambda: isinstance(app.screen, AdviceScreen), "the advice panel")
            advice = app.screen.advice
            assert advice.moves and "since the data began" in advice.basis
            if then is not None:
                await pilot.resize_terminal(*then)

                def cut_anew(room=then[0] - 4) -> bool:
                    return all(len(line) <= room for line in text_of(app.screen, "#advice-queues").splitlines())

                await until(pilot, cut_anew, "the panel cut anew")
            assert_the_hebrew_panel_reads_from_the_right(app, advice, (then or first)[0])
