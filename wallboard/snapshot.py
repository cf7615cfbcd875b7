"""The snapshot: what every view reads. Its JSON Schema is committed as docs/snapshot.schema.json.

Published as two parts: the **summary** (queues and total, small enough for a TV) and the **agent detail**.
``Snapshot`` is both together; ``summary_json``/``agents_json`` give each part.

The metric fields (a window's counters and ratios, a queue's gauges, an agent's figures) are the catalog's
(``wallboard.catalog``), added in its order where they stand; the other fields are written here.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, TypeAdapter, create_model

from . import catalog
from .clock import UtcTime
from .construct import construct

SCHEMA_VERSION = 1
Level = Literal["ok", "warn", "breach", "closed"]


class _M(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Window(_M):
    kind: Literal["since_reset", "all"]
    since: UtcTime | None = Field(None, description="Start of the window (UTC, ISO 8601 with Z); null for 'all'.")


class Explain(_M):
    """How a ratio was computed."""

    formula: str
    numerator: float
    denominator: float
    window: str


class Caller(_M):
    call_id: str
    entered_at: UtcTime
    wait_s: float
    caller: str | None = None


class Callback(_M):
    call_id: str
    entered_at: UtcTime
    age_s: float


class AgentCounts(_M):
    available: int = 0
    ringing: int = 0
    on_call: int = 0
    wrap_up: int = 0
    paused: int = 0
    paused_by_reason: dict[str, int] = Field(default_factory=dict)
    logged_in: int = 0
    logged_out: int = 0
    # a queue of a written channel (wallboard.channels): its serving agents' capacity there, the conversations
    # they hold open, and how many of them have room for one more (its "agents free"; voice: ``available``); in
    # the centre total, ``free`` is the agents who can take a contact on at least one channel they serve
    # (``Engine.centre_free``), its slots 0
    slots: int = 0
    in_use: int = 0
    free: int = 0
    # the slots that take a conversation at once, agent by agent (for the expected wait; not published): one
    # agent over its capacity takes nothing from another's room, one on a blocking call offers none
    _open_slots: int = PrivateAttr(0)


class Alert(_M):
    level: Level
    since: UtcTime
    acked_by: str | None = None
    snoozed_until: UtcTime | None = None


def _field(m: catalog.Metric) -> tuple[Any, Any]:
    """A catalog metric as a model field: counts are int, seconds float (0 when nothing was counted); a ratio,
    or a gauge in seconds, is null when there is nothing to measure; a breakdown is a dict of its parts."""
    if m.breakdown:
        return dict[str, int], Field(default_factory=dict)
    if m.kind == "ratio" or (m.kind == "gauge" and m.unit == "seconds"):
        return float | None, None
    return (float, 0) if m.unit == "seconds" else (int, 0)


def _metric_fields(base: type[BaseModel], name: str, metrics: Iterable[catalog.Metric]) -> Any:
    """``base`` extended by the catalog's ``metrics`` as fields, in catalog order (the model then goes on with
    its own fields in a subclass, so the JSON keeps the catalog's order where the metrics stand)."""
    fields: dict[str, Any] = {m.name: _field(m) for m in metrics}  # Any: the stubs can't tell them from __config__
    return create_model(name, __base__=base, __module__=__name__, **fields)


if TYPE_CHECKING:
    # mypy cannot see fields made at import time: to it the catalog's fields are extra arguments and Any
    # attributes; the fields written here stay typed.
    class _Catalogued(_M):
        model_config = ConfigDict(extra="allow")

        def __getattr__(self, name: str) -> Any: ...


# A window's counters and ratios (the since-reset window at a queue's top level, the rolling one under "rolling").
if TYPE_CHECKING:
    Counters = _Catalogued
else:
    Counters = _metric_fields(_M, "Counters", (m for m in catalog.QUEUE if m.snapshot and m.windowed))


class Rolling(Counters):
    minutes: int
    since: UtcTime


class _QueueHead(Counters):
    label: str | None = None
    channel: str = Field("voice", description="voice, chat, messaging, email or social (wallboard.channels).")
    sl_formula: str
    sl_threshold_s: float
    short_abandon_s: float
    count_overflow: bool
    open: bool = True


if TYPE_CHECKING:
    _QueueGauges = _QueueHead
else:
    _QueueGauges = _metric_fields(_QueueHead, "_QueueGauges", catalog.queue(kind="gauge", snapshot=True))


