"""Asterisk queue_log, the flat file: ``epoch|callid|queue|agent|EVENT|data1|data2|...`` -> Events.

Each verb's data fields are in PROTOCOLS.md (queue_log section). What this adapter decides:

- **Answers.** CONNECT gives the answer. A transfer row (BLINDTRANSFER, ATTENDEDTRANSFER, pre-12 TRANSFER)
  gives a ``CallerAnswered`` as well, always before its ``CallCompleted``: a call can end in ATTENDEDTRANSFER
  with no CONNECT row, and the engine counts one answer per queue entry, so after a CONNECT it changes nothing.
  With no CONNECT, the agent (on no call) is put ``on_call`` at the answer, the row's time less its talk time,
  so the agent's talk is the queue's (else those seconds would stay ``available``).
- **Wrap-up.** queue_log has no wrap-up end row, so it is inferred from the queue's ``wrapup_s``: ``wrap_up``
  at the end of talk, then ``WrapupCompleted`` and ``available`` ``wrapup_s`` later (``available`` at once
  when ``wrapup_s`` is 0). Those later events wait in a small heap and come out in time order among the later
  rows. A state the file itself gives for the agent before then (a new CONNECT, a log-off) is newer
  news: the inferred ``available`` is dropped (the ``WrapupCompleted`` still comes, so wrap time is counted).
- **Pauses of a busy agent.** app_queue pauses a member at once, on a call or not, and writes nothing when the
  call or its wrap-up ends. So a PAUSE row during a call (or its wrap-up) keeps the agent ``on_call`` (or
  ``wrap_up``) with ``pause_pending`` and the reason; at the inferred end of wrap-up the agent is ``paused``
  (not ``available``), and pause time starts there. An UNPAUSE meanwhile lifts it (still on the call).
- **States never go back in time**: a row stamped before a state already given (an inferred end of wrap-up
  that fell due on the clock while the row was on its way) is given at that state's time, so the engine,
  which keeps the newest state, does not drop it.
- **Not counted, not dead letters.** RINGCANCELED (a ring lost to another member or to a caller hang-up is
  not a miss), AGENTDUMP (the caller stays queued; only RINGNOANSWER is a miss), RINGINUSE, SYSCOMPAT,
  CONFIGRELOAD and custom rows (DID, INFO, ...): counted in ``ignored`` by verb. Our own custom row ``SURVEY``
  (a post-call IVR's answer: ``score|scale``) is a ``SurveyResponse``.
- **Members as Asterisk means them.** ADDMEMBER without PAUSED logs a logged-out agent in, ``available`` (one
  already logged in stays as it is); REMOVEMEMBER of the agent's last queue (the configured skills, then the
  rows) logs it out; UNPAUSE / UNPAUSEALL during a call leaves the agent on it. What these decide from (who is
  logged in, on which call, in which queues) rides in the cursor with the pauses.
- **PBX restart.** QUEUESTART (the PBX started or restarted) empties every queue: a ``WaitingResync`` listing
  nobody per queue, so callers whose exit row never came (they were cut off) are not left waiting as ghosts.
- **Dead letters.** Too few fields, a bad epoch (or one out of the event model's time bounds), a queue or
  agent name the event model refuses, an empty call id or queue on a call row, a missing agent on a
  member row, a data field that should be a non-negative number and is not. A data field the event needs
  (talk time, penalty) must be there; an optional one (a wait, a position, a ring time) may be missing, as
  older Asterisk versions write fewer fields, but if present it must be valid.
- **Ids** are ``ql:<line>:<n>`` (``n`` = 1, 2, ... for the events of one row; ``w`` and ``a`` for the inferred
  end of wrap-up, ``t`` for the talk a transfer with no CONNECT infers), so reading the same file again gives the
  same ids.
"""

from __future__ import annotations

import hashlib
import heapq
import json
import math
import os
from collections import Counter
from datetime import datetime, timezone
from typing import Any, AsyncIterator, Callable, Iterator

from pydantic import Field, ValidationError

from wallboard.clock import Clock, SystemClock
from wallboard.config import WallboardConfig
from wallboard.events import (
    EARLIEST_EPOCH,
    MAX_COUNT,
    MAX_SECONDS,
    AgentMissed,
    AgentStateChanged,
    CallCompleted,
    CallerAbandoned,
    CallerAnswered,
    CallerJoined,
    CallerOverflowed,
    Event,
    MemberAdded,
    SurveyResponse,
    MemberPenalty,
    MemberRemoved,
    WaitingResync,
    WrapupCompleted,
    time_problem,
)
from wallboard.events import trusted as _event  # (tests/test_events_trusted.py reads a file both ways)
from wallboard.feed import (
    CursorMark,
    DeadLetter,
    FeedOptions,
    FileFeed,
    LiveFeed,
    Redrivable,
    Resumable,
    build_options,
)

