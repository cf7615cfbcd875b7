"""What the simulated PBXs share whatever protocol they speak (AMI, the FreeSWITCH event socket): a listening
server, the step loop that advances the simulated centre with the clock (at ``speed``), the connections with their
failure modes (dropped, frozen half-open, a reader too slow), and a clean stop. Each protocol's server renders the
model's events and answers its own commands."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from typing import Any, Protocol

from ..aio import cancel_and_wait
from ..clock import Clock, SystemClock
from ..config import WallboardConfig
from .model import SimCentre
from .ami_render import PbxTracker
from .written import WrittenSender, split_written, written_only_agents

log = logging.getLogger(__name__)


class Connection(Protocol):
    writer: asyncio.StreamWriter
    frozen: bool


class SimServer:
    what = "simulated PBX"  # for log lines

    def __init__(
        self,
        config: WallboardConfig,
        centre: SimCentre,
        clock: Clock | None,
        host: str,
        port: int,
        *,
        speed: float,
        step_s: float,
        write_buffer_limit: int,
    ):
        self.config = config
        self.centre = centre
        self.clock = clock or SystemClock()
        self.host, self._port = host, port
        self.speed, self.step_s = float(speed), float(step_s)
        self.write_buffer_limit = write_buffer_limit
        self.tracker = PbxTracker(config)
        # the PBX face serves the phones; written queues' events go to ``written`` (a chat platform), if any
        self._queues = [q.name for q in config.queues if q.channel == "voice"]
        self._written_queues = {q.name for q in config.queues if q.channel != "voice"}
        self._written_agents = written_only_agents(config)
        self.written: WrittenSender | None = None
        self._conns: set[Any] = set()
        self._handlers: set[asyncio.Task] = set()
        self._server: asyncio.AbstractServer | None = None
        self._loop_task: asyncio.Task | None = None
        self._stopped = asyncio.Event()
        self._began = self.clock.now()
        self._base = centre.now
        self.events_sent = 0

    # --- life ---------------------------------------------------------------------------------------------

    @property
    def port(self) -> int:
        if self._server is not None and self._server.sockets:
            return self._server.sockets[0].getsockname()[1]
        return self._port

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        raise NotImplementedError

    def _starting(self) -> None:
        """The protocol's own start (before the first events go out)."""

    def _stopping(self) -> None:
        """The protocol's own stop (after every connection is closed)."""

    async def start(self, live_from: datetime | None = None) -> Any:
        """Listen, take the model's first events (the logins at its start) and run the step loop. With
        ``live_from`` (after the model's start) the model first runs up to it at once, before anyone can connect:
        that history reaches only what the protocol logs (the AMI face's queue_log), as a PBX's day before a
        wallboard connects; the live day goes on from it."""
        self._starting()
        if self.written is not None:
            self.written.start()
        self._route(self.centre.advance_to(self.centre.now))
        if live_from is not None and live_from > self.centre.now:
            # the history: the phones' part reaches what the protocol logs (the AMI face's queue_log); the chat
            # platform reports its conversations so far, each at its own times, as a platform a wallboard
            # connects to mid-day does (posting only the live day left the agents' open conversations unseen:
            # idle-looking agents beside waiting e-mails)
            self._route(self.centre.advance_to(live_from))
        self._server = await asyncio.start_server(self._serve, self.host, self._port)
        self._began, self._base = self.clock.now(), self.centre.now
        self._loop_task = asyncio.create_task(self._run(), name="sim-pbx-step")
        log.info("%s listening on %s:%s", self.what, self.host, self.port)
        return self

    async def _run(self) -> None:
        while True:
            try:
                self.step()
            except Exception:  # a bug in one step must not stop the PBX; it is logged
                log.exception("%s: a step failed", self.what)
            await asyncio.sleep(self.step_s)

    async def stop(self) -> None:
        if self._loop_task is not None:
            await cancel_and_wait(self._loop_task)
            self._loop_task = None
        if self.written is not None:
            await self.written.stop()
        self.drop_connections()
        if self._handlers:
            await asyncio.wait(list(self._handlers), timeout=5)
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        self._stopping()
        self._stopped.set()

    async def serve_forever(self) -> None:
        """Start (if needed) and run until ``stop()``."""
        if self._server is None:
            await self.start()
        await self._stopped.wait()

    async def __aenter__(self) -> Any:
        return await self.start()

    async def __aexit__(self, *exc: Any) -> None:
        await self.stop()

    # --- connections and their faults ---------------------------------------------------------------------

    def _track(self, conn: Connection) -> asyncio.Task | None:
        """A new connection, served by the current task (closed at stop)."""
        self._conns.add(conn)
        task = asyncio.current_task()
        if task is not None:
            self._handlers.add(task)
        return task

    def _untrack(self, conn: Connection, task: asyncio.Task | None) -> None:
        self._conns.discard(conn)
        if task is not None:
            self._handlers.discard(task)

    def drop_connections(self) -> int:
        """Close every connection at once (the model runs on; clients may connect again)."""
        conns = list(self._conns)
        for c in conns:
            c.writer.transport.abort()
        return len(conns)

    def freeze_connections(self) -> int:
        """A half-open link on every present connection: from now on nothing reaches it (events, answers,
        Pongs) and what it sends is lost, but it is never closed, as when a NAT or firewall on the way forgets
        the connection. Connections opened afterwards work (the path is back). Returns how many."""
        for c in self._conns:
            c.frozen = True
        return len(self._conns)

    def _send(self, c: Connection, data: bytes) -> None:
        transport = c.writer.transport
        if c.frozen or transport.is_closing():
            return
        c.writer.write(data)
        if transport.get_write_buffer_size() > self.write_buffer_limit:
            log.warning("%s: a client reads too slowly: dropped", self.what)
            transport.abort()

    # --- the model, live ----------------------------------------------------------------------------------

    def sim_time(self) -> datetime:
        return self._base + (self.clock.now() - self._began) * self.speed

    def step(self) -> int:
        """Advance the model to the clock's time and push what happened; returns the number of model events."""
        events = self.centre.advance_to(max(self.sim_time(), self.centre.now))
        self._route(events)
        return len(events)

    def _route(self, events: list[Any]) -> None:
        pbx, written = split_written(events, self._written_queues, self._written_agents)
        if self.written is not None:
            self.written.put(written)
        self._publish(pbx)

    def _publish(self, events: list[Any]) -> None:
        raise NotImplementedError