class QueueSnapshot(_QueueGauges):
    callers: list[Caller] = Field(default_factory=list)
    callbacks: list[Callback] = Field(default_factory=list)
    agent_counts: AgentCounts = Field(default_factory=AgentCounts)
    rolling: Rolling
    explain: dict[str, Explain] = Field(default_factory=dict)
    levels: dict[str, Level] = Field(default_factory=dict)
    alerts: dict[str, Alert] = Field(default_factory=dict)
    duplicates: int = Field(0, description="Transitions delivered again and not counted.")
    expired: int = Field(
        0,
        description="Callers dropped from waiting by centre.caller_expiry_s whose exit never "
        "arrived (counted in no other figure; a late exit counts as what it was and leaves this).",
    )


if TYPE_CHECKING:
    _TotalGauges = Counters
else:
    _TotalGauges = _metric_fields(Counters, "_TotalGauges", catalog.queue(kind="gauge", snapshot=True, total=True))


class Total(_TotalGauges):
    expired: int = Field(0, description="The queues' expired callers, summed.")
    agent_counts: AgentCounts = Field(default_factory=AgentCounts)
    rolling: Rolling
    explain: dict[str, Explain] = Field(default_factory=dict)


class PausePending(_M):
    """A pause the PBX already holds while the agent is still busy (Asterisk pauses a member at once, on a call or
    not): the agent turns ``paused`` with this reason when the call and its wrap-up end."""

    reason: str | None = None
    since: UtcTime = Field(description="When the PBX paused the agent (UTC, ISO 8601 with Z).")


class _AgentHead(_M):
    name: str | None = None
    state: str = "logged_out"
    reason: str | None = None
    since: UtcTime | None = None
    pause_pending: PausePending | None = Field(
        None, description="Ringing, on a call or in wrap-up and already paused at the PBX: paused once free."
    )
    call_id: str | None = None
    call_queue: str | None = None
    queues: dict[str, int] = Field(default_factory=dict, description="queue -> penalty")
    spied_by: dict[str, str] = Field(default_factory=dict, description="supervisor -> listen|whisper|barge|keypad")


if TYPE_CHECKING:

    class _AgentFigures(_Catalogued, _AgentHead): ...

else:
    _AgentFigures = _metric_fields(_AgentHead, "_AgentFigures", catalog.agent(snapshot=True))


class AgentSnapshot(_AgentFigures):
    pause_s_by_reason: dict[str, float] = Field(default_factory=dict)
    capacity: dict[str, int] = Field(
        default_factory=dict, description="Written channel of its queues -> items it handles at once."
    )
    conversations: dict[str, int] = Field(
        default_factory=dict, description="Written channel -> conversations it holds open now."
    )
    voice_blocks_written: bool = Field(False, description="A voice call stops it taking written work.")
    alerts: list[str] = Field(default_factory=list)


class Summary(_M):
    schema_version: int = SCHEMA_VERSION
    seq: int
    at: UtcTime = Field(description="Server time the snapshot was computed at (UTC, ISO 8601 with Z).")
    centre: str = ""
    timezone: str = "UTC"
    window: Window
    queues: dict[str, QueueSnapshot]
    total: Total
    gaps: list[dict] = Field(default_factory=list, description="Feed gaps (start, length_s) in this window.")
    dead_letters: int = 0


class Snapshot(Summary):
    agents: dict[str, AgentSnapshot] = Field(default_factory=dict)

    def summary_json(self) -> str:
        # serialised straight from the models (the summary's fields come first, in its order; no dump and
        # validate again: at 5,000 agents that was a tenth of a second per publish, docs/PERFORMANCE.md)
        return self.model_dump_json(exclude={"agents"})

    def agents_json(self) -> str:
        head = self.model_dump_json(include={"schema_version", "seq", "at"})
        return f'{head[:-1]},"agents":{_AGENTS.dump_json(self.agents).decode()}}}'


_AGENTS = TypeAdapter(dict[str, AgentSnapshot])

_M_ = TypeVar("_M_", bound=BaseModel)


def trusted(cls: type[_M_], values: dict[str, Any]) -> _M_:
    """``cls.model_construct(**values)`` (no validation: every value already of its field's type; the fields not
    given their defaults) at a fraction of its cost (``construct.construct``), for a model of this module and
    only its fields in ``values``. The owner makes each rebuilt queue's entry so; tests/test_snapshot_construct.py
    checks it is what validation makes."""
    return construct(cls, values)


def schema_json() -> str:
    return json.dumps(Snapshot.model_json_schema(), indent=2, sort_keys=True) + "\n"
