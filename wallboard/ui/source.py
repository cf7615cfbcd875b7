"""The fetch half of the desk UI: read the published snapshot parts from Redis, as plain data.

Nothing here renders or imports Textual. ``SnapshotSource.parts()`` subscribes to both channels first, then
reads the latest stored parts (so nothing published in between is lost), then yields each new part as it is
published. The caller (a long-running worker) turns them into messages.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from pydantic import ValidationError

from ..keys import Keys
from ..snapshot import AgentSnapshot, Summary

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class AgentsPart:
    """The agent detail part of a snapshot."""

    seq: int
    at: str
    agents: dict[str, AgentSnapshot] = field(default_factory=dict)


def parse_summary(text: str) -> Summary:
    return Summary.model_validate_json(text)


def parse_agents(text: str) -> AgentsPart:
    data = json.loads(text)
    agents = {k: AgentSnapshot.model_validate(v) for k, v in (data.get("agents") or {}).items()}
    return AgentsPart(seq=int(data["seq"]), at=str(data["at"]), agents=agents)


class SnapshotSource:
    """Latest parts at start, then every published part, parsed."""

    def __init__(self, client, keys: Keys):
        self.client = client
        self.keys = keys
        self.rejected = 0

    def _parse(self, channel: str, text: str) -> Summary | AgentsPart | None:
        try:
            if channel == self.keys.agents_channel:
                return parse_agents(text)
            return parse_summary(text)
        except (ValidationError, ValueError, KeyError, TypeError) as e:
            self.rejected += 1
            log.warning("ignored a malformed snapshot part on %s: %s", channel, e)
            return None

    async def parts(self) -> AsyncIterator[Summary | AgentsPart]:
        pubsub = self.client.pubsub(ignore_subscribe_messages=True)
        try:
            await pubsub.subscribe(self.keys.channel, self.keys.agents_channel)
            summary, agents = await self.client.mget(self.keys.summary, self.keys.agents_detail)
            for channel, text in ((self.keys.channel, summary), (self.keys.agents_channel, agents)):
                if text:
                    part = self._parse(channel, text)
                    if part is not None:
                        yield part
            async for message in pubsub.listen():
                if message.get("type") != "message":
                    continue
                part = self._parse(message["channel"], message["data"])
                if part is not None:
                    yield part
        finally:
            try:
                await pubsub.aclose()
            except Exception:  # closing after the connection died: nothing left to release
                log.debug("pubsub close failed", exc_info=True)
