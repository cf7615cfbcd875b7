"""The simulated centre's chat and e-mail platform: its written queues' events, POSTed to the ``http`` feed.

A real centre's chats and e-mails do not pass through the PBX: a chat or ticketing platform reports them over
HTTP (docs/HTTP_FEED.md). So the simulated PBX (``wallboard pbx``) keeps its AMI or event-socket face for the
phones and hands the written queues' events (their transitions and memberships) to a ``WrittenSender``, which
POSTs them as our events to ``POST /events`` of an ingester running ``--feed http``, in batches, in order.
Re-sending is always safe (each event keeps its id and is counted once by meaning), so a POST that fails is
sent again after a short wait until it is answered; the queue towards it is bounded (the oldest batch is
dropped, and logged, should the ingester stay away that long).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import deque
from typing import Any

from ..aio import cancel_and_wait

log = logging.getLogger(__name__)

MAX_BATCH = 500  # events per POST (the feed's default max_events is 1000)
MAX_BACKLOG = 200  # batches kept while the ingester is away
RETRY_S = 1.0


def split_written(
    events: list[Any], written: set[str], written_agents: frozenset[str] = frozenset()
) -> tuple[list[Any], list[Any]]:
    """(events for the PBX face, events for the chat platform), each in order. The platform reports what names
    a written queue (call transitions and memberships) and every fact of an agent who serves written queues
    only (its log-in, breaks); a blended agent's state is the PBX's (its phone)."""
    if not written:
        return events, []
    pbx, out = [], []
    for e in events:
        if getattr(e, "agent", None) in written_agents:
            out.append(e)
        elif getattr(e, "queue", None) in written and getattr(e, "type", "") != "agent_state":
            out.append(e)
        else:
            pbx.append(e)
    return pbx, out


def written_only_agents(config: Any) -> frozenset[str]:
    """Agents whose every configured skill is a written queue: the chat platform, not the PBX, knows them."""
    written = {q.name for q in config.queues if q.channel != "voice"}
    return frozenset(a.id for a in config.agents if a.skills and set(a.skills) <= written)


class WrittenSender:
    """POSTs batches of events to the http feed with a bearer token; ``put`` never blocks the PBX's step."""

    def __init__(self, url: str, token: str, *, retry_s: float = RETRY_S):
        self.url, self.token, self.retry_s = url, token, retry_s
        self._batches: deque[list[dict]] = deque()
        self._wake = asyncio.Event()
        self._task: asyncio.Task | None = None
        self.sent = 0  # events answered with 202
        self.rejected = 0  # items the feed refused (dead letters there)

    def put(self, events: list[Any]) -> None:
        if not events:
            return
        items = [json.loads(e.model_dump_json(exclude={"source"}, exclude_none=True)) for e in events]
        for k in range(0, len(items), MAX_BATCH):
            if len(self._batches) >= MAX_BACKLOG:
                dropped = self._batches.popleft()
                log.warning("written sender: the ingester is away; %d events dropped", len(dropped))
            self._batches.append(items[k : k + MAX_BATCH])
        self._wake.set()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="sim-written-sender")

    async def stop(self) -> None:
        if self._task is not None:
            await cancel_and_wait(self._task)
            self._task = None

    async def _run(self) -> None:
        import aiohttp

        headers = {"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"}
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:
            while True:
                if not self._batches:
                    self._wake.clear()
                    await self._wake.wait()
                    continue
                batch = self._batches[0]
                try:
                    async with session.post(self.url, data=json.dumps(batch), headers=headers) as resp:
                        body = await resp.json(content_type=None)
                        if resp.status != 202:
                            raise RuntimeError(f"HTTP {resp.status}: {str(body)[:200]}")
                except (aiohttp.ClientError, asyncio.TimeoutError, RuntimeError, ValueError) as e:
                    log.info("written sender: %s; sending again in %gs", e, self.retry_s)
                    await asyncio.sleep(self.retry_s)
                    continue
                self._batches.popleft()
                self.sent += body.get("accepted", 0)
                if body.get("rejected"):
                    self.rejected += len(body["rejected"])
                    log.warning("written sender: %d items refused: %s", len(body["rejected"]), body["rejected"][:3])
