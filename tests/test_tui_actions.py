"""Supervisor actions from the desk, end to end on a real Redis: the desk (Pilot) sends typed requests with the
user's token, a real Executor on the simulated centre (SimBackend, quiet scenario) performs and audits them, an
Engine turns the centre's events into the snapshots the desk shows. One ManualClock drives the desk, the executor
and the snapshots' time, so countdowns and auto-reverts move only when the test says so."""

from __future__ import annotations

import io
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from tests.conftest import unwire
from rich.console import Console

from wallboard.actions.auth import issue
from wallboard.actions.executor import Executor
from wallboard.actions.model import Spy
from wallboard.actions.sim_backend import SimBackend
from wallboard.clock import ManualClock
from wallboard.config import load_config
from wallboard.engine import Engine
from wallboard.events import SpyChanged, utc
from wallboard.keys import Keys
from wallboard.sim import SimCentre, scenario_by_name

from . import polling
from .conftest import redis_url
from .ui_seen import Notices, requests_sent

ROOT = Path(__file__).resolve().parent.parent
START = datetime(2026, 11, 23, 9, 0, tzinfo=ZoneInfo("Asia/Jerusalem"))
SIZE = (100, 30)
# the desk names the call by its caller (masked, as the desk saw it waiting), queue and how long it has lasted:
# answered at 09:00:04.938, kept to the second in the snapshot (as the agent row's Time shows it), 09:00:13 now
WHISPER_TEXT = (
    "Whisper to Dana on the call with ***4567 (Technical support, 0:09 so far) — the agent hears you, "
    "the caller will not hear you"
)
# the audit (`wallboard audit`) names the call by its queue and how long it has lasted (the executor never saw the
# caller waiting); its id is kept in the entry's call_id
AUDIT_TEXT = (
    "Whisper to Dana on the call (Technical support, 0:09 so far) — the agent hears you, the caller will not hear you"
)


@pytest.fixture
def secret_env(monkeypatch):
    monkeypatch.setenv("WALLBOARD_TOKEN_SECRET", "test-secret-123")
    for name in ("WALLBOARD_TOKEN", "WALLBOARD_TOKEN_FILE"):
        monkeypatch.delenv(name, raising=False)


def _config(prefix: str):
    """The example centre (rivka: supervisor, moshe: team lead) plus vera, a viewer with no permissions."""
    path = ROOT / "config" / "wallboard.toml"
    base = load_config(path, redis={"prefix": prefix})
    roles = {**{k: v.model_dump() for k, v in base.roles.items()}, "viewer": {"permissions": []}}
    users = [u.model_dump() for u in base.users] + [{"name": "vera", "roles": ["viewer"]}]
    return load_config(
        path, redis={"prefix": prefix, "url": redis_url()}, display={"stale_after_s": 3600}, roles=roles, users=users
    )


class Floor:
    """The simulated centre with its engine (snapshots) and executor (actions), on one ManualClock."""

    def __init__(self, client, config, clock: ManualClock):
        self.r = client
        self.config = config
        self.clock = clock
        self.keys = Keys(config.redis.prefix)
        self.centre = SimCentre(config, scenario_by_name("quiet", [q.name for q in config.queues]), 1, clock.now())
        self.backend = SimBackend(self.centre)
        self.engine = Engine(client, config, self.keys)
        self.executor = Executor(client, config, self.backend, clock=clock, name="test-executor")

    async def start(self) -> None:
        await self.engine.start()
        await self.executor.ensure_group()
        await self.publish()

    async def publish(self, *extra) -> int:
        """Run the centre to now, apply its events (and ``extra`` ones), publish a snapshot; its seq."""
        now = self.clock.now()
        await self.engine.apply(self.centre.advance_to(now) + list(extra))
        snap = await self.engine.build_snapshot(now)
        snap, _ = self.engine.evaluate(snap, await self.engine.load_levels(), now)
        return (await self.engine.publish(snap)).seq

    async def audit(self) -> list[dict]:
        return [f for _, f in await self.r.xrange(f"{self.keys.centre}:audit")]

    async def requests(self) -> list[dict]:
        return [f for _, f in await self.r.xrange(self.keys.requests)]


