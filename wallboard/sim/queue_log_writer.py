"""The simulated centre's day as an Asterisk queue_log file (docs/PROTOCOLS.md#queue_log).

A renderer of the model's events, like the AMI face, through the same ``PbxTracker`` (so CONNECT's bridged
channel is the AMI's ``DestUniqueid``, positions agree, and call ids are the model's). Rows are appended as the
events come and the file is flushed after each batch, so a ``--follow`` reader can tail it while the day runs.
``feeds/queue_log.py`` reads every row back (no dead letters).

Rows, ``epoch|callid|queue|agent|EVENT|data...`` with whole-second epochs as Asterisk writes them and the agent
field the member interface (config ``interface``, else ``Agent/<id>``):

- join: ``ENTERQUEUE|<url>|<caller number>|<original position>`` (url empty)
- missed ring: ``RINGNOANSWER|<ms>``
- answered: ``CONNECT|<holdtime>|<agent leg uniqueid>|<ringtime>``
- completed: ``COMPLETECALLER`` or ``COMPLETEAGENT|<holdtime>|<talktime>|<original position>``
- hang-up while waiting: ``ABANDON|<position>|<original position>|<waittime>``
- timeout / empty queue: ``EXITWITHTIMEOUT`` / ``EXITEMPTY|<position>|<original position>|<waittime>``
- key press: ``EXITWITHKEY|1|<position>|<original position>|<waittime>``
- withdrawn / a callback request: ``WITHDRAW|<position>|<original position>|<waittime>|<info>`` (info
  ``callback`` for a callback request)
- an exit while an agent's phone rang: ``RINGCANCELED|<ms>`` (agent's row) before the exit row
- pause / unpause (the model's pauses are the agent's, in every queue): ``PAUSEALL|`` (queue NONE, no reason:
  app_queue's set_member_paused writes it empty) then ``PAUSE|<reason>`` for each of the agent's queues
  (Asterisk's order), at the request's time, on a call or not; ``UNPAUSEALL|`` / ``UNPAUSE|`` alike
- membership: ``ADDMEMBER|`` (``PAUSED`` when the agent is paused), ``REMOVEMEMBER|``, ``PENALTY|<n>``; the
  logins at the model's start are ADDMEMBER rows (dynamic members logging in), call id ``MANAGER``
- ``QUEUESTART`` (queue and agent NONE) when the PBX starts or restarts

Not in queue_log (as in Asterisk): rings that were answered, wrap-up, outbound calls and dial attempts.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import IO, Any, Iterable

from ..config import WallboardConfig
from .ami_render import EXIT_KEY, Fact, PbxTracker, whole_seconds

_EXIT_VERB = {
    "abandon": "ABANDON",
    "timeout": "EXITWITHTIMEOUT",
    "empty": "EXITEMPTY",
    "key": "EXITWITHKEY",
    "withdrawn": "WITHDRAW",
    "callback": "WITHDRAW",
}


def _row(ts: datetime, callid: str, queue: str, agent: str, verb: str, *data: Any) -> str:
    return "|".join([str(whole_seconds(ts)), callid, queue, agent, verb, *(str(d) for d in data)])


class QueueLogWriter:
    """Appends queue_log rows for the model's events. ``write(events)`` feeds the writer's own tracker;
    a PBX that already applies each event to a shared tracker passes it in and calls ``write_facts``."""

    def __init__(self, path: str | Path, config: WallboardConfig, tracker: PbxTracker | None = None):
        self.path = Path(path)
        self.config = config
        self.tracker = tracker or PbxTracker(config)
        self.rows_written = 0
        self._file: IO[str] | None = open(self.path, "a", encoding="utf-8", newline="\n")  # noqa: SIM115

    # --- writing ----------------------------------------------------------------------------------------

    def write(self, events: Iterable[Any]) -> int:
        """Apply the model's events to the tracker and append their rows; returns how many rows."""
        return self.write_facts(self.tracker.apply(e) for e in events)

    def write_facts(self, facts: Iterable[Fact]) -> int:
        lines = [line for f in facts for line in self.rows(f)]
        self._append(lines)
        return len(lines)

    def queue_start(self, ts: datetime) -> None:
        """The PBX started (or restarted): app_queue's QUEUESTART row."""
        self._append([_row(ts, "NONE", "NONE", "NONE", "QUEUESTART", "")])

    def custom(
        self, ts: datetime, queue: str, verb: str, uniqueid: str = "", interface: str = "", message: str = ""
    ) -> None:
        """A row written by the QueueLog action (kept as given, as Asterisk does)."""
        self._append([_row(ts, uniqueid or "NONE", queue, interface, verb, message)])

    def _append(self, lines: list[str]) -> None:
        if not lines:
            return
        if self._file is None:
            raise ValueError(f"queue_log writer for {self.path} is closed")
        self._file.write("".join(line + "\n" for line in lines))
        self._file.flush()
        self.rows_written += len(lines)

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def __enter__(self) -> QueueLogWriter:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # --- rendering --------------------------------------------------------------------------------------

    def rows(self, f: Fact) -> list[str]:
        """The queue_log rows for one fact (see the module docstring)."""
        t, c = f.ts, f.call
        iface = self.tracker.interface(f.agent) if f.agent else "NONE"
        if f.kind == "join" and c is not None:
            return [_row(t, c.call_id, c.queue, "NONE", "ENTERQUEUE", "", c.number, c.opos)]
        if f.kind == "missed" and c is not None:
            return [_row(t, c.call_id, c.queue, iface, "RINGNOANSWER", f.ring_ms)]
        if f.kind == "answer" and c is not None and f.leg is not None:
            return [_row(t, c.call_id, c.queue, iface, "CONNECT", f.hold_s, f.leg.uniqueid, f.ring_s)]
        if f.kind == "complete" and c is not None:
            verb = "COMPLETEAGENT" if f.reason == "agent" else "COMPLETECALLER"
            return [_row(t, c.call_id, c.queue, iface, verb, f.hold_s, f.talk_s, c.opos)]
        if f.kind == "exit" and c is not None and f.exit in _EXIT_VERB:
            out = []
            if f.leg is not None:
                out.append(_row(t, c.call_id, c.queue, iface, "RINGCANCELED", f.ring_ms))
            verb = _EXIT_VERB[f.exit]
            if f.exit == "key":
                out.append(_row(t, c.call_id, c.queue, "NONE", verb, EXIT_KEY, f.position, c.opos, f.hold_s))
            elif verb == "WITHDRAW":
                info = "callback" if f.exit == "callback" else ""
                out.append(_row(t, c.call_id, c.queue, "NONE", verb, f.position, c.opos, f.hold_s, info))
            else:
                out.append(_row(t, c.call_id, c.queue, "NONE", verb, f.position, c.opos, f.hold_s))
            return out
        if f.kind in ("agent", "ring", "complete") and f.pause_changed and f.agent:
            dev = self.tracker.device(f.agent)
            verb, reason = ("PAUSE", dev.reason) if dev.paused else ("UNPAUSE", "")
            return [_row(t, "NONE", "NONE", iface, verb + "ALL", "")] + [
                _row(t, "NONE", m.queue, iface, verb, reason) for m in f.members
            ]
        if f.kind == "member_added" and f.member is not None:
            paused = "PAUSED" if self.tracker.device(f.member.agent).paused else ""
            return [_row(t, "MANAGER", f.member.queue, iface, "ADDMEMBER", paused)]
        if f.kind == "member_removed" and f.member is not None:
            return [_row(t, "MANAGER", f.member.queue, iface, "REMOVEMEMBER", "")]
        if f.kind == "member_penalty" and f.member is not None:
            return [_row(t, "NONE", f.member.queue, iface, "PENALTY", f.member.penalty)]
        return []
