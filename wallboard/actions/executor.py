"""The executor: the one process holding PBX credentials. It takes requests off the request stream (a consumer
group, so several executors never perform one request twice), authenticates the user's token, checks the
permission, performs the action through a backend and writes request and outcome to the append-only audit
stream. Acknowledge/snooze are authorised here and handed to the engine's owner (``:alert_cmds``), which owns
alert state. Temporary moves are scheduled in Redis (``:reverts``) and undone by whichever executor sees them
due, so they survive any UI restart; the undo is audited too.
"""

from __future__ import annotations

import asyncio
import json
import logging
import socket
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

import redis
import redis.asyncio as aredis
from pydantic import ValidationError

from ..aio import wait_for
from ..backoff import redis_backoff
from ..clock import Clock, SystemClock
from ..config import WallboardConfig
from ..events import utc
from ..keys import Keys
from .auth import Refused, permitted, verify
from .model import Ack, Move, Pause, Spy, describe, parse_request

log = logging.getLogger("wallboard.executor")
GROUP = "executors"
STALE_S = 120  # a request older than this is refused: the moment it was meant for has passed
PERFORMED_KEPT = 10_000  # outcomes of PBX actions remembered, so a request handed over again is not redone
AUDIT_LOOKAHEAD = 500  # audit entries read from a request's id on, looking for its outcome
REAUDIT_S = 10  # after a reconnect, the outcomes of this many seconds are checked (AOF everysec loses ~1 s)
REQUESTS_KEPT_S = 3600  # handled requests (tokens in them) are trimmed after this; the audit keeps the outcome


@dataclass(frozen=True)
class Outcome:
    ok: bool
    message: str = ""


@dataclass(frozen=True)
class Target:
    """What the backend needs to reach an agent on the PBX."""

    agent: str
    interface: str | None  # queue member interface, e.g. PJSIP/1001 (or Local/1001@agents)
    device: str | None  # the agent's real phone, for ChanSpy
    call_id: str | None  # the agent's current call (Uniqueid), for spying


class Backend(Protocol):
    async def spy(self, supervisor_device: str, target: Target, mode: str, keypad: bool) -> Outcome: ...
    async def queue_add(self, target: Target, queue: str, penalty: int) -> Outcome: ...
    async def queue_remove(self, target: Target, queue: str) -> Outcome: ...
    async def queue_penalty(self, target: Target, queue: str, penalty: int) -> Outcome: ...
    async def queue_pause(self, target: Target, paused: bool, reason: str | None, queue: str | None) -> Outcome: ...


