"""The event model: what every feed produces and the engine applies.

A feed turns its wire format into these and nothing else. Every event has an ``id`` (stable for the same
input, so a re-sent event can be recognised and traced), an aware ``ts``, its ``source`` (feed name and
position) and, where it has one, the ``call_id``.

Call transitions (counted once per queue entry): ``caller_joined``, ``caller_answered``,
``caller_abandoned``, ``caller_overflowed`` (``callback_requested`` is an overflow with reason ``callback``),
``call_completed`` (talk ends) and ``wrapup_completed`` (wrap-up ends); ``survey_response`` (the customer's
score, counted with the contact's queue entry and agent). Agent-side facts are keyed by the
agent: state and membership *set* state (older never overwrites newer); missed rings, dial attempts and
outbound calls are counted once by their own key.

**Input at the edges**, checked here once for every feed (a feed turns the ``ValidationError`` into a dead
letter with its reason):

- *Time bounds.* An event time before 1990-01-01, or more than a day after the wall clock, is refused, as is
  the join an exit implies (time - wait). The wall clock is ``SystemClock`` unless ``wall_clock(clock)``
  says otherwise (tests; the ingester's own clock). Nothing real is that far off, and a far time costs work
  somewhere that grows with the span (a window per day up to year 5000).
- *Names.* A queue name or agent id becomes part of Redis keys and their hash tags: at most 128
  characters, no control character, no ``{`` or ``}``, no ``|``, and valid UTF-8 (a feed decodes bytes with
  ``errors="replace"``, so U+FFFD or a lone surrogate marks bytes that were not).
- *Call ids.* At most 256 characters, no control character and no ``|``: a call id goes back to the PBX (a
  supervisor's audit row in its queue_log, whose fields ``|`` separates; a Redirect) and onto screens.
"""

from __future__ import annotations

import math
import re
import time
import unicodedata
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime, timezone
from typing import Annotated, Iterator, Literal, TypeVar, Union

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, TypeAdapter, field_validator, model_validator

from .channels import Channel
from .clock import Clock, SystemClock
from .construct import construct

# Past these a value is rejected (a dead letter), not summed: two durations of 1e308 s make inf, which Redis
# refuses partway through a batch. 1e10 s is 317 years; Asterisk keeps positions and penalties in a C int.
MAX_SECONDS = 1e10
MAX_COUNT = 2**31 - 1

AgentState = Literal["available", "ringing", "on_call", "wrap_up", "paused", "logged_out"]
BUSY_STATES = frozenset({"ringing", "on_call", "wrap_up"})  # where a pause is pending until the agent is free
# where an agent's call can be listened to, whispered to, barged into or taken over: a conversation (ringing is
# none yet; an agent available or in wrap-up may still carry the last call's id, which is over)
CALL_STATES = frozenset({"on_call"})
AGENT_STATES: tuple[str, ...] = ("available", "ringing", "on_call", "wrap_up", "paused", "logged_out")
OverflowReason = Literal["timeout", "empty", "key", "withdrawn", "callback"]
OVERFLOW_REASONS: tuple[str, ...] = ("timeout", "empty", "key", "withdrawn", "callback")

EARLIEST_EPOCH = 631_152_000.0  # 1990-01-01T00:00:00Z
MAX_AHEAD_S = 86_400.0  # a day after the wall clock
NAME_MAX = 128
_WALL: ContextVar[Clock] = ContextVar("wallboard_wall_clock", default=SystemClock())
_BAD_NAME = re.compile("[\x00-\x1f\x7f-\x9f{}|\ufffd\ud800-\udfff]")
# A call id is the PBX's (Asterisk's Uniqueid '1796603886.393', a FreeSWITCH UUID) or a channel's own; it is
# written back to the PBX (a supervisor's audit row in queue_log, a Redirect) and read by people, so it has no
# control character and no '|' (queue_log's field separator: a '|' in one would forge a row's fields).
CALL_ID_MAX = 256
_BAD_ID = re.compile("[\x00-\x1f\x7f-\x9f|\ufffd\ud800-\udfff]")


@contextmanager
def wall_clock(clock: Clock) -> Iterator[None]:
    """Events made inside (in this context: a task started inside inherits it) are bounded by ``clock``."""
    token = _WALL.set(clock)
    try:
        yield
    finally:
        _WALL.reset(token)