@pytest.fixture
async def floor(redis_client, prefix, secret_env):
    config = _config(prefix)
    f = Floor(redis_client, config, ManualClock(START))
    await f.start()
    yield f
    keys = [k async for k in redis_client.scan_iter(match=f"{prefix}:*", count=1000)]
    if keys:
        await redis_client.unlink(*keys)


def make_app(floor: Floor, user: str):
    from wallboard.ui.app import build_desk_app

    token = issue(floor.config, user, now=floor.clock.now().timestamp())
    return build_desk_app(floor.config, redis_url(), user=user, clock=floor.clock, token=token)


async def until(pilot, predicate, what: str, timeout: float = 5.0) -> None:
    """Let the app run until ``predicate()`` holds (Redis I/O and workers, never time-dependent behaviour)."""
    await polling.until(predicate, what, timeout=timeout, every=0.02, pilot=pilot)


def agents_seq(app, seq: int):
    """The desk holds the agents part ``seq`` (or later) and has drawn it (its tables are drawn one a frame)."""
    return lambda: app.agents is not None and app.agents.seq >= seq and app.summary is not None and not app.panels_due


def shown(app, agent: str, col: str) -> str:
    from wallboard.ui.tables import KeyedTable

    cell = app.screen.query_one("#agents", KeyedTable).shown(agent, col)
    assert cell is not None, f"no cell {agent}/{col}"
    return cell[0]


def footer_keys(app) -> set[str]:
    """The actions the footer offers now."""
    return {b.binding.action for b in app.screen.active_bindings.values() if b.binding.show}


def noticed(notices, text: str):
    return lambda: any(text in m for m, _ in notices)


def screen_text(app) -> str:
    """What the terminal shows now, as text (the SVG snapshots' rendering, exported as plain text)."""
    width, height = app.size
    console = Console(
        width=width,
        height=height,
        file=io.StringIO(),
        force_terminal=True,
        record=True,
        legacy_windows=False,
        safe_box=False,
    )
    console.print(app.screen._compositor.render_update(full=True, screen_stack=app._background_screens))
    return console.export_text()


def help_line(text: str, binding: str) -> list[str]:
    """The help's line for a binding id: [key, label words..., id]."""
    [line] = [ln.split() for ln in text.splitlines() if ln.split() and ln.split()[-1] == binding]
    return line


async def select_agent(pilot, app, agent: str) -> None:
    app.agent_table.focus()
    app.agent_table.select_key(agent)
    await pilot.pause()
    assert app.focused_agent_table() is app.agent_table and app.agent_table.selected_key == agent


# ---- tests ---------------------------------------------------------------------------------------------------


async def test_listen_needs_an_agent_on_a_call_not_a_call_id(floor):
    """The spy keys go by the agent's state: an agent available whose snapshot still carries the last call's
    id, or whose phone is ringing, is not on a call (nothing to listen to); on the call, the key confirms."""
    from wallboard.events import AgentStateChanged
    from wallboard.ui.dialogs import ConfirmScreen

    floor.centre.schedule_caller("tech", START + timedelta(seconds=1), talk_s=600)
    floor.clock.advance(2)
    # Dana's phone rings from 1 s (she answers at 5 s); Omer is available, with the id of a call he had
    seq = await floor.publish(
        AgentStateChanged(
            id="o1", ts=floor.clock.now(), source="t", agent="1004", state="available", call_id="1795417000.9"
        )
    )
    app = make_app(floor, "rivka")
    notices = Notices()
    async with app.run_test(size=SIZE, message_hook=notices) as pilot:
        await until(pilot, agents_seq(app, seq), "the snapshot with Dana ringing")
        omer, dana = app.agents.agents["1004"], app.agents.agents["1002"]
        assert (omer.state, omer.call_id) == ("available", "1795417000.9") and dana.state == "ringing"
        for agent, name in (("1004", "Omer"), ("1002", "Dana")):
            await select_agent(pilot, app, agent)
            assert not app.screen.active_bindings["l"].enabled
            await pilot.press("l")
            assert notices[-1] == (f"{name} is not on a call: nothing to listen to", "warning")
            assert not isinstance(app.screen, ConfirmScreen)
        floor.clock.advance(4)
        seq = await floor.publish()
        await until(pilot, agents_seq(app, seq), "the snapshot with Dana on the call")
        assert app.agents.agents["1002"].state == "on_call"
        await pilot.pause()
        assert app.screen.active_bindings["l"].enabled
        await pilot.press("l")
        assert isinstance(app.screen, ConfirmScreen)
        assert str(app.screen.query_one("#confirm-text").render()).startswith("Listen to Dana on the call")
        await pilot.press("escape")
    assert requests_sent(app) == []