class Executor:
    def __init__(self, client: aredis.Redis, config: WallboardConfig, backend: Backend, *,
                 clock: Clock | None = None, name: str | None = None, keys: Keys | None = None):  # fmt: skip
        self.r = client
        self.config = config
        self.backend = backend
        self.clock = clock or SystemClock()
        self._trimmed_at = float("-inf")
        self.keys = keys or Keys(config.redis.prefix)
        self.name = name or f"{socket.gethostname()}-executor"
        self.audit_key = f"{self.keys.centre}:audit"
        self.alert_cmds = f"{self.keys.centre}:alert_cmds"
        self.reverts = f"{self.keys.centre}:reverts"
        self.stop = asyncio.Event()
        self.redis_ok = True
        # request -> (its fields, result, detail, PBX message, monotonic time): what this process did on the PBX
        self.performed: OrderedDict[str, tuple[dict, str, str, str, float]] = OrderedDict()

    async def ensure_group(self) -> None:
        try:
            await self.r.xgroup_create(self.keys.requests, GROUP, id="0", mkstream=True)
        except redis.ResponseError as e:
            if "BUSYGROUP" not in str(e):
                raise

    # ---- the loop -----------------------------------------------------------------------------------

    async def run(self) -> None:
        """Take requests until stopped, riding out Redis restarts without being restarted: after a lost
        connection (or a group the restart lost: NOGROUP) the group is made again (MKSTREAM) and this
        consumer's pending requests (delivered, not acknowledged when Redis went) are taken first. Pending
        requests found at start were left by a previous process that stopped while handling them: whether
        the PBX did them is unknown, so they are audited as interrupted, not done again."""
        backoff = redis_backoff(self.config)
        backlog = True  # read our pending entries (id 0) before new ones (>)
        resumed = False  # False: the pending entries are a previous process's
        while not self.stop.is_set():
            try:
                if backlog:
                    await self.ensure_group()
                    await self._reaudit_recent()
                    while await self._read("0", block=None, resumed=resumed):
                        pass
                    backlog, resumed = False, True
                    if not self.redis_ok:
                        log.warning("Redis is back; taking requests again")
                    self.redis_ok = True
                    backoff.reset()
                await self.run_due_reverts()
                await self._trim_requests()
                await self._read(">", block=500)
            except redis.ResponseError as e:
                if "NOGROUP" not in str(e) and "UNBLOCKED" not in str(e):  # UNBLOCKED: deleted while we waited
                    raise
                log.warning("the request stream or its group is gone (%s); making it again", e)
                backlog = True
            except (redis.ConnectionError, redis.TimeoutError, OSError) as e:
                self.redis_ok, backlog = False, True
                delay = backoff.next()
                log.warning("Redis unavailable (%s); retrying in %.1fs", e, delay)
                try:
                    await wait_for(self.stop.wait(), delay)
                except asyncio.TimeoutError:
                    pass

    async def _trim_requests(self) -> None:
        """Once a minute: drop requests older than ``REQUESTS_KEPT_S``. They carry the users' tokens, and any
        older than ``STALE_S`` would be refused anyway; the audit stream is the record. Stream ids are the
        server's clock, so the cut is taken from the server's TIME."""
        mono = asyncio.get_running_loop().time()
        if mono - self._trimmed_at < 60:
            return
        self._trimmed_at = mono
        server_s, _ = await self.r.time()
        await self.r.xtrim(self.keys.requests, minid=f"{(int(server_s) - REQUESTS_KEPT_S) * 1000}-0", approximate=False)

    async def _read(self, start: str, block: int | None, resumed: bool = True) -> int:
        """One XREADGROUP from ``start`` (``0``: our pending entries; ``>``: new ones); handles and acknowledges
        what it got. Returns how many."""
        out = await self.r.xreadgroup(GROUP, self.name, {self.keys.requests: start}, count=50, block=block)
        n = 0
        for _stream, entries in out or []:
            for rid, fields in entries:
                if not fields:  # a pending entry whose request was trimmed away has no fields left
                    pass
                elif resumed:
                    await self.handle_once(rid, fields)
                elif not await self._audited(rid):
                    await self.audit(rid, fields, "failed", "", "interrupted: the executor stopped while handling "
                                     "it; not done again (send it again if still needed)")  # fmt: skip
                await self.r.xack(self.keys.requests, GROUP, rid)
                n += 1
        return n

    async def handle_once(self, rid: str, fields: dict) -> None:
        """``handle``, unless this request was already done. A Redis restart can hand a request over again:
        pending when Redis went, or delivered and acknowledged in the last second a crash lost (AOF
        ``everysec``). Audited already: nothing to do. Performed on the PBX by this process but its audit
        lost: audited again, not performed twice. An ack is performed again (its effect, a command to the
        engine, was in Redis and went with the lost second; the engine's ack is idempotent)."""
        if await self._audited(rid):
            return
        done = self.performed.get(rid)
        if done is not None:
            await self.audit(rid, fields, *done[1:4])
            return
        await self.handle(rid, fields)

    async def _reaudit_recent(self) -> None:
        """After a reconnect: an action done on the PBX in the last seconds whose audit entry the restart lost
        (with its request, so it is never handed over again) is audited again: nothing done goes unrecorded."""
        now = asyncio.get_running_loop().time()
        for rid, (fields, result, detail, pbx, at) in reversed(list(self.performed.items())):  # newest first
            if now - at > REAUDIT_S:
                break
            if not await self._audited(rid):
                log.warning("the audit of %s went with Redis's last writes: written again", rid)
                await self.audit(rid, fields, result, detail, pbx)

    async def _audited(self, rid: str) -> bool:
        # the audit entry comes after its request, so it is among the first entries from the request's id on
        for _aid, f in await self.r.xrange(self.audit_key, min=rid, max="+", count=AUDIT_LOOKAHEAD):
            if f.get("request") == rid:
                return True
        return False

    async def process_pending(self) -> int:
        """Handle every request waiting now (tests and one-shot runs). Returns how many."""
        await self.ensure_group()
        n = 0
        while True:
            out = await self.r.xreadgroup(GROUP, self.name, {self.keys.requests: ">"}, count=100)
            if not out or not out[0][1]:
                return n
            for rid, fields in out[0][1]:
                await self.handle(rid, fields)
                await self.r.xack(self.keys.requests, GROUP, rid)
                n += 1

    # ---- one request --------------------------------------------------------------------------------

    async def audit(self, rid: str, fields: dict, result: str, detail: str = "", pbx: str = "") -> None:
        entry = {"request": rid, "type": fields.get("type", ""), "user": fields.get("user", ""),
                 "agent": fields.get("agent", ""), "queue": fields.get("queue", ""),
                 "metric": fields.get("metric", ""), "detail": detail, "at": utc(self.clock.now()),
                 "result": result, "pbx": pbx}  # fmt: skip
        await self.r.xadd(self.audit_key, entry)
        # a refusal is worth a warning (its reason, never the token: the entry has none)
        log.log(logging.WARNING if result.startswith("refused") else logging.INFO, "%s %s by %s: %s %s", rid,
                entry["type"], entry["user"], result, pbx)  # fmt: skip

    async def handle(self, rid: str, fields: dict) -> str:
        """Authenticate, authorise, perform, audit. Returns the audited result."""
        try:
            req = parse_request(fields)
        except ValidationError as e:
            err = e.errors()[0]
            reason = f"malformed request: {'.'.join(str(p) for p in err['loc'])}: {err['msg']}"
            await self.audit(rid, fields, f"refused: {reason}")
            return "refused"
        detail = describe(req, self._agent_name(getattr(req, "agent", None)))
        try:
            verify(self.config, req.token, req.user, self.clock.now().timestamp())
            self._fresh(req)
            await self._rate(req.user)
            permitted(self.config, req.user, req.type, await self._queues_concerned(req))
        except Refused as e:
            await self.audit(rid, fields, f"refused: {e}", detail)
            return "refused"
        try:
            outcome = await self.perform(rid, req)
        except asyncio.TimeoutError:
            outcome = Outcome(False, "the PBX did not answer in time")
        except (ConnectionError, OSError) as e:
            outcome = Outcome(False, f"the PBX is unreachable: {e}")
        result = "ok" if outcome.ok else "failed"
        if not isinstance(req, Ack):  # done on the PBX: never again for this request (see handle_once)
            self.performed[rid] = (fields, result, detail, outcome.message, asyncio.get_running_loop().time())
            while len(self.performed) > PERFORMED_KEPT:
                self.performed.popitem(last=False)
        await self.audit(rid, fields, result, detail, outcome.message)
        return result

    def _fresh(self, req) -> None:
        if req.at:
            try:
                sent = datetime.fromisoformat(req.at.replace("Z", "+00:00"))
            except ValueError:
                raise Refused(f"unreadable request time {req.at!r}") from None
            if sent.tzinfo and (self.clock.now() - sent).total_seconds() > STALE_S:
                raise Refused(f"stale request (sent {req.at})")

    async def _rate(self, user: str) -> None:
        minute = int(self.clock.now().timestamp() // 60)
        key = f"{self.keys.centre}:rate:{user}:{minute}"
        n = await self.r.incr(key)
        if n == 1:
            await self.r.expire(key, 120)
        if n > self.config.security.action_rate_per_min:
            raise Refused(f"rate limit: more than {self.config.security.action_rate_per_min} requests a minute")

    def _agent_name(self, agent: str | None) -> str | None:
        a = next((x for x in self.config.agents if x.id == agent), None)
        return a.name if a and a.name else agent

    async def _agent_state(self, agent: str) -> dict:
        return await self.r.hgetall(f"{self.keys.agent(agent)}:state")

    async def _agent_queues(self, agent: str) -> dict[str, int]:
        cfg = next((a for a in self.config.agents if a.id == agent), None)
        queues = dict(cfg.skills) if cfg else {}
        b = self.keys.agent(agent)
        members, stamps = await self.r.hgetall(f"{b}:queues"), await self.r.hgetall(f"{b}:qts")
        for q in stamps:  # membership events override the configured skills, as in snapshots
            if q in members:
                queues[q] = int(float(members[q]))
            else:
                queues.pop(q, None)
        return queues

    async def _queues_concerned(self, req) -> list[str]:
        if isinstance(req, (Move, Ack)):
            return [req.queue]
        if isinstance(req, Pause):
            return [req.queue] if req.queue else sorted(await self._agent_queues(req.agent))
        if isinstance(req, Spy):
            st = await self._agent_state(req.agent)
            return [st["call_queue"]] if st.get("call_queue") else sorted(await self._agent_queues(req.agent))
        return []

    async def _target(self, agent: str) -> Target:
        cfg = next((a for a in self.config.agents if a.id == agent), None)
        st = await self._agent_state(agent)
        return Target(agent, cfg.interface if cfg else None, (cfg.device or cfg.interface) if cfg else None,
                      st.get("call_id") or None)  # fmt: skip

    async def perform(self, rid: str, req) -> Outcome:
        if isinstance(req, Ack):
            # alert state belongs to the engine's owner: hand it the authorised command
            await self.r.xadd(self.alert_cmds, {"type": req.type, "queue": req.queue, "metric": req.metric,
                                                "user": req.user, "until": req.until or "", "request": rid})  # fmt: skip
            return Outcome(True, "handed to the engine")
        target = await self._target(req.agent)
        if isinstance(req, Spy):
            user = next((u for u in self.config.users if u.name == req.user), None)
            if not user or not user.device:
                return Outcome(False, f"{req.user} has no phone configured (users.device) to listen on")
            if not target.call_id:
                return Outcome(False, f"{self._agent_name(req.agent)} is not on a call")
            if req.call_id and req.call_id != target.call_id:
                return Outcome(False, f"{self._agent_name(req.agent)} is no longer on call {req.call_id}")
            return await self.backend.spy(user.device, target, req.type, req.keypad)
        if isinstance(req, Pause):
            return await self.backend.queue_pause(target, req.type == "pause", req.reason, req.queue)
        assert isinstance(req, Move)
        before = await self._agent_queues(req.agent)
        if req.op == "add":
            out = await self.backend.queue_add(target, req.queue, req.penalty)
        elif req.op == "remove":
            out = await self.backend.queue_remove(target, req.queue)
        else:
            out = await self.backend.queue_penalty(target, req.queue, req.penalty)
        if out.ok and req.revert_after_s:
            await self.schedule_revert(rid, req, before)
        return out

    # ---- temporary moves ----------------------------------------------------------------------------

    async def schedule_revert(self, rid: str, req: Move, before: dict[str, int]) -> None:
        """The inverse of the move, due at now + revert_after_s, kept in Redis."""
        if req.queue not in before:
            undo = {"op": "remove"}
        elif req.op == "remove" or before[req.queue] != req.penalty:
            undo = {"op": "add" if req.op == "remove" else "penalty", "penalty": before[req.queue]}
        else:
            return  # nothing changed
        due = self.clock.now() + timedelta(seconds=req.revert_after_s or 0)
        item = {"request": rid, "user": req.user, "agent": req.agent, "queue": req.queue, **undo}
        await self.r.zadd(self.reverts, {json.dumps(item, sort_keys=True): due.timestamp()})

    async def run_due_reverts(self) -> int:
        now = self.clock.now().timestamp()
        done = 0
        for raw in await self.r.zrangebyscore(self.reverts, "-inf", now):
            if not await self.r.zrem(self.reverts, raw):
                continue  # another executor took it
            item = json.loads(raw)
            target = await self._target(item["agent"])
            if item["op"] == "remove":
                out = await self.backend.queue_remove(target, item["queue"])
            elif item["op"] == "add":
                out = await self.backend.queue_add(target, item["queue"], int(item["penalty"]))
            else:
                out = await self.backend.queue_penalty(target, item["queue"], int(item["penalty"]))
            fields = {"type": "move", "user": item["user"], "agent": item["agent"], "queue": item["queue"]}
            detail = f"auto-revert of {item['request']}: {item['op']} {item['queue']}"
            await self.audit(item["request"] + ":revert", fields, "ok" if out.ok else "failed", detail, out.message)
            done += 1
        return done
