"""The simulated centre as a FreeSWITCH switch: mod_event_socket on a TCP port, speaking mod_callcenter.

``SimSwitch(config, centre, clock)`` runs the model live, as ``SimPbx`` does for AMI (simulated time = the
centre's time at start + the clock's elapsed time x ``speed``, stepped every ``step_s``), and pushes the
model's events, rendered by ``esl_render`` as mod_callcenter raises them, to every authenticated connection
subscribed to ``CUSTOM callcenter::info`` (or ``ALL``). Wire facts: mod_event_socket.c (docs/
PROTOCOLS_FREESWITCH.md).

What it speaks:

- the greeting ``Content-Type: auth/request``; ``auth PASSWORD`` (``+OK accepted``; a wrong one ``-ERR invalid``
  and the connection is closed, as the switch does); ``event plain ...`` (``+OK event listener enabled
  plain``); ``noevents``; ``exit`` (``+OK bye``, a ``text/disconnect-notice``, closed). Anything else before
  auth is ``-ERR invalid``.
- ``api status``; ``api callcenter_config``: ``queue list``, ``queue list members|tiers|agents Q``, ``tier
  list``, ``agent list`` from the model's present (tables as mod_callcenter prints them: a header row, ``|``
  cells, ``+OK``); ``agent set status A 'On Break'|Available`` (pause / unpause the model's agent), ``tier add Q A
  [level [position]]``, ``tier del Q A``, ``tier set level Q A L`` (membership; the level is the model's
  penalty), each answering mod_callcenter's own ``+OK`` / ``-ERR ...`` text. Quoting as the switch's
  argument splitter: single quotes group words.
- ``bgapi CMD``: ``+OK Job-UUID: <uuid>`` at once, then a ``BACKGROUND_JOB`` event with the command's output as
  its body. ``originate {vars}DIALSTRING &eavesdrop(UUID)`` (or ``&three_way(UUID)``) is the supervisor's spy
  call: recorded in ``spies`` (dial string, application, target, variables), answered ``+OK <uuid>``.

For tests: ``step()``, ``drop_connections()``, ``freeze_connections()`` (half-open: silent, never closed) and
``restart()`` (a new Core-UUID, every call gone), as on ``SimPbx``.
"""

from __future__ import annotations

import asyncio
import logging
import re
import shlex
import uuid
from dataclasses import dataclass, field
from typing import Any

from ..clock import Clock
from ..config import WallboardConfig
from ..esl.protocol import Framer, format_event
from .ami_render import PbxTracker, whole_seconds
from .esl_render import EslRenderer, member_uuid
from .model import SimCentre
from .server import SimServer

log = logging.getLogger(__name__)

QUEUE_COLUMNS = (
    "name|strategy|moh_sound|time_base_score|tier_rules_apply|tier_rule_wait_second|"
    "tier_rule_wait_multiply_level|tier_rule_no_agent_no_wait|discard_abandoned_after|"
    "abandoned_resume_allowed|max_wait_time|max_wait_time_with_no_agent|"
    "max_wait_time_with_no_agent_time_reached|record_template|calls_answered|calls_abandoned|"
    "ring_progressively_delay|skip_agents_with_external_calls|agent_no_answer_status"
)
MEMBER_COLUMNS = (
    "queue|instance_id|uuid|session_uuid|cid_number|cid_name|system_epoch|joined_epoch|rejoined_epoch|"
    "bridge_epoch|abandoned_epoch|base_score|skill_score|serving_agent|serving_system|state|score"
)
AGENT_COLUMNS = (
    "name|instance_id|uuid|type|contact|status|state|max_no_answer|wrap_up_time|reject_delay_time|"
    "busy_delay_time|no_answer_delay_time|last_bridge_start|last_bridge_end|last_offered_call|"
    "last_status_change|no_answer_count|calls_answered|talk_time|ready_time|external_calls_count"
)
TIER_COLUMNS = "queue|agent|state|level|position"
_ORIGINATE = re.compile(r"^originate\s+(\{[^}]*\})?(\S+)\s+&(eavesdrop|three_way)\(([^)]+)\)\s*$")


