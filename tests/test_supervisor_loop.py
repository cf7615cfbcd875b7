"""What the supervisor did, seen on the desk, over the production path: the desk's requests -> the executor
(AmiBackend) -> the simulated PBX over AMI (Originate ChanSpy, QueuePenalty, Redirect) -> the events Asterisk
emits for them (ChanSpyStart/Stop, QueueMemberPenalty, AgentComplete) -> the ami feed -> the engine -> the
snapshot the desk renders. Checked on the rendered screen text, not only on the row models."""

from __future__ import annotations

import re
from datetime import timedelta

from wallboard.actions.ami_backend import AmiBackend
from wallboard.actions.auth import issue
from wallboard.actions.executor import Executor
from wallboard.actions.model import Move, Spy, Takeover
from wallboard.actions.submit import submit
from wallboard.keys import Keys

from .conftest import redis_url
from .polling import until
from .ui_seen import requests_sent
from .test_ami_e2e import START, Live, ami_env  # noqa: F401
from .test_tui_actions import screen_text


async def _publish(live: Live) -> int:
    now = live.clock.now()
    snap = await live.engine.build_snapshot(now)
    snap, _ = live.engine.evaluate(snap, await live.engine.load_levels(), now)
    return (await live.engine.publish(snap)).seq


async def test_listen_move_and_takeover_show_on_the_desk(redis_client, prefix, tmp_path, ami_env):  # noqa: F811
    from wallboard.ui.app import build_desk_app

    async with Live(redis_client, prefix, tmp_path, scenario="quiet") as live:
        config = live.config.model_copy(update={"redis": live.config.redis.model_copy(update={"url": redis_url()})})
        keys = Keys(prefix)
        backend = AmiBackend(config, host="127.0.0.1", port=live.pbx.port)
        ex = Executor(redis_client, config, backend, clock=live.clock)
        await ex.ensure_group()
        token = issue(config, "rivka", now=live.clock.now().timestamp())
        live.centre.schedule_caller("tech", START + timedelta(seconds=2), talk_s=600)
        await live.run_for(10)
        await live.settle()

        async def agent(aid: str):
            return (await live.engine.build_snapshot(live.clock.now())).agents[aid]

        dana = await agent("1002")  # tech 0: she answered
        assert dana.state == "on_call" and dana.call_id == live.centre.calls[0].call_id

        async def do(req) -> dict:
            await submit(redis_client, keys, [req.model_copy(update={"at": live.clock.now()})], token)
            await ex.process_pending()
            return [f for _, f in await redis_client.xrange(keys.audit)][-1]

        # listen: ChanSpyStart on Dana's device channel -> spied_by says who and how
        out = await do(Spy(type="listen", user="rivka", agent="1002", call_id=dana.call_id, at=live.clock.now()))
        assert out["result"] == "ok", out
        # `wallboard audit` names the call by its queue and time, as the desk's confirmation does
        assert re.fullmatch(
            r"Listen to Dana on the call \(Technical support, 0:\d\d so far\) — you hear both sides; nobody hears you",
            out["detail"],
        ), out["detail"]

        async def spied():
            await live.run_for(1)
            return (await agent("1002")).spied_by == {"rivka": "listen"}

        await until(spied, "ChanSpyStart through the feed")
        # a temporary move: penalty 0 in support for Omer (sales 0, support 1), back in 15 min
        out = await do(
            Move(
                user="rivka",
                agent="1004",
                queue="support",
                op="penalty",
                penalty=0,
                revert_after_s=900,
                at=live.clock.now(),
            )
        )
        assert out["result"] == "ok", out

        async def penalty():
            await live.run_for(1)
            return (await agent("1004")).queues == {"sales": 0, "support": 0}

        await until(penalty, "QueueMemberPenalty through the feed")
        seq = await _publish(live)

        app = build_desk_app(config, redis_url(), user="rivka", clock=live.clock, token=token)
        async with app.run_test(size=(160, 40)) as pilot:
            await until(
                lambda: app.agents is not None and app.agents.seq >= seq and app.reverts and not app.panels_due,
                "the desk showing the published snapshot and the pending revert",
                pilot=pilot,
                every=0.02,
            )
            text = screen_text(app)
            moved = next(line for line in text.splitlines() if " Omer " in line)
            left = app.reverts["1004"][0].left(app.server.now().timestamp())  # on the desk's server clock
            assert left.startswith("14:") and f"sales,support({left})" in moved  # shown whole, not cut
            heard = next(line for line in text.splitlines() if " Dana " in line)
            assert "on call · rivka:listen" in heard

            # take over Dana's call, from the desk: confirm, executor redirects, Dana drops out
            app.agent_table.focus()
            app.agent_table.select_key("1002")
            await pilot.pause()
            await pilot.press("t")
            from wallboard.ui.dialogs import ConfirmScreen

            assert isinstance(app.screen, ConfirmScreen)
            confirm = str(app.screen.query_one("#confirm-text").render())
            # the call as a supervisor knows it (this desk came up after it was answered: its queue and how long
            # it has lasted, not the PBX's id)
            assert re.fullmatch(
                r"Take over Dana's call \(Technical support, 0:\d\d so far\) — the caller is put "
                r"through to your phone; Dana drops out",
                confirm,
            ), confirm
            assert dana.call_id not in confirm
            await pilot.press("enter")
            await until(lambda: requests_sent(app), "the desk to send the takeover", pilot=pilot, every=0.02)
            await ex.process_pending()
            audit = [f for _, f in await redis_client.xrange(keys.audit)][-1]
            assert (audit["type"], audit["user"], audit["agent"], audit["result"]) == (
                "takeover",
                "rivka",
                "1002",
                "ok",
            ), audit
            assert audit["pbx"] == "Redirect successful"

            async def dropped():
                await live.run_for(1)
                a = await agent("1002")
                return a.state != "on_call" and a.spied_by == {}

            await until(dropped, "AgentComplete (and ChanSpyStop) through the feed")
            calls = live.centre.calls
            assert calls[0].outcome == "answered" and calls[0].agent == "1002"
            seq = await _publish(live)
            await until(
                lambda: app.agents.seq >= seq and app.takeovers and not app.panels_due,
                "the desk showing the snapshot after the takeover",
                pilot=pilot,
                every=0.02,
            )
            line = next(x for x in screen_text(app).splitlines() if " Dana " in x)
            assert "taken:rivka" in line and "rivka:listen" not in line
        await backend.close()
    # the PBX's own trail (its queue_log, written by the QueueLog action after each one) names the supervisor
    rows = [r.split("|") for r in live.queue_log.read_text().splitlines() if "|WALLBOARD|" in r]
    dana_dev = next(a for a in config.agents if a.id == "1002").interface
    omer_dev = next(a for a in config.agents if a.id == "1004").interface
    assert [(r[1], r[2], r[3], r[5]) for r in rows] == [
        (dana.call_id, "NONE", dana_dev, "listen by rivka"),
        ("NONE", "support", omer_dev, "penalty 0 by rivka"),
        (dana.call_id, "NONE", dana_dev, "takeover by rivka"),
    ]