async def test_whisper_confirm_send_and_outcome(floor):
    floor.centre.schedule_caller("tech", START + timedelta(seconds=1), talk_s=600, number="0521234567")
    floor.clock.advance(2)
    seq = await floor.publish()  # the caller waits in tech (Dana's phone rings from 1 s, she answers at 5 s)
    app = make_app(floor, "rivka")
    notices = Notices()
    async with app.run_test(size=SIZE, message_hook=notices) as pilot:
        from wallboard.ui.dialogs import ConfirmScreen

        await until(pilot, agents_seq(app, seq), "the snapshot with the caller waiting")
        assert [c.caller for c in app.summary.queues["tech"].callers] == ["***4567"]
        floor.clock.advance(11)
        seq = await floor.publish()  # Dana on call 1795417201.1 since 09:00:04
        await until(pilot, agents_seq(app, seq), "the snapshot with Dana on a call")
        assert app.agents.agents["1002"].call_id == "1795417201.1"
        # the queue table has focus: the agent keys are not in the footer, a press says what to do
        assert "whisper" not in footer_keys(app)
        await pilot.press("w")
        assert notices[-1] == ("Select an agent first: tab to the Agents table", "warning")
        # Omer (1004) is free: listening is shown but not possible, and the key says why
        await select_agent(pilot, app, "1004")
        assert {"listen", "whisper", "barge", "move", "pause"} <= footer_keys(app)
        assert not app.screen.active_bindings["w"].enabled
        await pilot.press("w")
        assert notices[-1] == ("Omer is not on a call: nothing to whisper on", "warning")
        assert not isinstance(app.screen, ConfirmScreen)

        await select_agent(pilot, app, "1002")
        assert app.screen.active_bindings["w"].enabled
        await pilot.press("w")
        assert isinstance(app.screen, ConfirmScreen)
        assert str(app.screen.query_one("#confirm-text").render()) == WHISPER_TEXT
        # all of it on screen, wrapped inside the box (no word cut at its edge)
        box = [
            ln[ln.index("│") + 1 : ln.rindex("│")].strip() for ln in screen_text(app).splitlines() if ln.count("│") >= 2
        ]
        assert WHISPER_TEXT in " ".join(part for part in box if part)
        # escape cancels: nothing sent
        await pilot.press("escape")
        assert not isinstance(app.screen, ConfirmScreen) and requests_sent(app) == []
        await pilot.press("w")
        await pilot.press("n")
        assert requests_sent(app) == []
        # enter confirms: the request lands in the stream with the user and the token
        await pilot.press("w")
        await pilot.press("enter")
        await until(pilot, lambda: len(requests_sent(app)) == 1, "the whisper request")
        [req] = await floor.requests()
        assert unwire(req, app.token) == {
            "type": "whisper",
            "user": "rivka",
            "agent": "1002",
            "call_id": "1795417201.1",
            "keypad": "0",
            "at": utc(floor.clock.now()),
        }
        assert app.pending
        # the executor performs it; the desk shows the outcome when the audit entry arrives
        assert await floor.executor.process_pending() == 1
        await until(
            pilot,
            noticed(notices, "Whisper to Dana on the call with ***4567 (Technical support, 0:09 so far): ok"),
            "the outcome notice",
        )
        assert notices[-1][1] == "information" and not app.pending
        assert not any("1795417201" in m for m, _ in notices)  # no call id in front of the supervisor
        assert floor.backend.spies == [("PJSIP/2001", "1002", "whisper", False)]
        [entry] = await floor.audit()
        assert entry["result"] == "ok" and entry["detail"] == AUDIT_TEXT and entry["user"] == "rivka"
        assert entry["call_id"] == "1795417201.1"

        # ChanSpyStart: the row shows who listens and how, while it lasts; escalation is the new mode
        seq = await floor.publish(
            SpyChanged(
                id="spy-1", ts=floor.clock.now(), source="t", agent="1002", active=True, by="rivka", mode="whisper"
            )
        )
        await until(pilot, agents_seq(app, seq), "the snapshot with the spy")
        assert shown(app, "1002", "state") == "on call · rivka:whisper"
        await pilot.press("b")
        assert isinstance(app.screen, ConfirmScreen)
        assert str(app.screen.query_one("#confirm-text").render()) == (
            "Barge to Dana on the call with ***4567 (Technical support, 0:09 so far) — both the agent and the "
            "caller hear you"
        )
        assert "re-originates it in barge mode" in str(app.screen.query_one("#confirm-note").render())
        await pilot.press("k")  # keypad mode, said as such
        assert str(app.screen.query_one("#confirm-text").render()).endswith("(keypad: 4 listen, 5 whisper, 6 barge)")
        await pilot.press("y")
        await until(pilot, lambda: len(requests_sent(app)) == 2, "the barge request")
        assert (await floor.requests())[-1]["keypad"] == "1"
        await floor.executor.process_pending()
        await until(
            pilot,
            noticed(notices, "Barge to Dana on the call with ***4567 (Technical support, 0:09 so far): ok"),
            "the barge outcome",
        )
        seq = await floor.publish(
            SpyChanged(
                id="spy-2", ts=floor.clock.now(), source="t", agent="1002", active=True, by="rivka", mode="keypad"
            )
        )
        await until(pilot, agents_seq(app, seq), "keypad mode")
        assert shown(app, "1002", "state") == "on call · rivka:keypad"
        seq = await floor.publish(
            SpyChanged(id="spy-3", ts=floor.clock.now(), source="t", agent="1002", active=False, by="rivka")
        )
        await until(pilot, agents_seq(app, seq), "the spy ended")
        assert shown(app, "1002", "state") == "on call"