@dataclass(eq=False)
class _Conn:
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    authed: bool = False
    custom: set[str] = field(default_factory=set)  # subscribed CUSTOM subclasses
    names: set[str] = field(default_factory=set)  # subscribed event names (ALL, BACKGROUND_JOB, ...)
    frozen: bool = False

    def wants(self, name: str, subclass: str = "") -> bool:
        if not self.authed:
            return False
        if "ALL" in self.names:
            return True
        if name == "CUSTOM":
            return subclass in self.custom
        return name in self.names


def _table(columns: str, rows: list[list[Any]]) -> str:
    if not rows:
        return "+OK\n"
    return columns + "\n" + "".join("|".join(str(c) for c in r) + "\n" for r in rows) + "+OK\n"


class SimSwitch(SimServer):
    what = "simulated FreeSWITCH"

    def __init__(
        self,
        config: WallboardConfig,
        centre: SimCentre,
        clock: Clock | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        password: str = "ClueCon",
        *,
        speed: float = 1.0,
        step_s: float = 0.1,
        domain: str = "default",
        write_buffer_limit: int = 8 * 1024 * 1024,
    ):
        super().__init__(
            config, centre, clock, host, port, speed=speed, step_s=step_s, write_buffer_limit=write_buffer_limit
        )
        self.password, self.domain = password, domain
        self.renderer = EslRenderer(self.tracker, domain)
        self.spies: list[tuple[str, str, str, str]] = []  # (dial string, application, target uuid, variables)

    # --- life ---------------------------------------------------------------------------------------------

    def restart(self) -> None:
        """A switch restart: connections dropped, every call gone, a new Core-UUID; the centre starts over
        from the present moment (same scenario and seed)."""
        self.step()
        self.drop_connections()
        old = self.centre
        self.centre = SimCentre(self.config, old.scenario, old.seed, old.now)
        self.tracker = PbxTracker(self.config)
        self.renderer = EslRenderer(self.tracker, self.domain)
        self._began, self._base = self.clock.now(), self.centre.now
        self._publish(self.centre.advance_to(self.centre.now))

    # --- the model, live ----------------------------------------------------------------------------------

    def _publish(self, events: list[Any]) -> None:
        for e in events:
            for ev in self.renderer.render(self.tracker.apply(e)):
                self._broadcast(ev)

    def _broadcast(self, ev: dict[str, str], body: str | None = None) -> None:
        data = b""
        name, sub = ev.get("Event-Name", ""), ev.get("Event-Subclass", "")
        for c in list(self._conns):
            if c.wants(name, sub):
                data = data or format_event(ev, body)
                self._send(c, data)
        self.events_sent += 1

    # --- connections --------------------------------------------------------------------------------------

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        c = _Conn(reader, writer)
        task = self._track(c)
        framer = Framer()
        try:
            writer.write(b"Content-Type: auth/request\n\n")
            while True:
                data = await reader.read(65536)
                if not data:
                    break
                if c.frozen:
                    continue
                for frame in framer.feed(data):
                    command = _command_of(frame.raw_head)
                    if not await self._command(c, command):
                        await writer.drain()
                        return
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError, ValueError):
            pass
        except asyncio.CancelledError:
            pass
        finally:
            self._untrack(c, task)
            writer.close()

    def _reply(self, c: _Conn, text: str, extra: str = "") -> None:
        self._send(c, f"Content-Type: command/reply\nReply-Text: {text}\n{extra}\n".encode())

    async def _command(self, c: _Conn, command: str) -> bool:
        """Answer one command; False closes the connection."""
        word, _, rest = command.partition(" ")
        word = word.lower()
        if word in ("exit", "..."):
            self._reply(c, "+OK bye")
            self._send(
                c,
                b"Content-Type: text/disconnect-notice\nContent-Length: 67\n\nDisconnected, goodbye.\n"
                b"See you at ClueCon! http://www.cluecon.com/\n",
            )
            return False
        if not c.authed:
            if word == "auth":
                if rest == self.password:
                    c.authed = True
                    self._reply(c, "+OK accepted")
                    return True
                self._reply(c, "-ERR invalid")
                return False
            self._reply(c, "-ERR invalid")
            return True
        if word == "event":
            tokens = rest.split()
            if tokens and tokens[0].lower() in ("plain", "json", "xml"):
                tokens = tokens[1:]
            custom = False
            for t in tokens:
                if t.upper() == "CUSTOM":
                    custom = True
                elif custom and "::" in t:
                    c.custom.add(t)
                else:
                    c.names.add(t.upper())
            if not tokens:
                self._reply(c, "-ERR no keywords supplied")
            else:
                self._reply(c, "+OK event listener enabled plain")
            return True
        if word == "noevents":
            c.custom.clear()
            c.names.clear()
            self._reply(c, "+OK no longer listening for events")
            return True
        if word == "api":
            body = self.api(rest).encode("utf-8")
            self._send(c, f"Content-Type: api/response\nContent-Length: {len(body)}\n\n".encode() + body)
            return True
        if word == "bgapi":
            job = str(uuid.uuid4())
            self._reply(c, f"+OK Job-UUID: {job}", f"Job-UUID: {job}\n")
            result = self.api(rest)
            cmd, _, args = rest.partition(" ")
            ev = {
                "Event-Name": "BACKGROUND_JOB",
                "Core-UUID": self.renderer.core_uuid,
                "Job-UUID": job,
                "Job-Command": cmd,
                "Job-Command-Arg": args,
            }
            self._broadcast(ev, result)
            return True
        self._reply(c, "-ERR command not found")
        return True

    # --- api ----------------------------------------------------------------------------------------------

    def api(self, command: str) -> str:
        """One api command's output, as the switch prints it."""
        cmd, _, args = command.strip().partition(" ")
        if cmd == "status":
            up = int((self.clock.now() - self._began).total_seconds())
            return (
                f"UP 0 years, 0 days, {up // 3600} hours, {up // 60 % 60} minutes, {up % 60} seconds\n"
                "FreeSWITCH (Version 1.10.12 simulated) is ready\n"
            )
        if cmd == "callcenter_config":
            self.step()
            try:
                argv = shlex.split(args)
            except ValueError:
                return "-ERR Invalid!\n"
            result = self._callcenter(argv)
            self._publish(self.centre.advance_to(self.centre.now))  # what an action caused, after its answer
            return result
        if cmd == "originate":
            m = _ORIGINATE.match(command.strip())
            if not m:
                return "-ERR INVALID_GATEWAY\n"
            self.spies.append((m[2], m[3], m[4], (m[1] or "").strip("{}")))
            return f"+OK {uuid.uuid4()}\n"
        return f"-ERR {cmd} Command not found!\n"

    def _queue(self, name: str) -> str | None:
        local = name.partition("@")[0]
        return local if local in self._queues else None

    def _agent(self, name: str) -> str | None:
        local = name.partition("@")[0]
        return local if any(a.id == local for a in self.config.agents) else None

    def _callcenter(self, argv: list[str]) -> str:
        if argv[:2] == ["queue", "list"] and len(argv) == 2:
            rows = [
                [
                    self.renderer.queue_name(q),
                    "longest-idle-agent",
                    "local_stream://moh",
                    "queue",
                    "false",
                    0,
                    "false",
                    "true",
                    60,
                    "false",
                    0,
                    0,
                    5,
                    "",
                    0,
                    0,
                    0,
                    "true",
                    "On Break",
                ]
                for q in self._queues
            ]
            return _table(QUEUE_COLUMNS, rows)
        if argv[:2] == ["queue", "list"] and len(argv) >= 4:
            what, q = argv[2], self._queue(argv[3])
            if q is None:
                return "+OK\n"
            if what == "members":
                return _table(MEMBER_COLUMNS, self._member_rows(q))
            if what == "tiers":
                return _table(TIER_COLUMNS, self._tier_rows([q]))
            if what == "agents":
                return _table(
                    AGENT_COLUMNS, [r for r in self._agent_rows() if self._agent(r[0]) in dict(self.centre.members(q))]
                )
        if argv[:2] == ["tier", "list"]:
            return _table(TIER_COLUMNS, self._tier_rows(self._queues))
        if argv[:2] == ["agent", "list"]:
            return _table(AGENT_COLUMNS, self._agent_rows())
        if argv[:3] == ["agent", "set", "status"] and len(argv) == 5:
            agent = self._agent(argv[3])
            if agent is None:
                return "-ERR Agent not found!\n"
            if argv[4] == "On Break":
                self.centre.pause_agent(agent, "On Break")
            elif argv[4] in ("Available", "Available (On Demand)"):
                self.centre.unpause_agent(agent)
            else:
                return "-ERR Invalid Agent Status!\n"
            return "+OK\n"
        if argv[:2] == ["tier", "add"] and len(argv) >= 4:
            q, agent = self._queue(argv[2]), self._agent(argv[3])
            if q is None:
                return "-ERR Queue not found!\n"
            if agent is None:
                return "-ERR Agent not found!\n"
            if q in self.centre.skills(agent):
                return "-ERR Tier already exist!\n"
            level = int(argv[4]) if len(argv) > 4 and argv[4].lstrip("-").isdigit() else 1
            self.centre.move_agent(agent, q, level)
            return "+OK\n"
        if argv[:2] == ["tier", "del"] and len(argv) == 4:
            q, agent = self._queue(argv[2]), self._agent(argv[3])
            if q is not None and agent is not None:
                self.centre.remove_member(agent, q)
            return "+OK\n"
        if argv[:3] == ["tier", "set", "level"] and len(argv) == 6:
            q, agent = self._queue(argv[3]), self._agent(argv[4])
            if q is None or agent is None or q not in self.centre.skills(agent):
                return "-ERR Agent not found!\n"
            if not argv[5].lstrip("-").isdigit():
                return "-ERR Invalid!\n"
            self.centre.move_agent(agent, q, int(argv[5]))
            return "+OK\n"
        return "-ERR Invalid!\n"

    def _member_rows(self, queue: str) -> list[list[Any]]:
        rows = []
        now = whole_seconds(self.centre.now)
        for call_id, number, joined, ringing in self.centre.waiting_calls(queue):
            j = whole_seconds(joined)
            rows.append(
                [
                    self.renderer.queue_name(queue),
                    "single_box",
                    member_uuid(call_id),
                    call_id,
                    number,
                    number,
                    j,
                    j,
                    0,
                    0,
                    0,
                    0,
                    0,
                    self.renderer.agent_name(ringing) if ringing else "",
                    "single_box" if ringing else "",
                    "Trying" if ringing else "Waiting",
                    now - j,
                ]
            )
        for call in self.tracker.calls.values():  # on a call: mod_callcenter keeps the row (Answered) until the end
            if call.queue == queue and call.connected is not None and call.agent:
                j, b = whole_seconds(call.joined), whole_seconds(call.connected)
                rows.append(
                    [
                        self.renderer.queue_name(queue),
                        "single_box",
                        member_uuid(call.call_id),
                        call.call_id,
                        call.number,
                        call.number,
                        j,
                        j,
                        0,
                        b,
                        0,
                        0,
                        0,
                        self.renderer.agent_name(call.agent),
                        "single_box",
                        "Answered",
                        now - j,
                    ]
                )
        return rows

    def _tier_rows(self, queues: list[str]) -> list[list[Any]]:
        return [
            [self.renderer.queue_name(q), self.renderer.agent_name(a), "Ready", level, 1]
            for q in queues
            for a, level in self.centre.members(q)
        ]

    def _agent_rows(self) -> list[list[Any]]:
        rows = []
        r = self.renderer
        for a in self.config.agents:
            status = r.status.get(a.id, "Logged Out")
            state = r.state.get(a.id, "Waiting")
            rows.append(
                [
                    r.agent_name(a.id),
                    "single_box",
                    "",
                    "callback",
                    f"user/{a.id}@{self.domain}",
                    status,
                    state,
                    3,
                    0,
                    10,
                    60,
                    0,
                    0,
                    r.last_bridge_end.get(a.id, 0),
                    0,
                    0,
                    0,
                    0,
                    0,
                    0,
                    0,
                ]
            )
        return rows


def _command_of(head: list[bytes]) -> str:
    """A command frame is its first line (``api status``); ``sendmsg``-style headers after it are not used."""
    return head[0].decode("utf-8", "replace").strip() if head else ""