from .watch import FileChanges

_UTC = timezone.utc
_UNSEEN = "\x00unseen"  # an interface not yet looked up (no agent id can be it: names have no control character)
_BOM = b"\xef\xbb\xbf"
# Past the event model's limits a field is a dead letter naming the field (see wallboard.events.MAX_SECONDS)
_MAX_SECONDS, _MAX_COUNT = MAX_SECONDS, MAX_COUNT

# Rows about one queue call: they need a call id and a queue.
_CALL_VERBS = frozenset(
    {
        "ENTERQUEUE",
        "CONNECT",
        "COMPLETECALLER",
        "COMPLETEAGENT",
        "ABANDON",
        "EXITWITHTIMEOUT",
        "EXITEMPTY",
        "EXITWITHKEY",
        "WITHDRAW",
        "BLINDTRANSFER",
        "ATTENDEDTRANSFER",
        "TRANSFER",
        "RINGNOANSWER",
        "SURVEY",
    }
)
# Rows about a queue membership: they need a queue.
_MEMBER_VERBS = frozenset({"ADDMEMBER", "REMOVEMEMBER", "PENALTY"})
# Overflow exits: reason and which data field (0-based) holds the wait.
_OVERFLOWS = {
    "EXITWITHTIMEOUT": ("timeout", 2),
    "EXITEMPTY": ("empty", 2),
    "EXITWITHKEY": ("key", 3),
    "WITHDRAW": ("withdrawn", 2),
}
# ATTENDEDTRANSFER: how many data fields the destination takes before holdtime and talktime.
_ATXFER_DEST_FIELDS = {"BRIDGE": 2, "APP": 2, "LINK": 3}


class _Bad(Exception):
    """The row cannot become events; the message is the dead letter's reason."""


class _Row:
    __slots__ = ("n", "id", "epoch", "ts", "source", "verb", "call_id", "queue", "agent", "data")

    def __init__(self, n: int, epoch: float, source: str, parts: list[str], agent: str | None):
        self.n = n
        self.id = f"ql:{n}:"
        self.epoch = epoch
        self.ts = datetime.fromtimestamp(epoch, _UTC)
        self.source = source
        self.verb = parts[4]
        callid, queue = parts[1], parts[2]
        self.call_id = callid if callid and callid != "NONE" else None
        self.queue = queue if queue and queue != "NONE" else None
        self.agent = agent
        self.data = parts[5:]


def _field(d: list[str], i: int) -> str:
    return d[i] if i < len(d) else ""


def _seconds(d: list[str], i: int, name: str, required: bool = False, scale: float = 1.0) -> float | None:
    """Data field ``i`` (0-based) as a non-negative duration; ``None`` when absent and not required."""
    v = d[i] if i < len(d) else ""
    if not v:
        if required:
            raise _Bad(f"{name} (data{i + 1}) is missing")
        return None
    try:
        x = float(v)
    except ValueError:
        raise _Bad(f"{name} (data{i + 1}) is not a number: {v!r}") from None
    if not 0 <= x < math.inf:  # also rejects nan
        raise _Bad(f"{name} (data{i + 1}) must be a non-negative number, got {v!r}")
    if x >= _MAX_SECONDS * scale:
        raise _Bad(f"{name} (data{i + 1}) is too large (at most {_MAX_SECONDS * scale:.0e}), got {v[:40]!r}")
    return x / scale if scale != 1.0 else x


def _count(d: list[str], i: int, name: str, required: bool = False) -> int | None:
    """Data field ``i`` (0-based) as a non-negative whole number (positions, penalties)."""
    v = d[i] if i < len(d) else ""
    if not v:
        if required:
            raise _Bad(f"{name} (data{i + 1}) is missing")
        return None
    try:
        x = int(v)
    except ValueError:
        raise _Bad(f"{name} (data{i + 1}) is not a whole number: {v!r}") from None
    if x < 0:
        raise _Bad(f"{name} (data{i + 1}) must not be negative, got {v[:40]!r}")
    if x > _MAX_COUNT:
        raise _Bad(f"{name} (data{i + 1}) is too large (at most {_MAX_COUNT}), got {v[:40]!r}")
    return x


class QueueLogOptions(FeedOptions):
    """``[feeds.queue-log]`` / ``--feed-opt``."""

    poll_s: float = Field(
        0.2,
        gt=0,
        le=60,
        description="Following: a change of the file wakes the reader at once (inotify); it also looks this often "
        "(inferred wrap-up ends fall due; a file system without notifications).",
    )


