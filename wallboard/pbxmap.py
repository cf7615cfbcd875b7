"""What a PBX event mapper does the same whatever the protocol (AMI, the FreeSWITCH event socket).

A mapper turns a PBX's events into ours. The protocols differ in what their events say; what is left once that
is read is the same: stable ids and sources from the feed's position, wrap-up ends kept on a timer heap (the PBX
says when a call ends, never when the wrap-up after it does), and an agent's state emitted only when the state
derived from everything known changes. Each protocol's mapper derives the state (``_derive``) and calls the rest.
"""

from __future__ import annotations

import heapq
from datetime import datetime, timedelta, timezone
from typing import Any, Generic, Protocol, TypeVar

from pydantic import ValidationError

from .events import AgentStateChanged, WrapupCompleted
from .feed import DeadLetter

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


class Bad(Exception):
    """The event cannot become events; the message is the dead letter's reason."""


def dt(epoch: float) -> datetime:
    """An epoch as an aware UTC datetime (by timedelta: exact for any float, where fromtimestamp rounds)."""
    return _EPOCH + timedelta(seconds=epoch)


def validation_reason(e: ValidationError) -> str:
    """The first error of a model the mapper fed: ``field: message``, as a dead letter's reason says it."""
    err = e.errors()[0]
    return f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}"


Derived = tuple[str, str | None, bool]  # (state, reason, pause pending): see ``PbxMapper._derive``


class AgentModel(Protocol):
    call: tuple[str, str] | None  # (call id, queue) ringing or connected
    wrap_until: float | None
    emitted: Derived | None  # the last state sent


A = TypeVar("A", bound=AgentModel)


class PbxMapper(Generic[A]):
    """The protocol-free half of a mapper: ids, agent models, wrap-up timers and state emission."""

    def __init__(self, feed: str, origin: str, agent_model: type[A]):
        self.feed = feed
        self.origin = origin
        self._new_agent = agent_model
        self._agents: dict[str, A] = {}
        self._stated_at: dict[str, float] = {}  # agent -> time of the last state sent (states never go back)
        # wrap-up ends: (due, seq, agent, call, queue, wrap_s, where); seq keeps equal times in push order
        self._wraps: list[tuple[float, int, str, str | None, str | None, float, str]] = []
        self._wrap_seq = 0

    # -- ids ----------------------------------------------------------------------------------------------

    def _id(self, where: str, k: Any) -> str:
        return f"{self.feed}:{where}:{k}"

    def _src(self, where: str) -> str:
        return f"{self.feed}:{self.origin}:{where}" if self.origin else f"{self.feed}:{where}"

    def _dead_text(self, where: str, reason: str, raw: str) -> DeadLetter:
        return DeadLetter(self._src(where), reason, raw[:4000])

    # -- agents -------------------------------------------------------------------------------------------

    def _agent_model(self, agent: str) -> A:
        a = self._agents.get(agent)
        if a is None:
            a = self._agents[agent] = self._new_agent()
        return a

    def _derive(self, a: A, t: float) -> Derived | None:
        """(state, reason, pause pending) of the agent at ``t`` from what the protocol told; None while nothing
        is known. A busy agent (ringing, on a call, in wrap-up) the PBX holds paused stays busy with the pause
        pending (and its reason): it turns paused when free, so the call's and wrap-up's time stay theirs."""
        raise NotImplementedError

    def _emit_state(self, agent: str, t: float, where: str, k: Any) -> list:
        a = self._agent_model(agent)
        d = self._derive(a, t)
        if d is None or d == a.emitted:
            return []
        a.emitted = d
        # Never older than the last state sent: our own timer may have ended a wrap-up (at its due time) before
        # news from a moment earlier arrived (a pause stamped a millisecond before); sent at its own time it
        # would be refused as older than what the engine holds, and the agent left as the timer said.
        last = self._stated_at.get(agent)
        if last is not None and t < last:
            t = last
        self._stated_at[agent] = t
        call, queue = a.call if a.call and d[0] in ("ringing", "on_call") else (None, None)
        return [
            AgentStateChanged(
                id=self._id(where, k),
                ts=dt(t),
                source=self._src(where),
                agent=agent,
                state=d[0],
                reason=d[1],
                queue=queue,
                call_id=call,
                pause_pending=d[2],
            )
        ]

    # -- wrap-up timers -----------------------------------------------------------------------------------

    def _push_wrap(self, due: float, agent: str, call: str | None, queue: str | None, wrap: float, where: str) -> None:
        self._wrap_seq += 1
        heapq.heappush(self._wraps, (due, self._wrap_seq, agent, call, queue, wrap, where))

    def _wraps_due(self, t: float) -> list:
        out: list = []
        while self._wraps and self._wraps[0][0] <= t:
            out += self._wrap_end(heapq.heappop(self._wraps))
        return out

    def _next_wrap(self) -> float | None:
        return self._wraps[0][0] if self._wraps else None

    def _wrap_end(self, item: tuple) -> list:
        due, _, agent, call, queue, wrap, where = item
        out: list = []
        if call is not None:
            out.append(
                WrapupCompleted(
                    id=self._id(where, "w"),
                    ts=dt(due),
                    source=self._src(where),
                    queue=queue,
                    call_id=call,
                    agent=agent,
                    wrap_s=wrap,
                )
            )
        a = self._agent_model(agent)
        if a.wrap_until == due:  # still the current wrap-up (a newer call or news did not end it)
            a.wrap_until = None
            out += self._emit_state(agent, due, where, "a")
        return out
