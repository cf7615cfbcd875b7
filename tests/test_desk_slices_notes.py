"""On the real desk: a takeover note that goes while a large agents part is taken in slices leaves the agent's row
even when the desk takes something new before the slices are done (here: the takeovers read again after a
supervisor's request, ``on_reverts_arrived``)."""

from __future__ import annotations

import json

from wallboard.clock import ManualClock
from wallboard.delta import AgentsPart
from wallboard.keys import Keys
from wallboard.ui.app import AGENT_PANELS
from wallboard.ui.messages import RevertsArrived
from wallboard.ui.requests import TakenOver

from .test_desk_tables import with_agents

N = 2000


async def test_a_takeover_note_gone_mid_slices_leaves_the_row(redis_client, prefix, cleanup):
    from .test_tui import T0 as AT, make_app, publish, seq_is, snapshot, until

    keys = Keys(prefix)
    clock = ManualClock(AT)
    rivka = json.dumps({"agent": "a00", "by": "rivka", "call_id": "c1"})
    await redis_client.zadd(keys.takeovers, {rivka: AT.timestamp()})
    await publish(redis_client, prefix, with_agents(snapshot(1), N, AT))
    app = make_app(prefix, clock, stale_after_s=60)
    async with app.run_test(size=(100, 30)) as pilot:
        table = app.agent_table

        def alerts() -> str | None:
            shown = table.shown("a00", "alerts")
            return shown[0] if shown else None

        await until(pilot, seq_is(app, 1), "the first snapshot")
        await until(pilot, lambda: not app.agents_panel.pending and alerts() == "taken:rivka", "the note shown")
        # the next full part (every agent but Agent 00 paused) with the takeover no longer listed; the first
        # slice taken, then a supervisor's takeover of Agent 07 read (what ``on_reverts_arrived`` is given)
        paused = {f"a{i:02d}": {"state": "paused", "reason": "lunch"} for i in range(1, N)}
        part = with_agents(snapshot(2), N, AT, paused)
        app.agents = AgentsPart(seq=2, at=AT, agents=part.agents)
        app.on_reverts_arrived(RevertsArrived({}, {}))
        app.render_all(AGENT_PANELS)
        assert app.agents_panel.pending
        moshe = TakenOver(agent="a07", by="moshe", call_id="c7", at=AT.timestamp())
        app.on_reverts_arrived(RevertsArrived({}, {"a07": moshe}))
        await until(pilot, lambda: not app.agents_panel.pending, "every slice taken")
        await pilot.pause()
        assert table.shown("a07", "alerts")[0] == "taken:moshe"
        assert table.shown("a01", "state")[0].startswith("paused")
        assert alerts() == "", f"Agent 00's row still shows {alerts()!r} (no takeover of it is listed)"