async def test_spying_on_an_agent_not_on_a_call_is_refused_and_audited(redis_client, prefix, tmp_path, ami_env):  # noqa: F811
    """Dana is available, her state still carrying her last call's id (a feed may send the state with the call
    it was about), or ringing: listen, whisper, barge and take over are refused by the executor, on the state in
    Redis when it performs them, and audited with the reason; the PBX is never asked (no ChanSpy, no Redirect)."""
    from wallboard.events import AgentStateChanged

    async with Live(redis_client, prefix, tmp_path, scenario="quiet") as live:
        keys = Keys(prefix)
        backend = AmiBackend(live.config, host="127.0.0.1", port=live.pbx.port)
        ex = Executor(redis_client, live.config, backend, clock=live.clock)
        await ex.ensure_group()
        token = issue(live.config, "rivka", now=live.clock.now().timestamp())

        async def agent(aid: str):
            return (await live.engine.build_snapshot(live.clock.now())).agents[aid]

        async def do(req) -> dict:
            await submit(redis_client, keys, [req.model_copy(update={"at": live.clock.now()})], token)
            await ex.process_pending()
            return [f for _, f in await redis_client.xrange(keys.audit)][-1]

        live.centre.schedule_caller("tech", START + timedelta(seconds=2), talk_s=5)

        async def state_is(state: str, settled: bool = False):
            await live.run_for(1)
            if settled:  # the feed caught up with the clock: the state seen is the one the executor reads
                await live.settle()
            return (await agent("1002")).state == state

        await until(lambda: state_is("ringing", settled=True), "Dana's phone ringing", timeout=30)
        out = await do(Spy(type="listen", user="rivka", agent="1002", call_id=None, at=live.clock.now()))
        assert (out["result"], out["pbx"]) == ("refused: Dana is not on a call (state: ringing)", ""), out
        await until(lambda: state_is("on_call"), "Dana answering")
        call_id = (await agent("1002")).call_id
        assert call_id == live.centre.calls[0].call_id
        await until(lambda: state_is("available"), "Dana's call and wrap-up over")
        # the state again, with the call it was about: the snapshot holds her last call's id while available
        await live.engine.apply(
            [
                AgentStateChanged(
                    id="late-1", ts=live.clock.now(), source="t", agent="1002", state="available", call_id=call_id
                )
            ]
        )
        dana = await agent("1002")
        assert (dana.state, dana.call_id) == ("available", call_id)
        for kind in ("listen", "whisper", "barge"):
            out = await do(Spy(type=kind, user="rivka", agent="1002", call_id=call_id, at=live.clock.now()))
            assert (out["type"], out["result"]) == (kind, "refused: Dana is not on a call (state: available)"), out
        out = await do(Takeover(user="rivka", agent="1002", call_id=call_id, at=live.clock.now()))
        assert (out["type"], out["result"]) == ("takeover", "refused: Dana is not on a call (state: available)")
        await live.run_for(1)
        assert (await agent("1002")).spied_by == {}
        await backend.close()
    # the PBX's own trail: nothing was done on it for the supervisor
    assert [r for r in live.queue_log.read_text().splitlines() if "|WALLBOARD|" in r] == []