async def test_no_outcome_yet_when_no_executor_runs(floor):
    app = make_app(floor, "rivka")
    notices = Notices()
    async with app.run_test(size=SIZE, message_hook=notices) as pilot:
        await until(pilot, agents_seq(app, 1), "the first snapshot")
        await select_agent(pilot, app, "1005")
        await pilot.press("p")
        from wallboard.ui.dialogs import ConfirmScreen, PauseReasonScreen

        assert isinstance(app.screen, PauseReasonScreen)
        offered = app.screen.query_one("#reason-list")
        prompts = [str(offered.get_option_at_index(i).prompt) for i in range(offered.option_count)]
        assert prompts == ["1  break", "2  coaching", "3  meeting", "4  lunch", "5  training", "6  other"]
        # keys that are digits but pick nothing: beyond the six, 0, and a superscript two (AZERTY's key left of
        # 1; str.isdigit says yes, int() refuses it): the dialog stays, nothing is sent, the desk does not fall
        await pilot.press("7", "0", "²", "٣")
        assert isinstance(app.screen, PauseReasonScreen) and requests_sent(app) == []
        await pilot.press("down", "enter")  # coaching
        assert isinstance(app.screen, ConfirmScreen)
        assert str(app.screen.query_one("#confirm-text").render()) == "Pause Yael (coaching)"
        await pilot.press("enter")
        await until(pilot, lambda: len(requests_sent(app)) == 1, "the pause request")
        floor.clock.advance(9)
        app.tick()
        await pilot.pause()
        assert not any("no outcome yet" in m for m, _ in notices)
        floor.clock.advance(2)
        app.tick()
        await pilot.pause()
        assert notices[-1] == ("Pause Yael (coaching): no outcome yet: is the executor running?", "warning")
        assert not app.pending
        # the executor comes later: the pause happens, the row follows, and p now unpauses
        await floor.executor.process_pending()
        seq = await floor.publish()
        await until(pilot, agents_seq(app, seq), "Yael paused")
        assert shown(app, "1005", "state") == "paused:coaching"
        assert "unpause" in footer_keys(app) and "pause" not in footer_keys(app)
        await pilot.press("p")
        assert str(app.screen.query_one("#confirm-text").render()) == "Unpause Yael"


