"""Typed messages the Redis-reading workers post to the desk and the board (dataclasses, as posting does).

A burst of snapshot parts collapses: a part still waiting in the queue is replaced by a newer one of the
same kind (``can_replace``), so a slow screen renders only the newest state.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from textual.message import Message

from ..snapshot import Summary
from .source import AgentsPart


@dataclass
class SummaryArrived(Message):
    """A new summary part (queues and total)."""

    summary: Summary
    received_mono: float

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, SummaryArrived)


@dataclass
class AgentsArrived(Message):
    """A new agent detail part."""

    part: AgentsPart
    received_mono: float

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, AgentsArrived)


@dataclass
class FeedStatus(Message):
    """The reader's connection state: connected, or the error it is retrying after."""

    connected: bool
    detail: str = ""

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, FeedStatus)


@dataclass
class OutcomeArrived(Message):
    """The audit entry of a request this desk sent (its ``request`` field is the request's stream id)."""

    request_id: str
    fields: dict


@dataclass
class RevertsArrived(Message):
    """The pending auto-reverts (``:reverts``) and the recent takeovers (``:takeovers``), by agent."""

    reverts: dict
    takeovers: dict = field(default_factory=dict)

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, RevertsArrived)