class QueueLogFeed:
    """Reads an Asterisk queue_log file (see the module docstring for the mapping)."""

    name = "queue-log"
    Options = QueueLogOptions
    provides = (FileFeed, LiveFeed, Resumable, Redrivable)

    def __init__(self, path: Any, config: WallboardConfig, **options: Any):
        self.options = build_options(QueueLogOptions, self.name, config, options)
        if path is None:
            raise ValueError("the queue-log feed needs the path of a queue_log file")
        self.path = str(path)
        self.config = config
        self._skills = {a.id: a.skills for a in config.agents}
        self.ignored: Counter[str] = Counter()
        self.cursor: tuple[int, int] = (0, 0)  # (line number, byte offset after it) of the last line read
        self._wrapup_s: dict[str, float] = {}
        self._handlers: dict[str, Callable[[_Row], list[Any]]] = {
            "ENTERQUEUE": self._enterqueue,
            "CONNECT": self._connect,
            "COMPLETECALLER": self._complete,
            "COMPLETEAGENT": self._complete,
            "ABANDON": self._abandon,
            "EXITWITHTIMEOUT": self._overflow,
            "EXITEMPTY": self._overflow,
            "EXITWITHKEY": self._overflow,
            "WITHDRAW": self._overflow,
            "BLINDTRANSFER": self._transfer,
            "ATTENDEDTRANSFER": self._transfer,
            "TRANSFER": self._transfer,
            "RINGNOANSWER": self._ringnoanswer,
            "SURVEY": self._survey,
            "ADDMEMBER": self._addmember,
            "REMOVEMEMBER": self._removemember,
            "PENALTY": self._penalty,
            "PAUSE": self._pause,
            "PAUSEALL": self._pause,
            "UNPAUSE": self._unpause,
            "UNPAUSEALL": self._unpause,
            "AGENTLOGIN": self._available,
            "AGENTLOGOFF": self._logoff,
            "QUEUESTART": self._queuestart,
        }

    # -- reading ----------------------------------------------------------------------------------------------

    def _reset(self) -> None:
        self.ignored = Counter()
        self.cursor = (0, 0)
        # Inferred end of wrap-up: (due epoch, line, WrapupCompleted, the state after it or None); the line
        # breaks ties.
        self._pending: list[tuple[float, int, WrapupCompleted, AgentStateChanged | None]] = []
        self._pending_from: dict[int, int] = {}  # line with an inferred event still to come -> its start offset
        self._return_line: dict[str, int] = {}  # agent -> line whose inferred state after wrap-up still holds
        self._paused: dict[str, str | None] = {}  # agent -> pause reason, while paused (pending while busy)
        self._stated_at: dict[str, datetime] = {}  # agent -> time of the last state given (never goes back)
        self._staged: tuple[float, int, WrapupCompleted, AgentStateChanged | None] | None = None
        self._agent_ids: dict[str, str | None] = {"NONE": None, "": None, **self.config.agent_by_interface()}
        self._queues_named: set[str] = set()  # queues this reader has seen rows of (for QUEUESTART)
        # What Asterisk knows and a row alone does not say (see ``_addmember``, ``_removemember``, ``_unpause``):
        self._logged_in: set[str] = set()  # agents whose last state given was not logged_out
        self._calls: dict[str, tuple[str | None, str | None]] = {}  # agent -> (call id, queue) while talking
        self._members: dict[str, set[str]] = {}  # agent -> queues (from the configured skills, then the rows)
        self._prefix = f"queue-log:{self.path}:"

    def read(self) -> Iterator[Event | DeadLetter]:
        """Events and dead letters in file order (inferred wrap-up ends in time order among them)."""
        self._reset()
        offset = 0
        with open(self.path, "rb") as f:  # bytes, so the cursor is a byte offset a reader can seek to
            for n, raw in enumerate(f, 1):
                yield from self._line(raw, n, offset)
                offset += len(raw)
        yield from self._due_by(math.inf)

    def parse_record(self, raw: str, where: str | int) -> list[Event | DeadLetter]:
        """One row on its own, as ``read`` makes line ``where`` (same ids, same checks), with the inferred
        end of its wrap-up, for ``wallboard deadletter --redrive``. What the rows before it said (a pause in
        force) is not known here; the engine keeps the newest agent state by time, so an old row changes none."""
        self._reset()
        out = self._line(raw.encode("utf-8", "replace") + b"\n", int(where), 0)
        return out + list(self._due_by(math.inf))

    def _due_by(self, epoch: float) -> Iterator[Event]:
        pending = self._pending
        while pending and pending[0][0] <= epoch:
            item = heapq.heappop(pending)
            self._pending_from.pop(item[1], None)
            yield from self._due(item)

    def _line(self, raw: bytes, n: int, start: int) -> list[Event | DeadLetter]:
        """One line (``start`` = its byte offset) -> its events, after the inferred ones that fell due."""
        self.cursor = (n, start + len(raw))
        if start == 0 and raw.startswith(_BOM):  # a file saved with a byte-order mark: not part of the row
            raw = raw[len(_BOM) :]
        line = raw.decode("utf-8", "replace").rstrip("\r\n")
        if not line or line[0] == "#" or line.isspace():
            return []
        source = self._prefix + str(n)
        parts = line.split("|")
        if len(parts) < 5:
            return [DeadLetter(source, f"too few fields ({len(parts)}): need epoch|callid|queue|agent|EVENT", line)]
        try:
            epoch = float(parts[0])
        except ValueError:
            return [DeadLetter(source, f"epoch is not a valid time: {parts[0]!r}", line)]
        problem = time_problem(epoch)  # the event model's bounds, before anything is built from the row
        if problem:
            return [DeadLetter(source, f"epoch is not a valid time: {parts[0][:40]!r}, which {problem}", line)]
        verb = parts[4]
        handler = self._handlers.get(verb)
        if handler is None:
            self.ignored[verb] += 1
            return list(self._due_by(epoch)) if self._pending else []
        out: list[Event | DeadLetter]
        try:
            agent = self._agent_ids.get(parts[3], _UNSEEN)
            if agent is _UNSEEN:
                agent = self._agent(parts[3])
            out = self._row(handler, _Row(n, epoch, source, parts, agent))
        except _Bad as e:
            out = [DeadLetter(source, f"{verb}: {e}", line)]
        except ValidationError as e:  # a backstop: the checks above should catch what matters first
            err = e.errors()[0]
            where = ".".join(str(p) for p in err["loc"])
            out = [DeadLetter(source, f"{verb}: {where}: {err['msg']}", line)]
        if self._staged is not None or (self._pending and n not in self._pending_from):
            for item in self._pending:
                self._pending_from.setdefault(item[1], start)
        return out

    # -- following a live file -----------------------------------------------------------------------------

    def resume(self, state: str | None) -> None:
        """Where ``follow`` starts: a cursor it gave before (JSON), or None for the start of the file."""
        self._resume = json.loads(state) if state else None

    def cursor_key(self) -> str:
        return f"queue-log:{os.path.abspath(self.path)}"

    def _cursor_state(self, ident: tuple[int, int], line_no: int, offset: int) -> CursorMark:
        """A safe place to resume: the start of the oldest line whose inferred events are still to come (so
        they are made again), else the end of the last line read. Re-read lines change nothing (exactly once
        by meaning)."""
        if self._pending_from:
            n0 = min(self._pending_from)
            line_no, offset = n0 - 1, self._pending_from[n0]
        # who is paused (and why) rides along: a call ending after the cursor infers the agent's state after
        # wrap-up from it, and the PAUSE row that set it may lie before the cursor. Saving it as of the end of
        # the chunk is right: re-read rows replay every change after the cursor, and an agent's state row
        # between the cursor and here supersedes the inferred state anyway (see ``_return_line``).
        # The same holds for what the member rows decide from (``_addmember``, ``_removemember``, ``_unpause``):
        # who is logged in, who is on which call, and memberships where they differ from the configured skills.
        members = {a: sorted(qs) for a, qs in self._members.items() if qs != set(self._skills.get(a, {}))}
        state = {
            "dev": ident[0],
            "ino": ident[1],
            "line": line_no,
            "offset": offset,
            "head": self._head,
            "paused": self._paused,
            "in": sorted(self._logged_in),
            "calls": self._calls,
            "members": members,
        }
        return CursorMark(self.cursor_key(), json.dumps(state))

    @staticmethod
    def _head_of(f) -> str:
        """A fingerprint of the file's first line: a file truncated and written again while we were away has
        another first line, though its inode is the same and it may have grown past our offset."""
        pos = f.tell()
        f.seek(0)
        first = f.readline(512)
        f.seek(pos)
        return hashlib.sha1(first).hexdigest()[:16] if first.endswith(b"\n") else ""

    async def follow(
        self, clock: Clock | None = None, poll_s: float | None = None
    ) -> AsyncIterator[Event | DeadLetter | CursorMark]:
        """Tail the file across rotation (a new file at the path: the old one is read to its end first) and
        truncation (copytruncate: start again at 0), from the cursor given to ``resume``. Yields a
        ``CursorMark`` after each chunk; inferred wrap-up ends come out when due on ``clock``."""
        clock = clock or SystemClock()
        poll_s = poll_s or self.options.poll_s
        self._reset()
        start = getattr(self, "_resume", None)
        f, n, offset = None, 0, 0
        ident: tuple[int, int] = (-1, -1)  # the open file's (device, inode), set whenever f is
        if start:
            ident = (start["dev"], start["ino"])
            old = _find_by_identity(self.path, ident)
            if old is not None:
                f = open(old, "rb")
                same = os.fstat(f.fileno()).st_size >= start["offset"] and self._head_of(f) == start.get("head")
                if same:
                    f.seek(start["offset"])
                    n, offset = start["line"], start["offset"]
                    self._paused = dict(start.get("paused") or {})
                    self._logged_in = set(start.get("in") or ())
                    self._calls = {a: (c, q) for a, (c, q) in (start.get("calls") or {}).items()}
                    self._members = {a: set(qs) for a, qs in (start.get("members") or {}).items()}
                # else: truncated and rewritten while we were away: read it from its start
        buf = b""
        self._head = self._head_of(f) if f is not None else ""
        changes = FileChanges(self.path)
        try:
            async for item in self._tail(clock, poll_s, changes, f, ident, n, offset, buf):
                yield item
        finally:
            await changes.close()

    async def _tail(
        self, clock, poll_s, changes, f, ident, n, offset, buf
    ) -> AsyncIterator[Event | DeadLetter | CursorMark]:
        while True:
            if f is None:
                try:
                    f = open(self.path, "rb")
                except FileNotFoundError:
                    await changes.wait(poll_s)
                    continue
                opened = os.fstat(f.fileno())
                ident, n, offset, buf = (opened.st_dev, opened.st_ino), 0, 0, b""
            chunk = f.read(1 << 16)
            if chunk:
                if not self._head:
                    self._head = self._head_of(f)
                buf += chunk
                lines = buf.split(b"\n")
                buf = lines.pop()  # an unfinished last line waits for its newline
                for raw in lines:
                    n += 1
                    for item in self._line(raw + b"\n", n, offset):
                        yield item
                    offset += len(raw) + 1
                yield self._cursor_state(ident, n, offset)
                continue
            flushed = False
            for item in self._due_by(clock.now().timestamp()):
                flushed = True
                yield item
            if flushed:
                yield self._cursor_state(ident, n, offset)
            st: os.stat_result | None
            try:
                st = os.stat(self.path)
            except FileNotFoundError:
                st = None
            if st is not None and (st.st_dev, st.st_ino) != ident:
                f.close()  # rotated: the old file was read to its end above; the new one from its start
                f = None
                continue
            if st is not None and st.st_size < offset + len(buf):
                f.seek(0)  # truncated in place
                n, offset, buf, self._head = 0, 0, b"", ""
                continue
            await changes.wait(poll_s)

    def _row(self, handler: Callable[[_Row], list[Any]], r: _Row) -> list[Any]:
        verb, queue = r.verb, r.queue
        if verb in _CALL_VERBS:
            if r.call_id is None:
                raise _Bad("call id is empty or NONE")
            if queue is None:
                raise _Bad("queue is empty or NONE")
        elif verb in _MEMBER_VERBS and queue is None:
            raise _Bad("queue is empty or NONE")
        self._staged = None
        events = handler(r)
        if queue is not None:  # only a row that became events names a queue (a refused name is no queue)
            self._queues_named.add(queue)
        # Only now that the whole row has become events (a rejected row moves nothing, not even time): the
        # inferred events that fell due before it come first, then a state the file gives supersedes an
        # inferred one.
        due = list(self._due_by(r.epoch)) if self._pending else None
        for i, e in enumerate(events):
            if type(e) is AgentStateChanged:
                events[i] = e = self._not_older(e)
                d = e.__dict__
                state, agent = d["state"], d["agent"]
                if state != "wrap_up":  # a pause given during wrap-up leaves its inferred end in place
                    self._return_line.pop(agent, None)
                if state == "logged_out":
                    self._logged_in.discard(agent)
                else:
                    self._logged_in.add(agent)
                if state == "paused" or d["pause_pending"]:
                    self._paused[agent] = d["reason"]
                elif state == "available" or state == "logged_out":
                    self._paused.pop(agent, None)
                if state == "on_call":
                    self._calls[agent] = (d["call_id"], d["queue"])
                else:
                    self._calls.pop(agent, None)
        staged = self._staged
        if staged is not None:
            heapq.heappush(self._pending, staged)
            if staged[3] is not None:
                self._return_line[staged[3].agent] = r.n
        return due + events if due else events

    def _due(self, item: tuple[float, int, WrapupCompleted, AgentStateChanged | None]) -> list[Any]:
        _, n, done, after = item
        if after is None or self._return_line.get(after.agent) != n:
            return [done]
        del self._return_line[after.agent]
        self._logged_in.add(after.agent)
        if after.agent in self._paused:  # paused during the call or the wrap-up: paused from now
            after = after.model_copy(update={"state": "paused", "reason": self._paused[after.agent]})
        return [done, self._not_older(after)]

    def _not_older(self, e: AgentStateChanged) -> AgentStateChanged:
        d = e.__dict__
        agent = d["agent"]
        last = self._stated_at.get(agent)
        if last is not None and d["ts"] < last:
            e = e.model_copy(update={"ts": last})
        self._stated_at[agent] = e.ts
        return e

    def _agent(self, field: str) -> str | None:
        """PBX interface -> configured agent id; ``Agent/1001`` -> ``1001``; anything else as it is."""
        try:
            return self._agent_ids[field]
        except KeyError:
            agent = field.removeprefix("Agent/") or None
            self._agent_ids[field] = agent
            return agent

    def _need_agent(self, r: _Row) -> str:
        if r.agent is None:
            raise _Bad("agent is empty (NONE)")
        return r.agent

    @staticmethod
    def _need_queue(r: _Row) -> str:
        if r.queue is None:
            raise _Bad("queue is empty or NONE")
        return r.queue

    def _queue_wrapup_s(self, queue: str) -> float:
        try:
            return self._wrapup_s[queue]
        except KeyError:
            wrap = self._wrapup_s[queue] = self.config.queue(queue).wrapup_s
            return wrap

    # -- calls ------------------------------------------------------------------------------------------------

    def _queuestart(self, r: _Row) -> list[Any]:
        """The PBX started or restarted: every caller it had is gone. A resync listing nobody, for each queue
        (configured, or named by a row this reader saw): those we hold as waiting stop waiting, uncounted."""
        configured = [q.name for q in self.config.queues]
        queues = configured + sorted(self._queues_named - set(configured))
        return [
            WaitingResync(**{"id": f"{r.id}{i}", "ts": r.ts, "source": r.source, "queue": q})
            for i, q in enumerate(queues, 1)
        ]

    def _enterqueue(self, r: _Row) -> list[Any]:
        d = r.data
        return [
            _event(
                CallerJoined,
                {
                    "id": r.id + "1",
                    "ts": r.ts,
                    "source": r.source,
                    "queue": r.queue,
                    "call_id": r.call_id,
                    "caller": _field(d, 1) or None,
                    "position": _count(d, 2, "original position"),
                },
            )
        ]

    def _connect(self, r: _Row) -> list[Any]:
        d = r.data
        events: list[Any] = [
            _event(
                CallerAnswered,
                {
                    "id": r.id + "1",
                    "ts": r.ts,
                    "source": r.source,
                    "queue": r.queue,
                    "call_id": r.call_id,
                    "agent": r.agent,
                    "wait_s": _seconds(d, 0, "holdtime"),
                    "ring_s": _seconds(d, 2, "ringtime"),
                },
            )
        ]
        if r.agent is not None:  # a member paused in one queue may take another's call: paused when free
            events.append(self._busy(r, "2", "on_call"))
        return events

    def _complete(self, r: _Row) -> list[Any]:
        ended = _event(
            CallCompleted,
            {
                "id": r.id + "1",
                "ts": r.ts,
                "source": r.source,
                "queue": r.queue,
                "call_id": r.call_id,
                "agent": r.agent,
                "talk_s": _seconds(r.data, 1, "talktime", required=True),
                "ended_by": "caller" if r.verb == "COMPLETECALLER" else "agent",
            },
        )
        return self._after_talk(r, [ended])

    def _transfer(self, r: _Row) -> list[Any]:
        d = r.data
        if r.verb == "ATTENDEDTRANSFER":
            kind = _field(d, 0)
            # Known destinations take a fixed number of fields; an unknown one: count from the end
            # (holdtime, talktime, original position are always the last three).
            i = _ATXFER_DEST_FIELDS.get(kind, len(d) - 3)
            if i < 1:
                raise _Bad(f"destination {kind!r} with {len(d)} data fields: no room for holdtime and talktime")
        else:  # BLINDTRANSFER and pre-12 TRANSFER: exten, context, holdtime, talktime
            i = 2
        wait_s = _seconds(d, i, "holdtime")
        talk_s = _seconds(d, i + 1, "talktime", required=True)
        assert talk_s is not None  # (required)
        answered = _event(
            CallerAnswered,
            {
                "id": r.id + "1",
                "ts": r.ts,
                "source": r.source,
                "queue": r.queue,
                "call_id": r.call_id,
                "agent": r.agent,
                "wait_s": wait_s,
            },
        )
        ended = _event(
            CallCompleted,
            {
                "id": r.id + "2",
                "ts": r.ts,
                "source": r.source,
                "queue": r.queue,
                "call_id": r.call_id,
                "agent": r.agent,
                "talk_s": talk_s,
                "ended_by": "transfer",
            },
        )
        events = self._after_talk(r, [answered, ended])
        if r.agent is not None and r.agent not in self._calls:  # no CONNECT put it on a call: on it from the answer
            start = datetime.fromtimestamp(max(r.epoch - talk_s, EARLIEST_EPOCH), _UTC)
            events.insert(1, self._busy(r, "t", "on_call").model_copy(update={"ts": start}))
        return events

    def _after_talk(self, r: _Row, events: list[Any]) -> list[Any]:
        """The agent's side after talk ends: wrap-up for the queue's ``wrapup_s``, then available (or paused)."""
        wrap_s = self._queue_wrapup_s(self._need_queue(r))
        k = str(len(events) + 1)
        if wrap_s <= 0:
            if r.agent is not None:
                if r.agent in self._paused:
                    events.append(self._state(r, k, "paused", reason=self._paused[r.agent], call=True))
                else:
                    events.append(self._state(r, k, "available", call=True))
            return events
        if r.agent is not None:
            events.append(self._busy(r, k, "wrap_up"))
        due = r.epoch + wrap_s
        due_ts = datetime.fromtimestamp(due, _UTC)
        done = _event(
            WrapupCompleted,
            {
                "id": r.id + "w",
                "ts": due_ts,
                "source": r.source,
                "queue": r.queue,
                "call_id": r.call_id,
                "agent": r.agent,
                "wrap_s": float(wrap_s),  # (the config's float; validation would make an int one a float)
            },
        )
        back = None
        if r.agent is not None:
            back = _event(  # available, or paused if paused by then (``_due``)
                AgentStateChanged,
                {
                    "id": r.id + "a",
                    "ts": due_ts,
                    "source": r.source,
                    "agent": r.agent,
                    "state": "available",
                    "queue": r.queue,
                    "call_id": r.call_id,
                },
            )
        self._staged = (due, r.n, done, back)
        return events

    def _abandon(self, r: _Row) -> list[Any]:
        d = r.data
        return [
            _event(
                CallerAbandoned,
                {
                    "id": r.id + "1",
                    "ts": r.ts,
                    "source": r.source,
                    "queue": r.queue,
                    "call_id": r.call_id,
                    "wait_s": _seconds(d, 2, "waittime"),
                    "position": _count(d, 0, "position"),
                },
            )
        ]

    def _overflow(self, r: _Row) -> list[Any]:
        reason, wait_field = _OVERFLOWS[r.verb]
        return [
            _event(
                CallerOverflowed,
                {
                    "id": r.id + "1",
                    "ts": r.ts,
                    "source": r.source,
                    "queue": r.queue,
                    "call_id": r.call_id,
                    "reason": reason,
                    "wait_s": _seconds(r.data, wait_field, "waittime"),
                },
            )
        ]

    def _survey(self, r: _Row) -> list[Any]:
        """Our custom row (docs/PROTOCOLS.md): a post-call IVR writes ``QueueLog(queue,uniqueid,agent,SURVEY,
        score|scale)`` with the queue call's uniqueid; the scale defaults to 1-5."""
        score = _field(r.data, 0)
        if not (score.isascii() and score.isdigit() and len(score) <= 9):  # '²' and 5,000 digits fail int()
            raise _Bad(f"score (data1) is not a whole number: {score[:20]!r}")
        scale = _field(r.data, 1) or "1-5"
        try:
            return [
                SurveyResponse(
                    **{
                        "id": r.id + "1",
                        "ts": r.ts,
                        "source": r.source,
                        "queue": r.queue,
                        "call_id": r.call_id,
                        "agent": r.agent,
                        "score": int(score),
                        "scale": scale,
                    },
                )
            ]
        except ValidationError as e:
            err = e.errors()[0]
            raise _Bad(f"{'.'.join(str(p) for p in err['loc']) or 'survey'}: {err['msg']}") from None

    def _ringnoanswer(self, r: _Row) -> list[Any]:
        return [
            AgentMissed(
                **{
                    "id": r.id + "1",
                    "ts": r.ts,
                    "source": r.source,
                    "agent": self._need_agent(r),
                    "queue": r.queue,
                    "call_id": r.call_id,
                    "ring_s": _seconds(r.data, 0, "ringtime ms", scale=1000.0),
                },
            )
        ]

    # -- members and agent states -----------------------------------------------------------------------------

    def _state(self, r: _Row, k: str, state: str, reason: str | None = None, call: bool = False) -> AgentStateChanged:
        return _event(
            AgentStateChanged,
            {
                "id": r.id + k,
                "ts": r.ts,
                "source": r.source,
                "agent": self._need_agent(r),
                "state": state,
                "reason": reason,
                "queue": r.queue,
                "call_id": r.call_id if call else None,
            },
        )

    def _busy(self, r: _Row, k: str, state: str) -> AgentStateChanged:
        """On a call or in wrap-up, with the pause Asterisk already holds (if any) pending."""
        e = self._state(r, k, state, call=True)
        if e.agent in self._paused:
            e = e.model_copy(update={"pause_pending": True, "reason": self._paused[e.agent]})
        return e

    def _members_of(self, agent: str) -> set[str]:
        queues = self._members.get(agent)
        if queues is None:  # the engine's view too: the configured skills until a membership row says more
            queues = self._members[agent] = set(self._skills.get(agent, {}))
        return queues

    def _addmember(self, r: _Row) -> list[Any]:
        # queue_log does not say the penalty: the configured skill's penalty (as in queues.conf), else 0,
        # until a PENALTY row says otherwise.
        agent, queue = self._need_agent(r), self._need_queue(r)
        penalty = self._skills.get(agent, {}).get(queue, 0)
        events: list[Any] = [
            MemberAdded(
                **{
                    "id": r.id + "1",
                    "ts": r.ts,
                    "source": r.source,
                    "agent": agent,
                    "queue": queue,
                    "penalty": penalty,
                },
            )
        ]
        if _field(r.data, 0) == "PAUSED":
            events.append(self._state(r, "2", "paused"))
        elif agent not in self._logged_in:
            # Asterisk: a member added without PAUSED is logged in and available (an agent already logged in,
            # on a call or paused, stays as it is: the new queue changes neither)
            events.append(self._state(r, "2", "available"))
        self._members_of(agent).add(queue)
        return events

    def _removemember(self, r: _Row) -> list[Any]:
        agent = self._need_agent(r)
        events: list[Any] = [
            MemberRemoved(**{"id": r.id + "1", "ts": r.ts, "source": r.source, "agent": agent, "queue": r.queue})
        ]
        queues = self._members_of(agent)
        queues.discard(r.queue)
        # Asterisk: removed from its last queue, the member takes no queue call: logged out (as the AMI mapper
        # says; an agent never seen logged in is logged out already)
        if not queues and agent in self._logged_in:
            events.append(self._state(r, "2", "logged_out"))
        return events

    def _penalty(self, r: _Row) -> list[Any]:
        penalty = _count(r.data, 0, "penalty", required=True)
        return [
            MemberPenalty(
                **{
                    "id": r.id + "1",
                    "ts": r.ts,
                    "source": r.source,
                    "agent": self._need_agent(r),
                    "queue": r.queue,
                    "penalty": penalty,
                },
            )
        ]

    def _pause(self, r: _Row) -> list[Any]:
        agent, reason = self._need_agent(r), _field(r.data, 0) or None
        busy = self._busy_now(r, agent, pending=True, reason=reason)
        return [busy or self._state(r, "1", "paused", reason=reason)]

    def _busy_now(self, r: _Row, agent: str, pending: bool, reason: str | None = None) -> AgentStateChanged | None:
        """The agent's state said again with a pause pending (or lifted) while it is on a call or in wrap-up;
        None when it is free."""
        call = self._calls.get(agent)
        if call is not None:
            state, call_id, queue = "on_call", call[0], call[1]
        elif agent in self._return_line:  # the inferred end of its wrap-up is still to come
            state, call_id, queue = "wrap_up", None, None
        else:
            return None
        return _event(
            AgentStateChanged,
            {
                "id": r.id + "1",
                "ts": r.ts,
                "source": r.source,
                "agent": agent,
                "state": state,
                "reason": reason if pending else None,
                "pause_pending": pending,
                "queue": queue,
                "call_id": call_id,
            },
        )

    def _available(self, r: _Row) -> list[Any]:
        return [self._state(r, "1", "available")]

    def _unpause(self, r: _Row) -> list[Any]:
        agent = self._need_agent(r)
        # Asterisk: unpaused during a call or its wrap-up, the member is still busy (available once free)
        back = self._busy_now(r, agent, pending=False)
        if back is None:
            return [self._state(r, "1", "available")]
        self._paused.pop(agent, None)
        return [back]

    def _logoff(self, r: _Row) -> list[Any]:
        return [self._state(r, "1", "logged_out")]


def _find_by_identity(path: str, ident: tuple[int, int]) -> str | None:
    """The file with this (device, inode): the path itself, or a rotated copy beside it (logrotate renames)."""
    folder = os.path.dirname(os.path.abspath(path)) or "."
    names = [os.path.abspath(path)] + sorted(
        os.path.join(folder, x) for x in os.listdir(folder) if x.startswith(os.path.basename(path))
    )
    for cand in names:
        try:
            st = os.stat(cand)
        except FileNotFoundError:
            continue
        if (st.st_dev, st.st_ino) == ident:
            return cand
    return None
