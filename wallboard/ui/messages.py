"""Typed messages the Redis-reading worker posts to the desk app.

A burst of snapshot parts collapses: a part still waiting in the queue is replaced by a newer one of the
same kind (``can_replace``), so a slow screen renders only the newest state.
"""

from __future__ import annotations

from textual.message import Message

from ..snapshot import Summary
from .source import AgentsPart


class SummaryArrived(Message):
    """A new summary part (queues and total)."""

    def __init__(self, summary: Summary, received_mono: float) -> None:
        super().__init__()
        self.summary = summary
        self.received_mono = received_mono

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, SummaryArrived)


class AgentsArrived(Message):
    """A new agent detail part."""

    def __init__(self, part: AgentsPart, received_mono: float) -> None:
        super().__init__()
        self.part = part
        self.received_mono = received_mono

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, AgentsArrived)


class FeedStatus(Message):
    """The reader's connection state: connected, or the error it is retrying after."""

    def __init__(self, connected: bool, detail: str = "") -> None:
        super().__init__()
        self.connected = connected
        self.detail = detail

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, FeedStatus)


class OutcomeArrived(Message):
    """The audit entry of a request this desk sent (its ``request`` field is the request's stream id)."""

    def __init__(self, request_id: str, fields: dict) -> None:
        super().__init__()
        self.request_id = request_id
        self.fields = fields


class RevertsArrived(Message):
    """The pending auto-reverts (``:reverts``) and the recent takeovers (``:takeovers``), by agent."""

    def __init__(self, reverts: dict, takeovers: dict | None = None) -> None:
        super().__init__()
        self.reverts = reverts
        self.takeovers = takeovers or {}

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, RevertsArrived)