def time_problem(epoch: float) -> str | None:
    """Why an event time (epoch seconds) is refused, or None. Feeds may ask before building anything."""
    if not math.isfinite(epoch):
        return "is not a finite number"
    if epoch < EARLIEST_EPOCH:
        return "is before 1990-01-01"
    clock = _WALL.get()
    now = time.time() if type(clock) is SystemClock else clock.now().timestamp()  # the same; time() is cheaper
    if epoch > now + MAX_AHEAD_S:
        return f"is more than a day after the wall clock ({utc(datetime.fromtimestamp(now, timezone.utc))})"
    return None


def name_problem(name: str) -> str | None:
    """Why a queue name or agent id is refused, or None."""
    if len(name) > NAME_MAX:
        return f"is longer than {NAME_MAX} characters ({len(name)})"
    m = _BAD_NAME.search(name)
    if m is None:
        # invisible or look-alike text makes two rows that read the same, or text shown reversed (U+202E)
        if name != name.strip():
            return "starts or ends with white space"
        for ch in name:
            if unicodedata.category(ch) in ("Cf", "Zl", "Zp", "Co", "Cn"):
                return f"has an invisible or unassigned character (U+{ord(ch):04X})"
        if not unicodedata.is_normalized("NFC", name):
            return "is not in Unicode normal form C (it could look like another name)"
        return None
    return _char_problem(m.group())


def _char_problem(ch: str) -> str:
    if ch in "{}":
        return f"has {ch!r}, which would break a Redis key's hash tag"
    if ch == "|":
        return "has '|', queue_log's field separator"
    if ch == "\ufffd" or "\ud800" <= ch <= "\udfff":
        return "is not valid UTF-8"
    return f"has a control character ({ch!r})"


def call_id_problem(call_id: str) -> str | None:
    """Why a call id is refused, or None."""
    if len(call_id) > CALL_ID_MAX:
        return f"is longer than {CALL_ID_MAX} characters ({len(call_id)})"
    m = _BAD_ID.search(call_id)
    return None if m is None else _char_problem(m.group())


_E = TypeVar("_E", bound="_Event")
_GOOD_NAMES: set[str] = set()  # names already checked (a few hundred queues and agents, seen millions of times)
_GOOD_CALL_IDS: set[str] = set()  # call ids ``_edges_fine`` found clean (``_call_id_clean``)
_last_time: tuple[datetime | None, float] = (None, 0.0)  # the last aware time ``_edges_fine`` read, and its epoch


def _remember(good: set[str], text: str) -> None:
    """Note a text that passed its check (names, call ids: the checks read the text alone), bounded whatever the
    input."""
    if len(good) > 100_000:
        good.clear()
    good.add(text)


def _check_name(field: str, name: str) -> None:
    problem = name_problem(name)
    if problem:
        raise ValueError(f"{field}: name {name[:40]!r} {problem}")
    _remember(_GOOD_NAMES, name)


