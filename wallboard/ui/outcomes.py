"""What became of the desk's requests: the audit stream read while requests are pending, and the pending
auto-reverts and recent takeovers the agents table marks.

``OutcomeWatch.expect`` files a batch of request ids under one label; a worker (group ``outcomes``) reads
the audit stream from the first id while anything is pending and posts ``OutcomeArrived`` for each entry of
ours; ``arrived`` files it, and says (``Pending.summary``) once a batch is complete. A batch with no outcome
by its deadline is given up (``overdue``). ``read_reverts`` (group ``reverts``) reads ``:reverts`` and
``:takeovers`` and posts ``RevertsArrived``. The app turns the results into notices.
"""

from __future__ import annotations

import asyncio
from functools import partial
import logging
from collections.abc import Callable

from textual.app import App

from ..livetime import monotonic_of
from .messages import OutcomeArrived, RevertsArrived
from .reader import SnapshotReader
from .requests import OUTCOME_TIMEOUT_S, Pending, audit_key, load_reverts, load_takeovers, read_from

log = logging.getLogger(__name__)

OUTCOMES = "outcomes"  # worker groups, cancelled when the desk closes
REVERTS = "reverts"
REVERTING_TYPES = ("move", "takeover")  # outcomes that change the pending reverts or takeovers


class OutcomeWatch:
    def __init__(self, app: App, reader: SnapshotReader) -> None:
        self.app = app
        self.reader = reader
        self.pending: dict[str, Pending] = {}  # request id -> its batch
        self.watching = False
        self._reverts_due = asyncio.Event()  # a read asked for (``read_reverts``)
        self._reverts_at = 0.0  # as of when
        self._reverts_running = False

    def expect(self, ids: list[str], label: str, after: Callable[[bool], None] | None = None) -> None:
        """Wait for the audit entries of ``ids`` (one notice for them all, or "no outcome yet" after a while);
        ``after(ok)`` once they are all in, or given up."""
        if not ids:
            return
        batch = Pending(label, list(ids), monotonic_of(self.reader.clock) + OUTCOME_TIMEOUT_S, after=after)
        for rid in ids:
            self.pending[rid] = batch
        if not self.watching:
            self.watching = True
            self.app.run_worker(partial(self._watch, read_from(ids[0])), group=OUTCOMES, exit_on_error=False)

    async def _watch(self, start: str) -> None:
        """Read the audit stream while requests are pending; post each one's entry."""
        last = start
        try:
            while self.pending and not self.reader.closed:
                try:
                    client = await self.reader.client()
                    out = await client.xread({audit_key(self.reader.keys): last}, count=200, block=500)
                except asyncio.CancelledError:
                    raise
                except Exception as e:  # Redis away for a moment: the pending requests time out on their own
                    log.warning("audit reader: %s", e)
                    await asyncio.sleep(0.5)
                    continue
                for _stream, entries in out or []:
                    for eid, fields in entries:
                        last = eid
                        rid = fields.get("request", "")
                        if rid in self.pending:
                            self.app.post_message(OutcomeArrived(rid, fields))
                await asyncio.sleep(0)
        finally:
            self.watching = False

    def arrived(self, message: OutcomeArrived) -> Pending | None:
        """File an outcome; its batch when that is complete now."""
        batch = self.pending.pop(message.request_id, None)
        if batch is None:
            return None
        batch.results[message.request_id] = message.fields
        return batch if batch.done else None

    def overdue(self) -> list[Pending]:
        """The batches past their deadline, given up."""
        now = monotonic_of(self.reader.clock)
        late = {id(b): b for b in self.pending.values() if b.deadline <= now}
        for batch in late.values():
            for rid in batch.ids:
                self.pending.pop(rid, None)
        return list(late.values())

    def read_reverts(self, now_ts: float) -> None:
        """Read them again (after each agents part, and each outcome that changes them), as of ``now_ts``. One
        worker for the desk's life does every read, the latest asked for once the one under way is done: a worker
        a read (one a second) each left a reference cycle when it finished (its task's context holds it), ~90
        objects a second for the collector."""
        self._reverts_at = now_ts
        self._reverts_due.set()
        if not self._reverts_running:
            self._reverts_running = True
            self.app.run_worker(self._reverts_reader, group=REVERTS, exit_on_error=False)

    async def _reverts_reader(self) -> None:
        try:
            while not self.reader.closed:
                await self._reverts_due.wait()
                self._reverts_due.clear()
                await self._reverts(self._reverts_at)
        finally:
            self._reverts_running = False

    async def _reverts(self, now_ts: float) -> None:
        try:
            client = await self.reader.client()
            reverts = await load_reverts(client, self.reader.keys)
            takeovers = await load_takeovers(client, self.reader.keys, now_ts)
        except asyncio.CancelledError:
            raise
        except Exception as e:
            log.warning("reading the pending auto-reverts: %s", e)
            return
        self.app.post_message(RevertsArrived(reverts, takeovers))