async def test_a_viewer_is_not_offered_actions_and_a_forced_request_is_refused(floor):
    floor.centre.schedule_caller("tech", START + timedelta(seconds=1), talk_s=600)
    floor.clock.advance(10)
    seq = await floor.publish()
    app = make_app(floor, "vera")
    notices = Notices()
    async with app.run_test(size=SIZE, message_hook=notices) as pilot:
        from wallboard.ui.screens import HelpScreen

        await until(pilot, agents_seq(app, seq), "the snapshot")
        assert app.allowed == frozenset()
        await select_agent(pilot, app, "1002")
        offered = footer_keys(app)
        assert not offered & {"listen", "whisper", "barge", "move", "pause", "unpause", "ack", "snooze"}
        assert "toggle_flash" in offered and "help" in offered
        for key in "lwbmp":
            await pilot.press(key)
        assert app.screen is app.screen_stack[0] and requests_sent(app) == []
        assert notices[-5:] == [
            (f"vera may not {a} (not offered)", "warning") for a in ("listen", "whisper", "barge", "move", "pause")
        ]
        titles = [c.title for c in app.get_system_commands(app.screen)]
        assert not {"Listen", "Whisper", "Barge", "Move agent", "Pause / unpause agent", "Acknowledge"} & set(titles)
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        text = str(app.screen.query_one("#help-text").render())
        last_words = [line.split()[-1] for line in text.splitlines() if line.split()]
        listed = {w for w in last_words if w.startswith("wallboard.")}
        assert listed == {"wallboard.drill", "wallboard.flash", "wallboard.help", "wallboard.quit", "wallboard.back"}
        await pilot.press("escape")
        # forced through the desk's own sending path: the executor refuses and audits it; the desk says so
        forced = Spy(type="whisper", user="vera", agent="1002", call_id="1795417201.1", at=floor.clock.now())
        rid = await app.send_action(forced, "Dana")
        [req] = await floor.requests()
        assert unwire(req, app.token)["user"] == "vera"
        await floor.executor.process_pending()
        [entry] = await floor.audit()
        assert entry["request"] == rid and entry["result"].startswith("refused: vera may not whisper")
        await until(
            pilot,
            noticed(notices, "Whisper to Dana on call 1795417201.1: refused: vera may not whisper"),
            "the refusal",
        )
        assert notices[-1][1] == "error"
        assert floor.backend.spies == []


