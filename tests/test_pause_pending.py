"""A supervisor's pause of a busy agent, over the production path: the desk's request -> the executor (AmiBackend)
-> the simulated PBX over AMI (QueuePause) -> what Asterisk emits for it (QueueMemberPause at once, on a call or
in wrap-up; PAUSEALL/PAUSE rows in queue_log at the request's second; nothing when the call or its wrap-up ends)
-> the ami feed -> the engine -> the snapshot. The agent stays on the call / in wrap-up with the pause pending, is
paused from the end of wrap-up, and the queue_log the PBX wrote, replayed, says the same."""

from __future__ import annotations

from datetime import timedelta

from wallboard.actions.ami_backend import AmiBackend
from wallboard.actions.auth import issue
from wallboard.actions.executor import Executor
from wallboard.actions.model import Pause, Takeover
from wallboard.actions.submit import submit
from wallboard.ami.mapper import AmiMapper
from wallboard.ami.protocol import Message
from wallboard.engine import Engine
from wallboard.events import AgentStateChanged
from wallboard.keys import Keys

from .conftest import redis_url
from .polling import until
from .test_tui_actions import screen_text
from .test_ami_e2e import START, Live, _config, _drop, _replay_queue_log, ami_env  # noqa: F401


class Desk:
    """The executor on the simulated PBX, and requests as the desk sends them."""

    def __init__(self, live: Live, redis_client, prefix: str):
        self.live, self.redis, self.keys = live, redis_client, Keys(prefix)
        self.backend = AmiBackend(live.config, host="127.0.0.1", port=live.pbx.port)
        self.ex = Executor(redis_client, live.config, self.backend, clock=live.clock)
        self.token = issue(live.config, "rivka", now=live.clock.now().timestamp())

    async def do(self, req) -> dict:
        await self.ex.ensure_group()
        await submit(self.redis, self.keys, [req.model_copy(update={"at": self.live.clock.now()})], self.token)
        await self.ex.process_pending()
        return [f for _, f in await self.redis.xrange(f"{self.keys.centre}:audit")][-1]

    async def agent(self, aid: str):
        return (await self.live.engine.build_snapshot(self.live.clock.now())).agents[aid]

    async def until_agent(self, aid: str, check, what: str):
        async def seen():
            await self.live.run_for(1)
            a = await self.agent(aid)
            return a if check(a) else None

        return await until(seen, what)


async def _desk_shows(live: Live, redis_client, name: str, text: str) -> None:
    """The desk, on the snapshot the lease owner publishes, shows ``text`` in the agent's row."""
    from wallboard.ui.app import build_desk_app

    config = live.config.model_copy(update={"redis": live.config.redis.model_copy(update={"url": redis_url()})})
    now = live.clock.now()
    snap = await live.engine.build_snapshot(now)
    snap, _ = live.engine.evaluate(snap, await live.engine.load_levels(), now)
    seq = (await live.engine.publish(snap)).seq
    app = build_desk_app(config, redis_url(), user="rivka", clock=live.clock)
    async with app.run_test(size=(160, 40)) as pilot:
        await until(
            lambda: app.agents is not None and app.agents.seq >= seq and not app.panels_due,
            "the desk's snapshot",
            pilot=pilot,
        )
        line = next(x for x in screen_text(app).splitlines() if f" {name} " in x)
        assert text in line, line


def _rows(path, agent_iface: str) -> list[list[str]]:
    return [r.split("|") for r in path.read_text().splitlines() if r.split("|")[3:4] == [agent_iface]]


async def test_pause_during_a_call_is_pending_then_paused_from_the_end_of_wrap_up(
    redis_client,
    prefix,
    tmp_path,
    ami_env,  # noqa: F811
):
    async with Live(redis_client, prefix, tmp_path, scenario="quiet") as live:
        desk = Desk(live, redis_client, prefix)
        await live.logged_in()
        live.centre.schedule_caller("tech", START + timedelta(seconds=2), talk_s=40)
        await desk.until_agent("1002", lambda a: a.state == "on_call", "Dana answers (tech 0)")
        asked = live.clock.now()
        out = await desk.do(Pause(type="pause", user="rivka", agent="1002", reason="coaching", at=asked))
        assert (out["result"], out["pbx"]) == ("ok", "Interface paused successfully")
        # Asterisk pauses the member at once: the PBX's queue_log has the rows now, the call goes on
        rows = [r for r in _rows(live.queue_log, "PJSIP/1002") if r[4] in ("PAUSEALL", "PAUSE")]
        assert [(r[4], r[5]) for r in rows] == [("PAUSEALL", ""), ("PAUSE", "coaching")]  # app_queue's rows
        assert {int(r[0]) for r in rows} == {int(asked.timestamp())}
        dana = await desk.until_agent("1002", lambda a: a.pause_pending is not None, "the pause pending on the call")
        assert dana.state == "on_call" and dana.call_id == live.centre.calls[0].call_id
        assert dana.pause_pending.reason == "coaching" and dana.pause_pending.since == asked
        assert dana.pause_s == 0 and live.centre.agent_state("1002") == "on_call"
        await _desk_shows(live, redis_client, "Dana", "on call → paused:coaching")

        dana = await desk.until_agent("1002", lambda a: a.state == "wrap_up", "the call ends: wrap-up")
        assert dana.pause_pending is not None and dana.pause_pending.since == asked  # held since the request
        dana = await desk.until_agent("1002", lambda a: a.state == "paused", "paused once wrap-up ends")
        await live.settle()
        now = live.clock.now()
        dana = await desk.agent("1002")
        rec = live.centre.calls[0]
        # paused since the end of wrap-up, by hand: answered + talk 40 s + the queue's wrap-up 15 s
        ended = rec.joined + timedelta(seconds=rec.wait_s + 40 + 15)
        assert dana.since == ended.replace(microsecond=0)  # a published time is to the second
        assert (dana.reason, dana.pause_pending) == ("coaching", None)
        assert dana.talk_s == 40 and dana.wrap_s == 15  # the call's and the wrap-up's time stay theirs
        assert dana.pause_s == round((now - ended).total_seconds(), 3) and dana.pause_s > 0
        assert dana.pause_s_by_reason == {"coaching": dana.pause_s}
        # nothing more from the PBX about the pause when the call or the wrap-up ended
        assert [r[4] for r in _rows(live.queue_log, "PJSIP/1002") if "PAUSE" in r[4]] == ["PAUSEALL", "PAUSE"]
        log_path = live.queue_log
        await desk.backend.close()
    # the queue_log the PBX wrote says the same (in whole seconds)
    ref = prefix + "-ql"
    try:
        eng = await _replay_queue_log(redis_client, ref, log_path)
        again = (await eng.build_snapshot(now)).agents["1002"]
        assert (again.state, again.reason, again.pause_pending) == ("paused", "coaching", None)
        assert again.wrap_s == 15 and again.since == ended.replace(microsecond=0)
    finally:
        await _drop(redis_client, ref)


