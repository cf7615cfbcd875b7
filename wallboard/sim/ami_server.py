"""The simulated centre as a PBX: an Asterisk Manager Interface server on a TCP port (docs/PROTOCOLS.md#ami).

``SimPbx(config, centre, clock)`` runs the model live (simulated time = the centre's time when the PBX
started + the clock's elapsed time x ``speed``; a small step loop, every ``step_s`` of real time) and pushes the
model's events, rendered by ``ami_render`` in Asterisk 18's layout and order, to every logged-in session
whose event mask takes their class (``agent``, ``call``, ``dialplan``, ``system``). With ``queue_log`` it also
appends the same day to an Asterisk queue_log file (``queue_log_writer``), through the same tracker, so both
faces give the same call ids and channels.

What it speaks (Asterisk 18 manager, ``timestampevents = yes``):

- the greeting ``Asterisk Call Manager/7.0.3``; ``Login`` with ``Secret`` or MD5 (``Challenge`` then ``Key`` =
  md5(challenge + secret)), optional ``Events`` header; a refused login answers ``Authentication failed`` and
  closes the connection (as Asterisk does); ``FullyBooted`` after a login; any other action before logging
  in is ``Permission denied``; ``Ping``; ``Events`` (``EventMask`` on / off / a class list); ``Filter``
  (``Operation: Add``, a regex on the event text, ``!regex`` to exclude; pushed events only, as Asterisk);
  ``Logoff``.
- ``QueueStatus`` (Queue?, Member?): ``QueueParams``, ``QueueMember``, ``QueueEntry`` and
  ``QueueStatusComplete`` from the model's present state (who waits and for how long, members with penalty,
  paused and status); ``QueueSummary``.
- ``QueueAdd`` / ``QueueRemove`` / ``QueuePenalty`` / ``QueuePause`` apply to the model (``move_agent``,
  ``remove_member``, ``pause_agent``, ``unpause_agent``) and answer Success or Error with Asterisk's messages.
  The interface is the member interface (or the agent's device). The model pauses an agent in all its queues
  and a busy agent when its call ends: ``QueuePause`` with a ``Queue`` pauses the agent everywhere.
  ``QueueLog`` writes a custom row to the queue_log (when one is written).
- ``Originate`` with ``Application: ChanSpy`` and ``Data: <target>,<options>``: answers ``Originate
  successfully queued``; a spy channel on the given ``Channel`` (``Newchannel``, then ``OriginateResponse``)
  spies on the first live channel of the target device (``PJSIP/1001`` matches ``PJSIP/1001-...``; with
  option ``u`` the target is a Uniqueid): ``ChanSpyStart``. When that channel hangs up, ``ChanSpyStop``; with
  ``E`` (or ``u``) the spy then hangs up (``Hangup``), else it waits for the device's next call, as ChanSpy
  does. ``Hangup`` with the spy's channel ends it (``ChanSpyStop`` first when spying). Other applications,
  and hanging up the model's calls, are refused.

For tests: ``step()`` advances the model to the clock's time at once; ``drop_connections()`` closes every
session while the PBX runs on; ``freeze_connections()`` makes every present session a half-open link (silent,
never closed: only the client's keep-alive can tell); ``restart()`` is a PBX restart (sessions dropped, every
call gone, app_queue's statistics reset: a new centre from the present moment, same scenario and seed).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import random
import re
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from ..clock import Clock
from ..config import WallboardConfig
from .ami_render import (
    IN_USE,
    NOT_IN_USE,
    RINGING,
    AmiRenderer,
    Channel,
    PbxTracker,
    ami_timestamp,
    device_extension,
    event_class,
    format_message,
    held,
    interface_agents,
)
from .model import SimCentre
from .server import SimServer
from .queue_log_writer import QueueLogWriter

log = logging.getLogger(__name__)

GREETING = "Asterisk Call Manager/7.0.3"
EVENT_CLASSES = frozenset({"agent", "call", "dialplan", "system"})
MAX_MESSAGE_LINES = 200
_TRUE = {"yes", "true", "y", "t", "1", "on"}


def _true(v: str | None) -> bool:
    return (v or "").strip().lower() in _TRUE


def _mask(spec: str | None) -> frozenset[str] | None:
    """An event mask: None = every class, an empty set = none."""
    v = (spec or "on").strip().lower()
    if v in _TRUE or v == "all":
        return None
    if v in ("off", "no", "false", "0", "n", "f"):
        return frozenset()
    classes = {c.strip() for c in v.split(",") if c.strip()}
    return None if "all" in classes else frozenset(classes)


@dataclass(eq=False)
class _Session:
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    authenticated: bool = False
    username: str = ""
    mask: frozenset[str] | None = None
    challenge: str | None = None
    allow: list[re.Pattern[str]] = field(default_factory=list)  # Filter whitelist (any must match)
    deny: list[re.Pattern[str]] = field(default_factory=list)  # Filter blacklist ("!regex": none may match)
    frozen: bool = False  # a half-open link: nothing goes out, what comes in is lost

    def wants(self, cls: str) -> bool:
        return self.authenticated and (self.mask is None or cls in self.mask)

    def passes(self, text: str) -> bool:
        """The session's Filter regexes on the event's text (Asterisk's match_filter)."""
        if self.allow and not any(r.search(text) for r in self.allow):
            return False
        return not any(r.search(text) for r in self.deny)


@dataclass(eq=False)
class _Spy:
    channel: Channel
    target: str
    options: str
    spyee: Channel | None = None

    @property
    def by_uniqueid(self) -> bool:
        return "u" in self.options

    def matches(self, ch: Channel) -> bool:
        if ch.kind == "spy" or ch.state not in (4, 6):  # only live (ringing out or up) channels are spied on
            return False
        if self.by_uniqueid:
            return ch.uniqueid == self.target
        # ChanSpy's target is a channel-name prefix: ``PJSIP/1001-`` (what the executor sends, exact), or a
        # device ``PJSIP/1001``, taken here as that device's channels only
        return ch.name.startswith(self.target if self.target.endswith("-") else self.target + "-")


@dataclass
class _Reply:
    """What an action answers: messages for the session, then whether to keep it open."""

    messages: list[dict[str, str]] = field(default_factory=list)
    close: bool = False
    after: list[Any] = field(default_factory=list)  # callables run once the reply is written


class SimPbx(SimServer):
    what = "simulated PBX"

    def __init__(
        self,
        config: WallboardConfig,
        centre: SimCentre,
        clock: Clock | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        username: str = "wallboard",
        secret: str = "demo",
        *,
        speed: float = 1.0,
        step_s: float = 0.1,
        queue_log: str | Path | None = None,
        write_buffer_limit: int = 8 * 1024 * 1024,
    ):
        super().__init__(
            config, centre, clock, host, port, speed=speed, step_s=step_s, write_buffer_limit=write_buffer_limit
        )
        self.username = username
        self.secret = secret
        self.renderer = AmiRenderer(self.tracker)
        self.queue_log = QueueLogWriter(queue_log, config, self.tracker) if queue_log is not None else None
        self._agents = interface_agents(config)
        self._spies: list[_Spy] = []
        self._booted = centre.now
        self._rng = random.Random(f"{centre.seed}:ami-challenge")

    # --- life ---------------------------------------------------------------------------------------------

    @property
    def sessions(self) -> int:
        return len(self._conns)

    def _starting(self) -> None:
        self._booted = self.centre.now
        if self.queue_log is not None:
            self.queue_log.queue_start(self.centre.now)

    def _stopping(self) -> None:
        if self.queue_log is not None:
            self.queue_log.close()

    def restart(self, centre: SimCentre | None = None) -> None:
        """A PBX restart: sessions dropped, every call and spy gone, statistics reset; the centre starts over
        from the present moment (``centre`` if given, else the same scenario and seed)."""
        self.step()
        self.drop_connections()
        old = self.centre
        self.centre = centre or SimCentre(self.config, old.scenario, old.seed, old.now)
        self.tracker = PbxTracker(self.config)
        self.renderer = AmiRenderer(self.tracker)
        self._spies = []
        if self.queue_log is not None:
            self.queue_log.tracker = self.tracker
            self.queue_log.queue_start(self.centre.now)
        self._began, self._base, self._booted = self.clock.now(), self.centre.now, self.centre.now
        self._publish(self.centre.advance_to(self.centre.now))

    # --- the model, live ----------------------------------------------------------------------------------

    def _flush_model(self) -> None:
        """Push the events an action just caused (at the model's present time)."""
        self._publish(self.centre.advance_to(self.centre.now))

    def _publish(self, events: list[Any]) -> None:
        facts = []
        for e in events:
            fact = self.tracker.apply(e)
            facts.append(fact)
            for ev in self.renderer.render(fact):
                self._broadcast(ev)
            if self._spies:
                self._check_spies(e.ts)
        if self.queue_log is not None and facts:
            self.queue_log.write_facts(facts)

    def _broadcast(self, ev: dict[str, str]) -> None:
        cls = event_class(ev)
        data, text = b"", ""
        for s in list(self._conns):
            if s.wants(cls):
                data = data or format_message(ev)
                if s.allow or s.deny:
                    text = text or data.decode("utf-8", "replace")
                    if not s.passes(text):
                        continue
                self._send(s, data)
        self.events_sent += 1

    # --- sessions -----------------------------------------------------------------------------------------

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        s = _Session(reader, writer)
        task = self._track(s)
        try:
            writer.write(f"{GREETING}\r\n".encode())
            while True:
                msg = await self._read_message(reader)
                if msg is None:
                    break
                if s.frozen:
                    continue
                reply = self._handle(s, msg)
                for m in reply.messages:
                    self._send(s, format_message(m))
                for later in reply.after:
                    later()
                if reply.close:
                    await writer.drain()
                    break
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError):
            pass
        except asyncio.CancelledError:  # the loop is closing: end the session quietly
            pass
        finally:
            self._untrack(s, task)
            writer.close()

    @staticmethod
    async def _read_message(reader: asyncio.StreamReader) -> dict[str, str] | None:
        """One action: header lines up to a blank line; keys lower-cased (AMI keys are case-insensitive)."""
        msg: dict[str, str] = {}
        lines = 0
        while True:
            raw = await reader.readline()
            if not raw:
                return None
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            if not line.strip():
                if msg:
                    return msg
                continue
            lines += 1
            if lines > MAX_MESSAGE_LINES:
                raise ValueError("AMI message too long")
            key, sep, value = line.partition(":")
            if sep:
                msg.setdefault(key.strip().lower(), value.strip())

    # --- actions ------------------------------------------------------------------------------------------

    @staticmethod
    def _response(
        msg: dict[str, str],
        status: str,
        message: str | None = None,
        *pairs: tuple[str, str],
        list_flag: str | None = None,
    ) -> dict[str, str]:
        out: dict[str, str] = OrderedDict(Response=status)
        if msg.get("actionid"):
            out["ActionID"] = msg["actionid"]
        if list_flag:
            out["EventList"] = list_flag
        for k, v in pairs:
            out[k] = v
        if message is not None:
            out["Message"] = message
        return out

    def _ok(self, msg: dict[str, str], message: str | None = None, *pairs: tuple[str, str]) -> _Reply:
        return _Reply([self._response(msg, "Success", message, *pairs)])

    def _error(self, msg: dict[str, str], message: str) -> _Reply:
        return _Reply([self._response(msg, "Error", message)])

    def _handle(self, s: _Session, msg: dict[str, str]) -> _Reply:
        action = msg.get("action", "").strip().lower()
        if not action:
            return self._error(msg, "Missing action in request")
        if not s.authenticated and action not in ("login", "challenge", "logoff"):
            return self._error(msg, "Permission denied")
        handler = getattr(self, "_action_" + action, None)
        if handler is None:
            return self._error(
                msg, f"Invalid/unknown command: {msg['action']}. Use Action: ListCommands to show available commands."
            )
        return handler(s, msg)

    def _action_login(self, s: _Session, msg: dict[str, str]) -> _Reply:
        if s.authenticated:
            return self._ok(msg, "Already authenticated")
        user_ok = hmac.compare_digest(msg.get("username", "").encode(), self.username.encode())
        if msg.get("authtype", "").lower() == "md5":
            expected = hashlib.md5(((s.challenge or "") + self.secret).encode()).hexdigest()
            secret_ok = s.challenge is not None and hmac.compare_digest(msg.get("key", "").lower(), expected)
        else:
            secret_ok = hmac.compare_digest(msg.get("secret", "").encode(), self.secret.encode())
        if not (user_ok and secret_ok):
            log.warning("AMI login refused for %r", msg.get("username", ""))
            reply = self._error(msg, "Authentication failed")
            reply.close = True
            return reply
        s.authenticated, s.username, s.mask = True, msg.get("username", ""), _mask(msg.get("events"))
        reply = self._ok(msg, "Authentication accepted")
        if s.wants("system"):
            now = self.centre.now
            reply.messages.append(
                OrderedDict(
                    Event="FullyBooted",
                    Privilege="system,all",
                    Timestamp=ami_timestamp(now),
                    Uptime=str(held(self._booted, now)),
                    LastReload=str(held(self._booted, now)),
                    Status="Fully Booted",
                )
            )
        return reply

    def _action_challenge(self, s: _Session, msg: dict[str, str]) -> _Reply:
        if msg.get("authtype", "").lower() != "md5":
            return self._error(msg, "Must specify AuthType")
        s.challenge = str(self._rng.randrange(10**8, 10**9))
        return self._ok(msg, None, ("Challenge", s.challenge))

    def _action_logoff(self, s: _Session, msg: dict[str, str]) -> _Reply:
        return _Reply([self._response(msg, "Goodbye", "Thanks for all the fish.")], close=True)

    def _action_ping(self, s: _Session, msg: dict[str, str]) -> _Reply:
        return self._ok(msg, None, ("Ping", "Pong"), ("Timestamp", ami_timestamp(self.centre.now)))

    def _action_events(self, s: _Session, msg: dict[str, str]) -> _Reply:
        s.mask = _mask(msg.get("eventmask"))
        return self._ok(msg, None, ("Events", "Off" if s.mask == frozenset() else "On"))

    def _action_filter(self, s: _Session, msg: dict[str, str]) -> _Reply:
        if msg.get("operation", "").lower() != "add":
            return self._error(msg, "Unknown operation")
        spec = msg.get("filter", "")
        deny = spec.startswith("!")
        try:
            pattern = re.compile(spec[1:] if deny else spec)
        except re.error:
            return self._error(msg, "Invalid filter")
        (s.deny if deny else s.allow).append(pattern)
        return self._ok(msg, "Filter Added Successfully")

    # --- queue status -------------------------------------------------------------------------------------

    def _member_status(self, agent: str) -> int:
        state = self.centre.agent_state(agent)
        return {"ringing": RINGING, "on_call": IN_USE, "dialing": IN_USE}.get(state, NOT_IN_USE)

    def _action_queuestatus(self, s: _Session, msg: dict[str, str]) -> _Reply:
        self.step()
        now = self.centre.now
        aid = {"ActionID": msg["actionid"]} if msg.get("actionid") else {}
        qfilter, mfilter = msg.get("queue", ""), msg.get("member", "")
        out: list[dict[str, str]] = [self._response(msg, "Success", "Queue status will follow", list_flag="start")]
        items = 0
        for q in self._queues:
            if qfilter and qfilter.lower() != q.lower():
                continue
            waiting = self.centre.waiting_calls(q)
            st = self.tracker.queue_stats(q)
            sl = 100.0 * st.completed_in_sl / st.completed if st.completed else 0.0
            done = st.completed + st.abandoned
            sl2 = 100.0 * (st.completed_in_sl + st.abandoned_in_sl) / done if done else 0.0
            out.append(
                OrderedDict(
                    Event="QueueParams",
                    Queue=q,
                    Max="0",
                    Strategy="leastrecent",
                    Calls=str(len(waiting)),
                    Holdtime=str(st.holdtime),
                    TalkTime=str(st.talktime),
                    Completed=str(st.completed),
                    Abandoned=str(st.abandoned),
                    ServiceLevel=str(int(self.config.queue(q).sl_threshold_s)),
                    ServicelevelPerf=f"{sl:.1f}",
                    ServicelevelPerf2=f"{sl2:.1f}",
                    Weight="0",
                    **aid,
                )
            )
            items += 1
            for agent, penalty in self.centre.members(q):
                iface = self.tracker.interface(agent)
                if mfilter and mfilter != iface:
                    continue
                m = self.tracker.members.get((q, agent))
                paused = self.centre.is_paused(agent)  # on a call too: app_queue pauses a member at once
                out.append(
                    OrderedDict(
                        Event="QueueMember",
                        Queue=q,
                        Name=iface,
                        Location=iface,
                        StateInterface=self.tracker.device_of(agent),
                        Membership="dynamic",
                        Penalty=str(penalty),
                        CallsTaken=str(m.calls if m else 0),
                        LastCall=str(m.last_call if m else 0),
                        LastPause=str(m.last_pause if m else 0),
                        LoginTime=str(m.login_time if m else 0),
                        InCall=str(m.in_call if m else 0),
                        Status=str(self._member_status(agent)),
                        Paused="1" if paused else "0",
                        PausedReason=(self.centre.pause_reason(agent) or ""),
                        Wrapuptime=str(self.tracker.wrapup_s(q)),
                        **aid,
                    )
                )
                items += 1
            for pos, (call_id, number, joined, _ringing) in enumerate(waiting, 1):
                call = self.tracker.calls.get(call_id)
                out.append(
                    OrderedDict(
                        Event="QueueEntry",
                        Queue=q,
                        Position=str(pos),
                        Channel=call.channel.name if call else "",
                        Uniqueid=call_id,
                        CallerIDNum=number or "unknown",
                        CallerIDName=number or "unknown",
                        ConnectedLineNum="unknown",
                        ConnectedLineName="unknown",
                        Wait=str(held(joined, now)),
                        Priority="0",
                        **aid,
                    )
                )
                items += 1
        out.append(OrderedDict(Event="QueueStatusComplete", **aid, EventList="Complete", ListItems=str(items)))
        return _Reply(out)

    def _action_queuesummary(self, s: _Session, msg: dict[str, str]) -> _Reply:
        self.step()
        now = self.centre.now
        aid = {"ActionID": msg["actionid"]} if msg.get("actionid") else {}
        qfilter = msg.get("queue", "")
        out: list[dict[str, str]] = [self._response(msg, "Success", "Queue summary will follow", list_flag="start")]
        n = 0
        for q in self._queues:
            if qfilter and qfilter.lower() != q.lower():
                continue
            members = self.centre.members(q)
            available = sum(self._member_status(a) == NOT_IN_USE and not self.centre.is_paused(a) for a, _ in members)
            waiting = self.centre.waiting_calls(q)
            st = self.tracker.queue_stats(q)
            longest = max((held(j, now) for _, _, j, _ in waiting), default=0)
            out.append(
                OrderedDict(
                    Event="QueueSummary",
                    Queue=q,
                    LoggedIn=str(len(members)),
                    Available=str(available),
                    Callers=str(len(waiting)),
                    HoldTime=str(st.holdtime),
                    TalkTime=str(st.talktime),
                    LongestHoldTime=str(longest),
                    **aid,
                )
            )
            n += 1
        out.append(OrderedDict(Event="QueueSummaryComplete", **aid, EventList="Complete", ListItems=str(n)))
        return _Reply(out)

    # --- queue actions ------------------------------------------------------------------------------------

    def _agent_for(self, interface: str) -> str | None:
        return self._agents.get(interface.strip())

    def _queue_named(self, name: str) -> str | None:
        return next((q for q in self._queues if q.lower() == name.strip().lower()), None)

    def _applied(self, reply: _Reply) -> _Reply:
        """Answer first, then push the events the action caused."""
        reply.after.append(self._flush_model)
        return reply

    def _action_queueadd(self, s: _Session, msg: dict[str, str]) -> _Reply:
        if not msg.get("queue"):
            return self._error(msg, "'Queue' not specified.")
        if not msg.get("interface"):
            return self._error(msg, "'Interface' not specified.")
        self.step()
        queue = self._queue_named(msg["queue"])
        if queue is None:
            return self._error(msg, "Unable to add interface to queue: No such queue")
        agent = self._agent_for(msg["interface"])
        if agent is None:
            return self._error(msg, f"Unable to add interface: {msg['interface']} is not a device of this centre")
        if queue in self.centre.skills(agent):
            return self._error(msg, "Unable to add interface: Already there")
        try:
            penalty = max(0, int(msg.get("penalty") or 0))
        except ValueError:
            penalty = 0  # as Asterisk: an unreadable penalty is 0
        if _true(msg.get("paused")):
            self.centre.pause_agent(agent, msg.get("reason", ""))
        self.centre.move_agent(agent, queue, penalty)
        return self._applied(self._ok(msg, "Added interface to queue"))

    def _action_queueremove(self, s: _Session, msg: dict[str, str]) -> _Reply:
        if not msg.get("queue") or not msg.get("interface"):
            return self._error(msg, "Need 'Queue' and 'Interface' parameters.")
        self.step()
        queue = self._queue_named(msg["queue"])
        if queue is None:
            return self._error(msg, "Unable to remove interface from queue: No such queue")
        agent = self._agent_for(msg["interface"])
        if agent is None or queue not in self.centre.skills(agent):
            return self._error(msg, "Unable to remove interface: Not there")
        self.centre.remove_member(agent, queue)
        return self._applied(self._ok(msg, "Removed interface from queue"))

    def _action_queuepenalty(self, s: _Session, msg: dict[str, str]) -> _Reply:
        if not msg.get("interface") or not msg.get("penalty"):
            return self._error(msg, "Need 'Interface' and 'Penalty' parameters.")
        self.step()
        agent = self._agent_for(msg["interface"])
        try:
            penalty = int(msg["penalty"])
        except ValueError:
            penalty = -1
        skills = self.centre.skills(agent) if agent else {}
        if msg.get("queue"):
            queue = self._queue_named(msg["queue"])
            queues = [queue] if queue in skills else []
        else:
            queues = list(skills)
        if agent is None or penalty < 0 or not queues:
            return self._error(msg, "Invalid interface, queuename or penalty")
        for q in queues:
            self.centre.move_agent(agent, q, penalty)
        return self._applied(self._ok(msg, "Interface penalty set successfully"))

    def _action_queuepause(self, s: _Session, msg: dict[str, str]) -> _Reply:
        if not msg.get("interface") or not msg.get("paused"):
            return self._error(msg, "Need 'Interface' and 'Paused' parameters.")
        self.step()
        agent = self._agent_for(msg["interface"])
        skills = self.centre.skills(agent) if agent else {}
        if agent is None or not skills or (msg.get("queue") and self._queue_named(msg["queue"]) not in skills):
            return self._error(msg, "Interface not found")
        if _true(msg["paused"]):
            self.centre.pause_agent(agent, msg.get("reason", ""))
            return self._applied(self._ok(msg, "Interface paused successfully"))
        self.centre.unpause_agent(agent)
        return self._applied(self._ok(msg, "Interface unpaused successfully"))

    def _action_queuelog(self, s: _Session, msg: dict[str, str]) -> _Reply:
        if not msg.get("queue") or not msg.get("event"):
            return self._error(msg, "Need 'Queue' and 'Event' parameters.")
        if self.queue_log is not None:
            self.step()
            self.queue_log.custom(
                self.centre.now,
                msg["queue"],
                msg["event"],
                msg.get("uniqueid", ""),
                msg.get("interface", ""),
                msg.get("message", ""),
            )
        return self._ok(msg, "Event added successfully")

    # --- listen / whisper / barge -------------------------------------------------------------------------

    def _action_originate(self, s: _Session, msg: dict[str, str]) -> _Reply:
        device = msg.get("channel", "").strip()
        if not device:
            return self._error(msg, "Channel not specified")
        if msg.get("application", "").strip().lower() != "chanspy":
            return self._error(msg, "Originate failed: the simulated PBX originates Application ChanSpy only")
        target, _, options = msg.get("data", "").replace("|", ",").partition(",")
        if not target.strip():
            return self._error(msg, "Originate failed: ChanSpy needs a target in Data")
        self.step()
        reply = self._ok(msg, "Originate successfully queued")
        reply.after.append(lambda: self._start_spy(msg, device, target.strip(), options.strip()))
        return reply

    def _start_spy(self, msg: dict[str, str], device: str, target: str, options: str) -> None:
        now = self.centre.now
        t = self.tracker
        cid_name, _, cid_num = msg.get("callerid", "").partition("<")
        uid = t.new_id(now)
        ch = t.open_channel(
            Channel(
                name=t.channel_name(device),
                uniqueid=uid,
                linkedid=uid,
                caller_num=device_extension(device),
                caller_name=device_extension(device),
                kind="spy",
                connected_num=cid_num.rstrip(">").strip() or "<unknown>",
                connected_name=cid_name.strip().strip('"') or "<unknown>",
                state=6,
                context="default",
                exten="s",
            )
        )
        self._broadcast(self.renderer.event("Newchannel", "call", now, ch.snapshot()))
        if _true(msg.get("async")):
            resp: dict[str, str] = OrderedDict(
                Event="OriginateResponse", Privilege="call,all", Timestamp=ami_timestamp(now)
            )
            if msg.get("actionid"):
                resp["ActionID"] = msg["actionid"]
            resp.update(
                Response="Success",
                Channel=device,
                Context="",
                Exten="",
                Application="ChanSpy",
                Data=msg.get("data", ""),
                Reason="4",
                Uniqueid=uid,
                CallerIDNum=ch.connected_num,
                CallerIDName=ch.connected_name,
            )
            self._broadcast(resp)
        self._spies.append(_Spy(ch, target, options))
        self._check_spies(now)

    def _check_spies(self, ts: datetime) -> None:
        live = self.tracker.channels
        for spy in list(self._spies):
            if spy.spyee is not None and spy.spyee.uniqueid not in live:
                self._broadcast(self.renderer.chanspy("ChanSpyStop", spy.channel, spy.spyee, ts))
                spy.spyee = None
                if "E" in spy.options or spy.by_uniqueid:
                    self._end_spy(spy, ts)
                    continue
            if spy.spyee is None:
                found = next((ch for ch in live.values() if spy.matches(ch)), None)
                if found is not None:
                    spy.spyee = found
                    self._broadcast(self.renderer.chanspy("ChanSpyStart", spy.channel, found, ts))
                elif spy.by_uniqueid:  # that channel is gone (or never was): nothing to wait for
                    self._end_spy(spy, ts)

    def _end_spy(self, spy: _Spy, ts: datetime) -> None:
        if spy.spyee is not None:
            self._broadcast(self.renderer.chanspy("ChanSpyStop", spy.channel, spy.spyee, ts))
            spy.spyee = None
        self._spies.remove(spy)
        self.tracker.close_channel(spy.channel)
        self._broadcast(self.renderer.hangup(spy.channel, ts))

    def _action_hangup(self, s: _Session, msg: dict[str, str]) -> _Reply:
        name = msg.get("channel", "").strip()
        if not name:
            return self._error(msg, "No channel specified")
        self.step()
        spy = next((sp for sp in self._spies if name in (sp.channel.name, sp.channel.uniqueid)), None)
        if spy is None:
            if any(name in (ch.name, ch.uniqueid) for ch in self.tracker.channels.values()):
                return self._error(msg, "The simulated PBX hangs up spy channels only")
            return self._error(msg, "No such channel")
        reply = self._ok(msg, "Channel Hungup")
        reply.after.append(lambda: self._end_spy(spy, self.centre.now) if spy in self._spies else None)
        return reply

    # --- take over a call ---------------------------------------------------------------------------------

    def _action_redirect(self, s: _Session, msg: dict[str, str]) -> _Reply:
        """``Redirect`` of an answered queue caller's channel (by name or Uniqueid, as Asterisk finds it) to the
        supervisor's extension: the agent's part ends (AgentComplete, Reason transfer; wrap-up as after any
        call), the caller talks on with the supervisor outside the queue. Other redirects are refused."""
        name = msg.get("channel", "").strip()
        if not name:
            return self._error(msg, "Channel not specified")
        if not msg.get("exten", "").strip():
            return self._error(msg, "Exten not specified")
        self.step()
        ch = next((c for c in self.tracker.channels.values() if name in (c.name, c.uniqueid)), None)
        if ch is None:
            return self._error(msg, f"Channel does not exist: {name}")
        rec = next((c for c in reversed(self.centre.calls) if c.call_id == ch.uniqueid), None)
        agent = self.centre._by_id.get(rec.agent) if rec is not None and rec.agent else None
        if agent is None or agent.state != "on_call" or agent.caller is None or agent.caller.record is not rec:
            return self._error(msg, "The simulated PBX redirects the caller's channel of an answered queue call only")
        self.centre.take_over(agent.id)
        log.info("redirect: %s to %s@%s, %s drops out", name, msg.get("exten"), msg.get("context", ""), agent.id)
        return self._applied(self._ok(msg, "Redirect successful"))

    # --- for tools ----------------------------------------------------------------------------------------

    def spies(self) -> list[tuple[str, str | None]]:
        """(spy channel, spied channel or None while waiting) for each running ChanSpy."""
        return [(sp.channel.name, sp.spyee.name if sp.spyee else None) for sp in self._spies]