async def test_move_with_auto_revert_counts_down_and_reverts_on_time(floor):
    app = make_app(floor, "rivka")
    notices = Notices()
    async with app.run_test(size=SIZE, message_hook=notices) as pilot:
        from wallboard.ui.dialogs import Choice, ConfirmScreen, MoveScreen

        await until(pilot, agents_seq(app, 1), "the first snapshot")
        assert shown(app, "1002", "queues") == "tech"
        await select_agent(pilot, app, "1002")
        await pilot.press("m")
        assert isinstance(app.screen, MoveScreen)
        dialog = app.screen
        table = dialog.query_one("#move-queues")
        # Dana's skills first, then the other queues, each with its level and waiting count
        assert [k.value for k in table.rows] == ["tech", "support", "billing", "sales"]
        assert [c.plain for c in table.get_row("tech")] == ["tech", "Technical support", "pen 0", "ok", "0"]
        assert [c.plain for c in table.get_row("support")][2:] == ["-", "ok", "0"]
        dialog.select_queue("support")
        await pilot.pause()
        assert dialog.op == "add"  # not a member: add
        assert str(dialog.query_one("#move-preview").render()) == "Add Dana to support at penalty 0"
        await pilot.press("tab", "tab", "tab")  # operation, penalty, auto-revert
        assert isinstance(app.focused, Choice) and app.focused.id == "move-revert"
        await pilot.press("right")
        assert dialog.revert_minutes == 15
        assert str(dialog.query_one("#move-preview").render()) == "Add Dana to support at penalty 0, back in 15 min"
        text = screen_text(app)
        assert "Move Dana (1002)" in text and "Auto-revert  ○ off  ● 15 min  ○ 30 min  ○ 60 min" in text
        await pilot.press("enter")
        assert isinstance(app.screen, ConfirmScreen)
        assert str(app.screen.query_one("#confirm-text").render()) == "Add Dana to support at penalty 0, back in 15 min"
        await pilot.press("enter")
        await until(pilot, lambda: len(requests_sent(app)) == 1, "the move request")
        [req] = await floor.requests()
        assert unwire(req, app.token) == {
            "type": "move",
            "user": "rivka",
            "agent": "1002",
            "queue": "support",
            "op": "add",
            "penalty": "0",
            "revert_after_s": "900.0",
            "at": utc(START),
        }
        await floor.executor.process_pending()
        await until(pilot, noticed(notices, "Add Dana to support at penalty 0, back in 15 min: ok"), "the outcome")
        seq = await floor.publish()
        await until(pilot, lambda: agents_seq(app, seq)() and "1002" in app.reverts, "the move and its revert")
        assert shown(app, "1002", "queues") == "support(15:00),tech"
        # the countdown ticks on the desk's clock
        floor.clock.advance(600)
        app.tick()
        await pilot.pause()
        assert shown(app, "1002", "queues") == "support(5:00),tech"
        # the executor reverts on time (not a second early), the row follows the next snapshot
        floor.clock.advance(299)
        assert await floor.executor.run_due_reverts() == 0
        floor.clock.advance(1)
        assert await floor.executor.run_due_reverts() == 1
        assert "support" not in floor.centre.member_queues("1002")
        seq = await floor.publish()
        await until(pilot, lambda: agents_seq(app, seq)() and not app.reverts, "the reverted snapshot")
        assert shown(app, "1002", "queues") == "tech"
        audit = await floor.audit()
        assert audit[-1]["detail"].startswith("auto-revert of") and audit[-1]["result"] == "ok"