async def test_pause_in_wrap_up_after_a_takeover_is_paused_when_wrap_up_ends(
    redis_client,
    prefix,
    tmp_path,
    ami_env,  # noqa: F811
):
    """The demo's report: t took Amit's call, then p 2 y during his wrap-up; the desk said 'available' for
    minutes. Now: wrap-up with the pause pending, then paused (and pause time from then)."""
    async with Live(redis_client, prefix, tmp_path, scenario="quiet") as live:
        desk = Desk(live, redis_client, prefix)
        await live.logged_in()
        for _ in range(3):  # Dana, Itai and Amit (tech 0) each answer one
            live.centre.schedule_caller("tech", START + timedelta(seconds=2), talk_s=300)
        amit = await desk.until_agent("1010", lambda a: a.state == "on_call", "Amit answers")
        out = await desk.do(Takeover(user="rivka", agent="1010", call_id=amit.call_id, at=live.clock.now()))
        assert out["result"] == "ok", out
        await desk.until_agent("1010", lambda a: a.state == "wrap_up", "the takeover: Amit in wrap-up")
        (done,) = [c for c in live.centre.calls if c.agent == "1010"]
        wrap_from = done.joined + timedelta(seconds=done.wait_s + done.talk_s)  # the takeover's moment
        out = await desk.do(Pause(type="pause", user="rivka", agent="1010", reason="coaching", at=live.clock.now()))
        assert (out["result"], out["detail"]) == ("ok", "Pause Amit (coaching)")
        amit = await desk.until_agent("1010", lambda a: a.pause_pending is not None, "wrap-up, pause pending")
        assert (amit.state, amit.pause_pending.reason) == ("wrap_up", "coaching")
        amit = await desk.until_agent("1010", lambda a: a.state != "wrap_up", "the end of wrap-up")
        assert (amit.state, amit.reason) == ("paused", "coaching")
        paused_from = wrap_from + timedelta(seconds=15)
        assert amit.since == paused_from.replace(microsecond=0)
        await live.run_for(30)
        await live.settle()
        amit = await desk.agent("1010")
        assert amit.state == "paused" and amit.pause_s == round((live.clock.now() - paused_from).total_seconds(), 3)
        assert amit.wrap_s == 15
        assert live.centre.agent_state("1010") == "paused"
        await desk.backend.close()


async def test_a_pause_stamped_before_the_feeds_own_end_of_wrap_up_still_wins_in_redis(redis_client, prefix):
    """The race behind the demo's report, through the engine: the ami feed's timer ends Amit's wrap-up at its
    due time (available), then the PBX's pause arrives stamped half a millisecond earlier. The mapper gives it
    at the time of the state before it, so the engine (which keeps the newest state) takes it."""
    config = _config(prefix)
    eng = Engine(redis_client, config, Keys(prefix))
    await eng.start()
    m = AmiMapper(config)
    t0 = START.timestamp()

    def ev(name: str, t: float, **f) -> Message:
        return Message({"event": name, "timestamp": f"{t:.6f}", **{k.lower(): str(v) for k, v in f.items()}})

    member = dict(Queue="tech", Interface="PJSIP/1010", MemberName="PJSIP/1010")
    out = m.map(ev("QueueMemberStatus", t0, Status=2, **member))
    out += m.map(
        ev("AgentComplete", t0 + 60.3, Uniqueid="1795420802.3", HoldTime=3, TalkTime=57, Reason="transfer", **member)
    )
    out += m.due(t0 + 75.3)  # the timer: wrap-up (15 s) over
    out += m.map(ev("QueueMemberPause", t0 + 75.2995, Status=1, Paused=1, PausedReason="coaching", **member))
    states = [(e.state, e.reason) for e in out if isinstance(e, AgentStateChanged)]
    assert states == [("on_call", None), ("wrap_up", None), ("available", None), ("paused", "coaching")]
    await eng.apply([e for e in out if hasattr(e, "ts")])
    amit = (await eng.build_snapshot(START + timedelta(seconds=90))).agents["1010"]
    assert (amit.state, amit.reason) == ("paused", "coaching")
    assert amit.pause_s == round(90 - 75.3, 3)