class _Event(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(min_length=1, description="Stable id for the same input (feed:position or PBX id).")
    ts: AwareDatetime = Field(description="When it happened, timezone-aware, within the time bounds.")
    source: str = Field(min_length=1, description="Feed name and position, e.g. 'queue-log:/var/log/queue_log:812'.")

    @model_validator(mode="after")
    def _at_the_edges(self):
        """The bounds of the module docstring, in one pass (it runs for every event of every feed): at once when
        ``_edges_fine``, else closer, saying why."""
        d = self.__dict__
        if _edges_fine(d):
            return self
        t = d["ts"].timestamp()
        clock = _WALL.get()
        now = time.time() if type(clock) is SystemClock else clock.now().timestamp()  # time(): the same, cheaper
        if not EARLIEST_EPOCH <= t <= now + MAX_AHEAD_S:
            raise ValueError(f"ts: event time {d['ts'].isoformat()} {time_problem(t)}")
        wait = d.get("wait_s")
        if wait and t - wait < EARLIEST_EPOCH:  # an exit's implied join, which the engine records when unseen
            raise ValueError(f"wait_s: the join it implies (ts - wait_s = {t - wait:.0f}) is before 1990-01-01")
        queue, agent = d.get("queue"), d.get("agent")
        if queue and queue not in _GOOD_NAMES:
            _check_name("queue", queue)
        if agent and agent not in _GOOD_NAMES:
            _check_name("agent", agent)
        for call_id in d.get("call_ids") or (d.get("call_id"),):
            if call_id and (problem := call_id_problem(call_id)):
                raise ValueError(f"call_id: {call_id[:40]!r} {problem}")
        return self


def _edges_fine(d: dict) -> bool:
    """Whether an event's values pass the checks at the edges (``_Event._at_the_edges``) without looking closer:
    its time aware and within the bounds, the join a wait implies too, its names already checked, its call ids
    clean. False does not say which (``_at_the_edges`` looks closer and says why)."""
    global _last_time
    ts = d["ts"]
    last = _last_time
    if ts is last[0]:  # the events of one row share its time: its epoch computed once
        t = last[1]
    else:
        if ts.tzinfo is None:
            return False
        t = ts.timestamp()
        _last_time = (ts, t)  # (one tuple: a thread reading it sees a time with its own epoch)
    clock = _WALL.get()
    now = time.time() if type(clock) is SystemClock else clock.now().timestamp()  # time(): the same, cheaper
    if not EARLIEST_EPOCH <= t <= now + MAX_AHEAD_S:
        return False
    wait = d.get("wait_s")
    if wait and t - wait < EARLIEST_EPOCH:
        return False
    queue, agent = d.get("queue"), d.get("agent")
    if (queue and queue not in _GOOD_NAMES) or (agent and agent not in _GOOD_NAMES):
        return False
    call_ids = d.get("call_ids")  # a resync's; else the event's one call id
    if call_ids:
        for call_id in call_ids:
            if call_id and call_id not in _GOOD_CALL_IDS and not _call_id_clean(call_id):
                return False
        return True
    call_id = d.get("call_id")
    return not call_id or call_id in _GOOD_CALL_IDS or _call_id_clean(call_id)


def _call_id_clean(call_id: str) -> bool:
    """Whether a call id passes ``call_id_problem``; a clean one is remembered (a call's id comes in 3 to 5 of its
    events)."""
    if call_id_problem(call_id) is not None:
        return False
    _remember(_GOOD_CALL_IDS, call_id)
    return True


def _trusted_event(cls: type[BaseModel]) -> None:
    """What ``trusted`` takes for granted of an event class: no validator but the edges'."""
    assert cls.__pydantic_decorators__.model_validators.keys() == {"_at_the_edges"}, cls
    assert not cls.__pydantic_decorators__.field_validators, cls
    assert all(f.default_factory is None for f in cls.model_fields.values()), cls


def trusted(cls: type[_E], values: dict) -> _E:
    """``cls(**values)`` without pydantic's validation of the fields, for a feed whose values are already of
    their fields' types and within their bounds (a queue_log row's, parsed and checked by the feed): the same
    model (fields, fields set) at about half the cost. ``values`` must give every required field (not checked
    here: tests/test_events_trusted.py reads the feed's calls and checks each gives its class's). The checks at
    the edges still run (those of ``_at_the_edges``: time bounds, the join a wait implies, names, call ids);
    should one not pass, or a name not be known good yet, ``cls(**values)`` decides, so a refusal is the same
    ``ValidationError`` with the same reason. Only for events whose defaults are immutable and whose model has
    no validator beyond the edges' (asserted once per class). tests/test_events_trusted.py checks, event by
    event on the sample day and a bank month, that it is what validation makes."""
    if not _edges_fine(values):
        return cls(**values)  # validation says why (or, a name seen for the first time, checks it)
    return construct(cls, values, _trusted_event)


class _QueueCall(_Event):
    queue: str = Field(min_length=1)
    call_id: str = Field(min_length=1, description="The call's or the written conversation's id.")
    channel: Channel | None = Field(
        None,
        description="voice, chat, messaging, email or social; when given it must be the queue's channel "
        "(a feed refuses it otherwise). On a written channel: joined = the customer opened the conversation, "
        "answered = the first agent reply or acceptance, completed = the conversation closed.",
    )


class CallerJoined(_QueueCall):
    type: Literal["caller_joined"] = "caller_joined"
    caller: str | None = Field(None, description="Caller number (masked on screens per config).")
    position: int | None = Field(None, ge=0, le=MAX_COUNT)
    customer: str | None = Field(
        None,
        max_length=256,
        description="The customer's id in the CRM, when known (else the caller number identifies them): kept only "
        "as a salted hash, for first contact resolution.",
    )


class CallerAnswered(_QueueCall):
    type: Literal["caller_answered"] = "caller_answered"
    agent: str | None = None
    wait_s: float | None = Field(
        None, ge=0, lt=MAX_SECONDS, description="Join to answer; derived from the join when absent."
    )
    ring_s: float | None = Field(None, ge=0, lt=MAX_SECONDS)


class CallerAbandoned(_QueueCall):
    type: Literal["caller_abandoned"] = "caller_abandoned"
    wait_s: float | None = Field(None, ge=0, lt=MAX_SECONDS)
    position: int | None = Field(None, ge=0, le=MAX_COUNT)


class CallerOverflowed(_QueueCall):
    type: Literal["caller_overflowed"] = "caller_overflowed"
    reason: OverflowReason
    wait_s: float | None = Field(None, ge=0, lt=MAX_SECONDS)


class CallbackRequested(_QueueCall):
    """The caller leaves the queue asking to be called back: an overflow with reason ``callback`` that keeps
    its place (the original entry time) in the pending callbacks."""

    type: Literal["callback_requested"] = "callback_requested"
    caller: str | None = None
    wait_s: float | None = Field(None, ge=0, lt=MAX_SECONDS)


class CallbackDone(_QueueCall):
    type: Literal["callback_done"] = "callback_done"
    outcome: Literal["answered", "failed", "cancelled"] = "answered"
    agent: str | None = None


class CallCompleted(_QueueCall):
    """Talk ended (wrap-up may follow)."""

    type: Literal["call_completed"] = "call_completed"
    agent: str | None = None
    talk_s: float = Field(ge=0, lt=MAX_SECONDS)
    ended_by: Literal["caller", "agent", "transfer"] | None = None


class WrapupCompleted(_QueueCall):
    type: Literal["wrapup_completed"] = "wrapup_completed"
    agent: str | None = None
    wrap_s: float = Field(ge=0, lt=MAX_SECONDS)


class SurveyResponse(_QueueCall):
    """A customer's answer to a post-contact survey question (post-call IVR, post-chat form), possibly hours
    after the contact: counted with the contact's queue and answering agent, once per (contact, question).
    ``scale`` "0-10" is the NPS question; any other is a CSAT question whose top box is configured
    (``[surveys] top_box``) or else its two highest scores."""

    type: Literal["survey_response"] = "survey_response"
    score: int = Field(ge=0, le=10, description="The customer's score, within the scale.")
    scale: str = Field("1-5", pattern=r"^(0|1)-([2-9]|10)$", description="'LO-HI': '1-5' CSAT (default), '0-10' NPS.")
    agent: str | None = Field(None, description="Used only when the contact's answering agent is unknown.")

    @field_validator("score", mode="before")
    @classmethod
    def _not_a_yes_no(cls, v):
        if isinstance(v, bool):  # pydantic would take true as 1, the worst score
            raise ValueError(f"{str(v).lower()} is a yes/no, not a score on the scale")
        return v

    @model_validator(mode="after")
    def _score_in_scale(self):
        lo, hi = (int(x) for x in self.scale.split("-"))
        if not lo <= self.score <= hi:
            raise ValueError(f"score: {self.score} is outside the scale {self.scale}")
        return self


class _AgentEvent(_Event):
    agent: str = Field(min_length=1)


class AgentStateChanged(_AgentEvent):
    type: Literal["agent_state"] = "agent_state"
    state: AgentState
    reason: str | None = Field(None, description="Pause reason (paused, or the pending pause of a busy agent).")
    queue: str | None = None
    call_id: str | None = None
    pause_pending: bool = Field(
        False,
        description="Ringing, on a call or in wrap-up while the PBX holds the agent paused (Asterisk pauses a "
        "member at once, whatever its call): paused, with ``reason``, once free.",
    )


class MemberAdded(_AgentEvent):
    type: Literal["member_added"] = "member_added"
    queue: str = Field(min_length=1)
    penalty: int = Field(0, ge=0, le=MAX_COUNT)


class MemberRemoved(_AgentEvent):
    type: Literal["member_removed"] = "member_removed"
    queue: str = Field(min_length=1)


class MemberPenalty(_AgentEvent):
    type: Literal["member_penalty"] = "member_penalty"
    queue: str = Field(min_length=1)
    penalty: int = Field(ge=0, le=MAX_COUNT)


class AgentMissed(_AgentEvent):
    """Rang and was not answered (AgentRingNoAnswer / RINGNOANSWER); a ring lost to another member is not."""

    type: Literal["agent_missed"] = "agent_missed"
    queue: str = Field(min_length=1)
    call_id: str = Field(min_length=1)
    ring_s: float | None = Field(None, ge=0, lt=MAX_SECONDS)


class DialAttempt(_AgentEvent):
    """The agent's own device dialled out (DialBegin); ``call_id`` is the dialled channel's Uniqueid."""

    type: Literal["dial_attempt"] = "dial_attempt"
    call_id: str = Field(min_length=1)
    number: str | None = None


class OutboundCall(_AgentEvent):
    """A dial attempt that was answered (DialEnd ANSWER); ``call_id`` is the dialled channel's Uniqueid."""

    type: Literal["outbound_call"] = "outbound_call"
    call_id: str = Field(min_length=1)
    number: str | None = None


class SpyChanged(_AgentEvent):
    """A supervisor started or stopped listening to the agent (ChanSpyStart / ChanSpyStop). AMI does not say
    the mode; the executor knows what it asked for, so ``mode`` may be unknown here."""

    type: Literal["spy_changed"] = "spy_changed"
    active: bool
    by: str = Field(min_length=1, description="The supervisor (user name or spying device).")
    mode: Literal["listen", "whisper", "barge", "keypad", "unknown"] = "unknown"


class FeedGap(_Event):
    """The feed saw nothing from ``start`` for ``length_s`` (an AMI disconnect): recorded so screens and reports
    show it."""

    type: Literal["feed_gap"] = "feed_gap"
    start: AwareDatetime
    length_s: float = Field(ge=0, lt=MAX_SECONDS)
    feed: str = Field(min_length=1)


class WaitingResync(_Event):
    """The PBX's present list of callers waiting in ``queue`` (after a reconnect, from QueueStatus): any caller
    we still hold as waiting but who is not listed left unseen, and stops waiting (nothing is counted for it)."""

    type: Literal["waiting_resync"] = "waiting_resync"
    queue: str = Field(min_length=1)
    call_ids: list[str] = Field(default_factory=list)


QUEUE_CALL_EVENTS = (
    CallerJoined,
    CallerAnswered,
    CallerAbandoned,
    CallerOverflowed,
    CallbackRequested,
    CallbackDone,
    CallCompleted,
    WrapupCompleted,
    SurveyResponse,
)
AGENT_EVENTS = (
    AgentStateChanged,
    MemberAdded,
    MemberRemoved,
    MemberPenalty,
    AgentMissed,
    DialAttempt,
    OutboundCall,
    SpyChanged,
)

Event = Annotated[
    Union[
        CallerJoined,
        CallerAnswered,
        CallerAbandoned,
        CallerOverflowed,
        CallbackRequested,
        CallbackDone,
        CallCompleted,
        WrapupCompleted,
        SurveyResponse,
        AgentStateChanged,
        MemberAdded,
        MemberRemoved,
        MemberPenalty,
        AgentMissed,
        DialAttempt,
        OutboundCall,
        SpyChanged,
        FeedGap,
        WaitingResync,
    ],
    Field(discriminator="type"),
]

EVENT_ADAPTER: TypeAdapter[Event] = TypeAdapter(Event)


def parse_event(data: dict | str | bytes) -> Event:
    """Validate one event from a dict or a JSON text; raises pydantic.ValidationError."""
    if isinstance(data, (str, bytes)):
        return EVENT_ADAPTER.validate_json(data)
    return EVENT_ADAPTER.validate_python(data)


def event_epoch(event: _Event) -> float:
    return event.ts.timestamp()


def partition_of(event: _Event) -> str:
    """Events are partitioned by queue (call events) or by agent (agent-only events), so that per call order
    holds inside a partition and several ingesters can split the partitions."""
    queue = getattr(event, "queue", None)
    if isinstance(event, (*QUEUE_CALL_EVENTS, WaitingResync)):
        return f"q:{queue}"
    if isinstance(event, FeedGap):
        return "c"
    if isinstance(event, AGENT_EVENTS):
        return f"a:{event.agent}"
    raise TypeError(f"no partition for a {type(event).__name__} event")


def utc(ts: datetime) -> str:
    """ISO 8601 in UTC with a Z, as snapshots carry it."""
    from datetime import timezone

    return ts.astimezone(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")