async def test_move_dialog_checks_the_operation(floor):
    app = make_app(floor, "moshe")  # a team lead: listen, pause, unpause, ack on support and billing; no move
    notices = Notices()
    async with app.run_test(size=SIZE, message_hook=notices) as pilot:
        await until(pilot, agents_seq(app, 1), "the first snapshot")
        await select_agent(pilot, app, "1001")
        assert {"listen", "pause"} <= footer_keys(app) and not footer_keys(app) & {"move", "whisper", "barge"}
        await pilot.press("m")
        assert notices[-1] == ("moshe may not move (not offered)", "warning")
    app = make_app(floor, "rivka")
    async with app.run_test(size=SIZE, message_hook=notices) as pilot:
        from wallboard.ui.dialogs import MoveScreen

        await until(pilot, agents_seq(app, 1), "the first snapshot")
        await select_agent(pilot, app, "1001")  # Gefen: support 0, tech 1
        await pilot.press("m")
        dialog = app.screen
        assert isinstance(dialog, MoveScreen)
        dialog.select_queue("tech")
        await pilot.pause()
        assert dialog.op == "penalty" and dialog.penalty == 1  # a member: its penalty now, to change
        preview = dialog.query_one("#move-preview")
        assert "is at penalty 1 in tech now" in str(preview.render())
        await pilot.press("enter")  # nothing to do: not sent, said why
        assert app.screen is dialog
        await pilot.press("tab", "tab", "backspace", "3")
        assert str(preview.render()) == "Set Gefen's penalty in tech to 3"
        await pilot.press("shift+tab", "left")  # remove
        assert dialog.op == "remove" and str(preview.render()) == "Remove Gefen from tech"
        await pilot.press("escape")
        assert app.screen is app.screen_stack[0] and requests_sent(app) == []


async def test_action_keys_remap_and_the_palette_and_the_drill_down(floor):
    floor.centre.schedule_caller("tech", START + timedelta(seconds=1), talk_s=600)
    floor.clock.advance(10)
    seq = await floor.publish()
    config = floor.config.model_copy(
        update={
            "display": floor.config.display.model_copy(
                update={"keys": {"wallboard.whisper": "v", "wallboard.pause": "z"}}
            )
        }
    )
    floor.config = config
    app = make_app(floor, "rivka")
    async with app.run_test(size=SIZE) as pilot:
        from textual.command import CommandPalette

        from wallboard.ui.dialogs import ConfirmScreen, PauseReasonScreen
        from wallboard.ui.screens import DrillDownScreen, HelpScreen

        await until(pilot, agents_seq(app, seq), "the snapshot")
        await select_agent(pilot, app, "1002")
        await pilot.press("w")  # no longer bound
        assert app.screen is app.screen_stack[0]
        await pilot.press("v")
        assert isinstance(app.screen, ConfirmScreen)
        # the desk came up after the caller was answered: no number to show, still no call id
        assert str(app.screen.query_one("#confirm-text").render()) == (
            "Whisper to Dana on the call (Technical support, 0:06 so far) — the agent hears you, the caller will "
            "not hear you"
        )
        await pilot.press("escape")
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        text = str(app.screen.query_one("#help-text").render())
        assert help_line(text, "wallboard.whisper")[:2] == ["v", "Whisper"]
        assert help_line(text, "wallboard.pause")[:2] == ["z", "Pause/unpause"]
        await pilot.press("escape")
        # the command palette offers the actions the user may take, on the selected agent
        titles = [c.title for c in app.get_system_commands(app.screen)]
        for want in ("Listen", "Whisper", "Barge", "Move agent", "Pause / unpause agent", "Acknowledge"):
            assert want in titles
        await pilot.press("ctrl+p")
        await pilot.pause()
        assert isinstance(app.screen, CommandPalette)
        await pilot.press(*"barge", "enter")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the confirmation from the palette")
        assert str(app.screen.query_one("#confirm-text").render()).startswith(
            "Barge to Dana on the call (Technical support, 0:06 so far) — "
        )
        await pilot.press("escape")
        # the drill-down's agents take the same keys
        app.queue_table.focus()
        app.queue_table.select_key("tech")
        await pilot.press("enter")
        assert isinstance(app.screen, DrillDownScreen)
        drill_agents = app.screen.query_one("#drill-agents")
        drill_agents.focus()
        drill_agents.select_key("1006")
        await pilot.pause()
        assert app.focused_agent_table() is drill_agents
        await pilot.press("z")
        assert isinstance(app.screen, PauseReasonScreen)
        await pilot.press("3")  # meeting
        assert str(app.screen.query_one("#confirm-text").render()) == "Pause Itai (meeting)"


