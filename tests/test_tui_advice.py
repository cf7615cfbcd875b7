"""The desk's advice panel (v): the advisor's moves on the desk's latest snapshot, applied through ``move``."""

from __future__ import annotations

import asyncio

import pytest

from tests.conftest import unwire

from wallboard.actions.auth import issue
from wallboard.clock import ManualClock
from wallboard.config import load_config
from wallboard.keys import Keys

from .conftest import redis_url
from .test_advisor import LOADS, estimate, make_snapshot

SIZE = (120, 40)
AGENTS = [
    {"id": "g", "name": "Gefen", "skills": {"service": 0, "tech": 1}},
    {"id": "n", "name": "Noa", "skills": {"billing": 0, "tech": 1}},
    {"id": "o", "name": "Omer", "skills": {"sales": 0, "tech": 1}},
]


def _config(prefix: str):
    queues = [{"name": n, "label": label, "sl_threshold_s": 20, "short_abandon_s": 5,
               "thresholds": {"service_level": {"warn": 0.8, "breach": 0.7, "direction": "below",
                                                "window": "rolling"}}}
              for n, label in (("tech", "Tech support"), ("service", "Service"), ("billing", "Billing"),
                               ("sales", "Sales"))]  # fmt: skip
    roles = {"supervisor": {"permissions": ["move", "ack", "snooze"]}, "viewer": {"permissions": ["ack"]}}
    users = [{"name": "rivka", "roles": ["supervisor"]}, {"name": "vera", "roles": ["viewer"]}]
    return load_config(None, queues=queues, agents=AGENTS, roles=roles, users=users,
                       redis={"prefix": prefix, "url": redis_url()}, display={"stale_after_s": 3600})  # fmt: skip


@pytest.fixture
def desk(redis_client, prefix, monkeypatch):
    monkeypatch.setenv("WALLBOARD_TOKEN_SECRET", "test-secret-123")
    for name in ("WALLBOARD_TOKEN", "WALLBOARD_TOKEN_FILE"):
        monkeypatch.delenv(name, raising=False)
    config = _config(prefix)
    members = {"g": {"service": 0}, "n": {"billing": 0}, "o": {"sales": 0}}
    members |= {f"t{i}": {"tech": 0} for i in range(6)}
    members |= {f"s{i}": {"service": 0} for i in range(5)}
    members |= {f"b{i}": {"billing": 0} for i in range(4)}
    members |= {f"x{i}": {"sales": 0} for i in range(4)}
    snap = make_snapshot(config, members, {"o": "on_call"})
    seen = []

    async def fake_estimates(client, cfg, now, settings=None, keys=None, queues=None):
        seen.append((client, keys))
        return {q: estimate(q, *v) for q, v in LOADS.items()}

    import wallboard.ui.app as app_mod

    monkeypatch.setattr(app_mod, "read_estimates", fake_estimates)
    return config, snap, seen


async def _start(redis_client, config, snap, user):
    from datetime import datetime, timezone

    from wallboard.ui.app import build_desk_app

    keys = Keys(config.redis.prefix)
    await redis_client.set(keys.summary, snap.summary_json())
    await redis_client.set(keys.agents_detail, snap.agents_json())
    clock = ManualClock(datetime(2026, 11, 23, 9, 0, tzinfo=timezone.utc))
    token = issue(config, user, now=clock.now().timestamp())
    return build_desk_app(config, redis_url(), user=user, clock=clock, token=token), keys


async def until(pilot, predicate, what, timeout=5.0):
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not predicate():
        if loop.time() > end:
            raise AssertionError(f"timed out waiting for {what}")
        await pilot.pause(0.02)
    await pilot.pause()


async def test_advice_panel_applies_the_first_move(desk, redis_client):
    from wallboard.ui.dialogs import AdviceScreen, ConfirmScreen

    config, snap, seen = desk
    app, keys = await _start(redis_client, config, snap, "rivka")
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.summary is not None and app.agents is not None, "the snapshot")
        await pilot.press("v")
        await until(pilot, lambda: isinstance(app.screen, AdviceScreen), "the advice panel")
        panel = app.screen
        assert seen and seen[0][1] == app.keys  # the desk's Redis client and keys
        first = panel.advice.moves[0]
        assert first.text.startswith("Move Gefen: Service → Tech support")
        queues = str(panel.query_one("#advice-queues").render())
        assert "Tech support" in queues and "Required" in queues and "Staffed" in queues
        tech = panel.advice.queues["tech"]
        assert f"{tech.required:>8} {6:>7}  short" in queues
        options = panel.query_one("#advice-moves")
        assert options.get_option_at_index(0).prompt == first.text
        await pilot.press("enter")
        assert isinstance(app.screen, ConfirmScreen)
        assert str(app.screen.query_one("#confirm-text").render()) == "Add Gefen to tech at penalty 0"
        await pilot.press("enter")
        await until(pilot, lambda: len(app.requests_sent) == 1, "the add request")
        # the move's second step (leave service) is confirmed on its own
        assert isinstance(app.screen, ConfirmScreen)
        assert str(app.screen.query_one("#confirm-text").render()) == "Remove Gefen from service"
        await pilot.press("enter")
        await until(pilot, lambda: len(app.requests_sent) == 2, "the remove request")
        reqs = [unwire(f, app.token) for _, f in await redis_client.xrange(keys.requests)]
        common = {"type": "move", "user": "rivka", "agent": "g", "penalty": "0"}
        assert {k: reqs[0][k] for k in common} == common and (reqs[0]["queue"], reqs[0]["op"]) == ("tech", "add")
        assert {k: reqs[1][k] for k in common} == common and (reqs[1]["queue"], reqs[1]["op"]) == ("service", "remove")
        assert any(n.endswith("— sent") for n, _ in app.notices)
        assert app.screen is app.screen_stack[0]


async def test_advice_needs_move_and_says_when_there_is_none(desk, redis_client, monkeypatch):
    from wallboard.ui.dialogs import AdviceScreen

    config, snap, _ = desk
    app, _ = await _start(redis_client, config, snap, "vera")
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.summary is not None, "the snapshot")
        await pilot.press("v")
        assert app.notices[-1] == ("vera may not move (not offered)", "warning")
        assert "Advice" not in [c.title for c in app.get_system_commands(app.screen)]

    import wallboard.ui.app as app_mod

    async def nothing(*a, **k):
        return {}

    monkeypatch.setattr(app_mod, "read_estimates", nothing)
    app, _ = await _start(redis_client, config, snap, "rivka")
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.summary is not None, "the snapshot")
        assert "Advice" in [c.title for c in app.get_system_commands(app.screen)]
        await pilot.press("v")
        await until(pilot, lambda: isinstance(app.screen, AdviceScreen), "the advice panel")
        assert str(app.screen.query_one("#advice-empty").render()).startswith("No advice: no move would help now")
        await pilot.press("escape")
        assert app.screen is app.screen_stack[0] and app.requests_sent == []
