"""The snapshot: what every view reads. Its JSON Schema is committed as docs/snapshot.schema.json.

Published as two parts: the **summary** (queues and total, small enough for a TV) and the **agent detail**.
``Snapshot`` is both together; ``summary_json``/``agents_json`` give each part.
"""

from __future__ import annotations

import json
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

SCHEMA_VERSION = 1
Level = Literal["ok", "warn", "breach", "closed"]


class _M(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Window(_M):
    kind: Literal["since_reset", "all"]
    since: str | None = Field(None, description="Start of the window (UTC, ISO 8601 with Z); null for 'all'.")


class Explain(_M):
    """How a ratio was computed."""

    formula: str
    numerator: float
    denominator: float
    window: str


class Caller(_M):
    call_id: str
    entered_at: str
    wait_s: float
    caller: str | None = None


class Callback(_M):
    call_id: str
    entered_at: str
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


class Alert(_M):
    level: Level
    since: str
    acked_by: str | None = None
    snoozed_until: str | None = None


class Counters(_M):
    entered: int = 0
    offered: int = 0
    answered: int = 0
    answered_within_sl: int = 0
    abandoned: int = 0
    short_abandoned: int = 0
    abandoned_within_sl: int = 0
    overflowed: int = 0
    overflowed_by_reason: dict[str, int] = Field(default_factory=dict)
    completed: int = 0
    talk_s: float = 0
    wrap_s: float = 0
    wait_answered_s: float = 0
    wait_all_s: float = 0
    callbacks_done: int = 0
    service_level: float | None = None
    asa_s: float | None = None
    avg_wait_s: float | None = None
    abandon_rate: float | None = None
    aht_s: float | None = None


class Rolling(Counters):
    minutes: int
    since: str


class QueueSnapshot(Counters):
    label: str | None = None
    sl_formula: str
    sl_threshold_s: float
    short_abandon_s: float
    count_overflow: bool
    open: bool = True
    waiting: int = 0
    longest_wait_s: float | None = None
    ewt_s: float | None = None
    callbacks_pending: int = 0
    oldest_callback_s: float | None = None
    callers: list[Caller] = Field(default_factory=list)
    callbacks: list[Callback] = Field(default_factory=list)
    agent_counts: AgentCounts = Field(default_factory=AgentCounts)
    rolling: Rolling
    explain: dict[str, Explain] = Field(default_factory=dict)
    levels: dict[str, Level] = Field(default_factory=dict)
    alerts: dict[str, Alert] = Field(default_factory=dict)
    duplicates: int = Field(0, description="Transitions delivered again and not counted.")
    expired: int = Field(0, description="Callers dropped from waiting by centre.caller_expiry_s whose exit never "
                         "arrived (counted in no other figure; a late exit counts as what it was and leaves this).")


class Total(Counters):
    waiting: int = 0
    longest_wait_s: float | None = None
    callbacks_pending: int = 0
    expired: int = Field(0, description="The queues' expired callers, summed.")
    agent_counts: AgentCounts = Field(default_factory=AgentCounts)
    rolling: Rolling
    explain: dict[str, Explain] = Field(default_factory=dict)


class AgentSnapshot(_M):
    name: str | None = None
    state: str = "logged_out"
    reason: str | None = None
    since: str | None = None
    call_id: str | None = None
    call_queue: str | None = None
    queues: dict[str, int] = Field(default_factory=dict, description="queue -> penalty")
    spied_by: dict[str, str] = Field(default_factory=dict, description="supervisor -> listen|whisper|barge|keypad")
    calls_handled: int = 0
    missed: int = 0
    missed_in_row: int = 0
    outbound_calls: int = 0
    dial_attempts: int = 0
    talk_s: float = 0
    wrap_s: float = 0
    available_s: float = 0
    pause_s: float = 0
    pause_s_by_reason: dict[str, float] = Field(default_factory=dict)
    alerts: list[str] = Field(default_factory=list)


class Summary(_M):
    schema_version: int = SCHEMA_VERSION
    seq: int
    at: str = Field(description="Server time the snapshot was computed at (UTC, ISO 8601 with Z).")
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
        return Summary.model_validate(self.model_dump(exclude={"agents"})).model_dump_json()

    def agents_json(self) -> str:
        return json.dumps(
            {
                "schema_version": self.schema_version,
                "seq": self.seq,
                "at": self.at,
                "agents": {k: v.model_dump() for k, v in self.agents.items()},
            },
            separators=(",", ":"),
        )


def schema_json() -> str:
    return json.dumps(Snapshot.model_json_schema(), indent=2, sort_keys=True) + "\n"