def test_the_token_comes_from_the_argument_the_environment_or_a_file(monkeypatch, tmp_path):
    from wallboard.ui.requests import NO_TOKEN, resolve_token, token_problem

    config = _config("wbtest-token")
    for name in ("WALLBOARD_TOKEN", "WALLBOARD_TOKEN_FILE", "WALLBOARD_TOKEN_RIVKA"):
        monkeypatch.delenv(name, raising=False)
    assert resolve_token(config, "rivka") == ""
    monkeypatch.setenv("WALLBOARD_TOKEN_RIVKA", "from-user-env")  # [[users]] token_env
    assert resolve_token(config, "rivka") == "from-user-env"
    path = tmp_path / "token"
    path.write_text("from-file\n")
    monkeypatch.setenv("WALLBOARD_TOKEN_FILE", str(path))
    assert resolve_token(config, "rivka") == "from-file"
    monkeypatch.setenv("WALLBOARD_TOKEN", "from-env")
    assert resolve_token(config, "rivka") == "from-env"
    assert resolve_token(config, "rivka", "from-arg") == "from-arg"
    now = START.timestamp()
    assert token_problem("", "rivka", now) == NO_TOKEN
    assert token_problem("rivka.abc", "rivka", now) == "the token is malformed: requests will be refused"
    assert token_problem(f"moshe.{int(now) + 60}.sig", "rivka", now).startswith("the token is moshe's")
    assert token_problem(f"rivka.{int(now) - 1}.sig", "rivka", now).startswith("the token has expired")
    assert token_problem(f"rivka.{int(now) + 60}.sig", "rivka", now) is None


async def test_without_a_token_nothing_is_sent(floor, monkeypatch):
    from wallboard.ui.app import build_desk_app
    from wallboard.ui.requests import NO_TOKEN

    monkeypatch.delenv("WALLBOARD_TOKEN_RIVKA", raising=False)
    app = build_desk_app(floor.config, redis_url(), user="rivka", clock=floor.clock)
    notices = Notices()
    async with app.run_test(size=SIZE, message_hook=notices) as pilot:
        await until(pilot, agents_seq(app, 1), "the first snapshot")
        assert app.token == "" and (NO_TOKEN, "warning") in notices
        await select_agent(pilot, app, "1002")
        await pilot.press("m")
        assert app.screen is app.screen_stack[0] and notices[-1] == (NO_TOKEN, "error")
        assert await floor.requests() == []


def test_the_agent_row_shows_spies_and_temporary_moves():
    from wallboard.clock import ManualClock as Clock
    from wallboard.snapshot import AgentSnapshot
    from wallboard.livetime import ServerTime
    from wallboard.ui.requests import parse_reverts
    from .ui_seen import agent_rows

    server = ServerTime(Clock(START))
    due = START.timestamp() + 125
    reverts = parse_reverts(
        [
            ('{"request": "1-0", "user": "rivka", "agent": "1001", "queue": "support", "op": "remove"}', due),
            (
                '{"request": "2-0", "user": "rivka", "agent": "1001", "queue": "billing", "op": "add", "penalty": 1}',
                due + 60,
            ),
            (
                '{"request": "3-0", "user": "rivka", "agent": "1001", "queue": "tech", "op": "penalty", "penalty": 1}',
                START.timestamp() - 1,
            ),
            ("not json", due),
        ]
    )
    a = AgentSnapshot(
        name="Gefen",
        state="on_call",
        call_id="1.2",
        queues={"support": 0, "tech": 0},
        spied_by={"rivka": "keypad", "moshe": "unknown"},
    )
    [row] = agent_rows({"1001": a}, server, reverts=reverts)
    assert row.cells["state"].text == "on call · moshe:spying,rivka:keypad"
    assert row.cells["queues"].text == "support(2:05),tech(due),-billing(3:05)"
    assert row.cells["queues"].level == "warn"
    [row] = agent_rows({"1001": a.model_copy(update={"spied_by": {}})}, server, reverts={})
    assert (row.cells["state"].text, row.cells["queues"].text) == ("on call", "support,tech")
