"""The executor: the one process holding PBX credentials. It takes requests off the request stream (a consumer
group, so several executors never perform one request twice), authenticates the user's token, checks the
permission, performs the action through a backend and writes request and outcome to the append-only audit
stream. Acknowledge/snooze are authorised here and handed to the engine's owner (``:alert_cmds``), which owns
alert state. Temporary moves are scheduled in Redis (``:reverts``) and undone by whichever executor sees them
due, so they survive any UI restart; the undo is audited too.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import socket
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Protocol

import redis
import redis.asyncio as aredis
from pydantic import ValidationError

from ..aio import wait_for
from ..backoff import redis_backoff
from ..clock import Clock, SystemClock
from ..config import WallboardConfig
from ..events import CALL_STATES, utc
from ..keys import Keys
from ..telemetry import Beat, ExecutorMetrics
from .auth import Refused, permitted, verify_request
from .model import Ack, Move, Pause, Spy, Takeover, call_words, describe, parse_request

log = logging.getLogger("wallboard.executor")
GROUP = "executors"
STALE_S = 120  # a request older than this is refused: the moment it was meant for has passed
FUTURE_S = 30  # a request dated further ahead than this is refused (a sender's clock may be a little fast)
SEEN_KEPT_S = 3600  # a request id is remembered this long: far longer than STALE_S + FUTURE_S
PERFORMED_KEPT = 10_000  # outcomes of PBX actions remembered, so a request handed over again is not redone
AUDIT_LOOKAHEAD = 500  # audit entries read from a request's id on, looking for its outcome
REAUDIT_S = 10  # after a reconnect, the outcomes of this many seconds are checked (AOF everysec loses ~1 s)
READ_BATCH = 200  # requests read per XREADGROUP
UNAUTHENTIC_AUDITED = 10  # unauthenticated entries audited one by one per minute; the rest are summarised
OUTCOMES_KEPT_S = 7200  # outcome marks of handled requests (``_audited``): longer than any hand-over
READ_AHEAD = 2000  # requests read before serving them round-robin by user (see ``fair``)
REQUESTS_KEPT_S = 3600  # handled requests (tokens in them) are trimmed after this; the audit keeps the outcome


class RateLimited(Refused):
    def __init__(self, reason: str, user: str, minute: int):
        super().__init__(reason)
        self.user, self.minute = user, minute


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
    by: str | None = None  # the supervisor who asked (the PBX's own audit row names them)


class Backend(Protocol):
    async def spy(self, supervisor_device: str, target: Target, mode: str, keypad: bool) -> Outcome: ...
    async def takeover(self, supervisor_device: str, target: Target) -> Outcome: ...
    async def queue_add(self, target: Target, queue: str, penalty: int) -> Outcome: ...
    async def queue_remove(self, target: Target, queue: str) -> Outcome: ...
    async def queue_penalty(self, target: Target, queue: str, penalty: int) -> Outcome: ...
    async def queue_pause(self, target: Target, paused: bool, reason: str | None, queue: str | None) -> Outcome: ...


class Executor:
    def __init__(
        self,
        client: aredis.Redis,
        config: WallboardConfig,
        backend: Backend,
        *,
        clock: Clock | None = None,
        name: str | None = None,
        keys: Keys | None = None,
    ):
        self.r = client
        self.config = config
        self.backend = backend
        self.clock = clock or SystemClock()
        self._trimmed_at = float("-inf")
        self.keys = keys or Keys(config.redis.prefix)
        self.name = name or f"{socket.gethostname()}-executor"
        self.audit_key = self.keys.audit
        self.alert_cmds = self.keys.alert_cmds
        self.reverts = self.keys.reverts
        self.stop = asyncio.Event()
        self.redis_ok = True
        # request -> (its fields, result, detail, PBX message, monotonic time): what this process did on the PBX
        self.performed: OrderedDict[str, tuple[dict, str, str, str, float]] = OrderedDict()
        # (user, minute) -> [refusals for rate not yet written, first request, last request]
        self.rate_summaries: dict[tuple[str, int], list] = {}
        # ("", minute) -> [unauthenticated entries, of those not audited one by one, first, last]
        self.unauthentic: dict[tuple[str, int], list] = {}
        self.claimed: OrderedDict[str, str] = OrderedDict()  # claim key -> stream id, as the claims in Redis
        self._waitaof = True
        self.metrics = ExecutorMetrics(self)  # this process's figures for Prometheus (wallboard.telemetry)
        self.beat = Beat(self.keys, "executor", self.name, max(10.0, config.engine.health_ttl_s))  # for --check

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
                await self.beat(self.r)
                await self.run_due_reverts()
                await self.flush_rate_summaries()
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
        await self.beat.clear(self.r)  # (the mark behind `wallboard executor --check`)

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

    async def _take(self, start: str, block: int | None) -> list:
        """Entries from ``start`` (``0``: our pending ones; ``>``: new ones). New ones are read ahead, up to
        ``READ_AHEAD``, so that ``fair`` sees another user's request behind one user's backlog."""
        entries: list = []
        while True:
            out = await self.r.xreadgroup(
                GROUP, self.name, {self.keys.requests: start}, count=READ_BATCH, block=block if not entries else None
            )
            got = out[0][1] if out else []
            entries.extend(got)
            if start != ">" or len(got) < READ_BATCH or len(entries) >= READ_AHEAD:
                return entries

    async def _read(self, start: str, block: int | None, resumed: bool = True) -> int:
        """Takes entries (``_take``), handles them round-robin by user and acknowledges them. An entry that
        fails authentication is served last and costs no Redis work of its own (a flood of junk, whatever
        user it names, neither delays a genuine request nor fills the audit). Returns how many."""
        entries = await self._take(start, block)
        now = self.clock.now().timestamp()
        tagged = [(rid, fields, self._unauthentic(fields, now) if fields else None) for rid, fields in entries]
        for rid, fields, refusal in fair(tagged):
            if not fields:  # a pending entry whose request was trimmed away has no fields left
                pass
            elif refusal is not None:
                await self._refused_unauthentic(rid, fields, refusal)
            elif resumed:
                await self.handle_once(rid, fields)
            elif not await self._audited(rid):
                if await self._started(fields):
                    self.metrics.handled(fields.get("type"), "failed")
                    await self.audit(
                        rid,
                        fields,
                        "failed",
                        "",
                        "interrupted: the executor stopped while handling "
                        "it; not done again (send it again if still needed)",
                    )
                else:  # read ahead by the process that stopped, never begun: handled now (if still fresh)
                    await self.handle(rid, fields)
        if entries:
            await self.r.xack(self.keys.requests, GROUP, *[rid for rid, _ in entries])
        return len(entries)

    def _unauthentic(self, fields: dict, now: float) -> str | None:
        """Why an entry is not a genuine request of the user it names (no Redis work), or None."""
        try:
            verify_request(self.config, fields, fields.get("user", ""), now)
        except Refused as e:
            return str(e)
        return None

    async def _refused_unauthentic(self, rid: str, fields: dict, reason: str) -> None:
        """The first ``UNAUTHENTIC_AUDITED`` such refusals of a minute are audited one by one, the rest counted
        and written as one summary line (``flush_rate_summaries``)."""
        self.metrics.handled(fields.get("type"), "refused")
        key = ("", int(self.clock.now().timestamp() // 60))
        s = self.unauthentic.setdefault(key, [0, 0, "", ""])
        s[0] += 1
        if s[0] <= UNAUTHENTIC_AUDITED:
            await self.audit(
                rid,
                fields,
                f"refused: {reason}"
                + (
                    " (further refusals of unauthenticated requests this minute are summarised)"
                    if s[0] == UNAUTHENTIC_AUDITED
                    else ""
                ),
            )
            return
        s[1] += 1
        s[2] = s[2] or rid
        s[3] = rid

    def _claim_key(self, user: str, rid_id: str) -> str:
        return self.keys.claim(user, rid_id)

    async def _started(self, fields: dict) -> bool:
        """Whether an executor began handling this request (it claims the id first, see ``_first_time``)."""
        rid_id = fields.get("id", "")
        return not rid_id or bool(await self.r.exists(self._claim_key(fields.get("user", ""), rid_id)))

    async def handle_once(self, rid: str, fields: dict) -> None:
        """``handle``, unless this request was already done. A Redis restart can hand a request over again:
        pending when Redis went, or delivered and acknowledged in the last second a crash lost (AOF
        ``everysec``). Audited already: nothing to do. Performed on the PBX by this process but its audit
        lost: audited again (and its id claimed again, so a copy stays refused), not performed twice. An ack
        is performed again (its effect, a command to the engine, was in Redis and went with the lost second;
        the engine's ack is idempotent)."""
        if await self._audited(rid):
            return
        done = self.performed.get(rid)
        if done is not None:
            await self._reclaim(rid, fields)
            await self.audit(rid, fields, *done[1:4])
            return
        await self.handle(rid, fields)

    async def _reclaim(self, rid: str, fields: dict) -> None:
        if fields.get("id"):
            await self.r.set(
                self._claim_key(fields.get("user", ""), fields["id"]), rid, nx=True, ex=STALE_S + FUTURE_S + 60
            )

    async def _reaudit_recent(self) -> None:
        """After a reconnect: an action done on the PBX in the last seconds whose audit entry the restart lost
        (with its request, so it is never handed over again) is audited again: nothing done goes unrecorded."""
        now = asyncio.get_running_loop().time()
        for rid, (fields, result, detail, pbx, at) in reversed(list(self.performed.items())):  # newest first
            if now - at > REAUDIT_S:
                break
            if not await self._audited(rid):
                log.warning("the audit of %s went with Redis's last writes: written again", rid)
                await self._reclaim(rid, fields)
                await self.audit(rid, fields, result, detail, pbx)

    def _outcomes_key(self, rid: str) -> str | None:
        """Where the outcome mark of a stream entry lives: one hash per minute of request ids."""
        ms, _, seq = rid.partition("-")
        return self.keys.outcomes(int(ms) // 60_000) if ms.isdigit() and seq.isdigit() else None

    async def _audited(self, rid: str) -> bool:
        """Whether the request has its outcome in the audit: a mark written in the same transaction as the
        audit entry, so whatever a crash loses, it loses both."""
        key = self._outcomes_key(rid)
        return bool(key and await self.r.hexists(key, rid))

    async def process_pending(self) -> int:
        """Handle every request waiting now (tests and one-shot runs). Returns how many."""
        await self.ensure_group()
        n = 0
        while got := await self._read(">", None):
            n += got
        await self.flush_rate_summaries(force=True)
        return n

    # ---- one request --------------------------------------------------------------------------------

    async def audit(self, rid: str, fields: dict, result: str, detail: str = "", pbx: str = "") -> None:
        """One audit entry and, in the same transaction, the request's outcome mark (``_audited``). Fields
        copied from the request are cut and made printable: an entry may come from anyone who can XADD."""
        entry = {
            "request": rid,
            "id": _clip(fields.get("id", "")),
            "type": _clip(fields.get("type", "")),
            "user": _clip(fields.get("user", "")),
            "agent": _clip(fields.get("agent", "")),
            "queue": _clip(fields.get("queue", "")),
            "metric": _clip(fields.get("metric", "")),
            "call_id": _clip(fields.get("call_id", "")),  # the detail names the call by queue and time; this traces it
            "detail": detail,
            "at": utc(self.clock.now()),
            "result": result,
            "pbx": pbx,
        }
        pipe = self.r.pipeline(transaction=True)
        pipe.xadd(self.audit_key, entry)
        if (okey := self._outcomes_key(rid)) is not None:
            pipe.hset(okey, rid, result[:40])
            pipe.expire(okey, OUTCOMES_KEPT_S)
        await pipe.execute()
        # a refusal is worth a warning (its reason, never the token: the entry has none)
        log.log(
            logging.WARNING if result.startswith("refused") else logging.INFO,
            "%s %r by %r: %s %s",
            rid,
            entry["type"],
            entry["user"],
            result,
            pbx,
        )

    async def handle(self, rid: str, fields: dict) -> str:
        """Authenticate, authorise, perform, audit. Returns the audited result. Whatever goes wrong inside one
        request becomes that request's audited outcome; only a lost Redis connection leaves it (the request
        stays pending and is handled again once Redis is back, see ``handle_once``)."""
        try:
            result = await self._handle(rid, fields)
        except (redis.ConnectionError, redis.TimeoutError, asyncio.CancelledError):
            raise
        except Exception as e:  # a bug must not stop the executor, nor leave the request without an outcome
            log.exception("request %s: internal error", rid)
            await self.audit(
                rid, fields, f"failed: internal error before the PBX was asked ({type(e).__name__}: {str(e)[:200]})"
            )
            result = "failed"
        self.metrics.handled(fields.get("type"), result)
        return result

    async def _handle(self, rid: str, fields: dict) -> str:
        refusal = self._unauthentic(fields, self.clock.now().timestamp())
        if refusal is not None:
            await self.audit(rid, fields, f"refused: {refusal}")
            return "refused"
        try:
            req = parse_request(fields)
        except ValidationError as e:
            err = e.errors()[0]
            reason = f"malformed request: {'.'.join(str(p) for p in err['loc'][1:] or err['loc'])}: {err['msg']}"
            await self.audit(rid, fields, f"refused: {reason}")
            return "refused"
        call = await self._call_words(req) if isinstance(req, (Spy, Takeover)) else None
        detail = describe(req, self._agent_name(getattr(req, "agent", None)), call)
        try:
            self._fresh(req)
            await self._rate(req.user)
            await self._first_time(rid, req)
            await self._authorise(req)
            if isinstance(req, (Spy, Takeover)):
                await self._on_a_call(req)
        except RateLimited as e:
            await self._rate_refused(rid, fields, detail, e)
            return "refused"
        except Refused as e:
            await self.audit(rid, fields, f"refused: {e}", detail)
            return "refused"
        try:
            outcome = await self.perform(rid, req)
        except asyncio.TimeoutError:
            outcome = Outcome(False, "the PBX did not answer in time")
        except (ConnectionError, OSError) as e:
            outcome = Outcome(False, f"the PBX is unreachable: {e}")
        except (redis.ConnectionError, redis.TimeoutError, asyncio.CancelledError):
            raise
        except Exception as e:
            log.exception("request %s: failed while performing", rid)
            outcome = Outcome(
                False,
                f"internal error while asking the PBX; it may or may not have acted "
                f"({type(e).__name__}: {str(e)[:200]})",
            )
        result = "ok" if outcome.ok else "failed"
        if not isinstance(req, Ack):  # done on the PBX: never again for this request (see handle_once)
            self.performed[rid] = (fields, result, detail, outcome.message, asyncio.get_running_loop().time())
            while len(self.performed) > PERFORMED_KEPT:
                self.performed.popitem(last=False)
        await self.audit(rid, fields, result, detail, outcome.message)
        return result

    def _fresh(self, req) -> None:
        """``at`` is aware (the model refuses a naive one); it must be recent and not from the future."""
        age = (self.clock.now() - req.at).total_seconds()
        if age > STALE_S:
            raise Refused(f"stale request (sent {utc(req.at)}, {age:.0f} s ago; the limit is {STALE_S} s)")
        if age < -FUTURE_S:
            raise Refused(f"request from the future (sent {utc(req.at)}): check the sender's clock")

    async def _first_time(self, rid: str, req) -> None:
        """Claim the request's id, for its user (another user's request of the same id is not a copy and cannot
        cancel it). The claim lives until the request could no longer pass ``_fresh`` anyway, so a copy is
        refused whenever it comes; it is also kept in this process, and made durable on the server's disk
        before the PBX is asked when the server can (WAITAOF). The same stream entry handed over again after
        a Redis restart is not a copy."""
        key = self._claim_key(req.user, req.id)
        mine = self.claimed.get(key)
        if mine is not None and mine != rid:
            raise Refused(f"duplicate: request id {req.id} was already handled (as {mine}); not done again")
        # relative: the server's clock need not be ours; at most STALE_S + 2 * FUTURE_S + 60 s
        ttl = max(60, int(req.at.timestamp() - self.clock.now().timestamp()) + STALE_S + FUTURE_S + 60)
        if await self.r.set(key, rid, nx=True, ex=ttl):
            self.claimed[key] = rid
            while len(self.claimed) > PERFORMED_KEPT:
                self.claimed.popitem(last=False)
            await self._durable()
            return
        first = await self.r.get(key)
        if first != rid:
            raise Refused(f"duplicate: request id {req.id} was already handled (as {first}); not done again")

    async def _durable(self) -> None:
        """Wait (up to 1 s) until the server has the claim in its append-only file, so a power cut cannot
        lose it and let the request be performed again. Servers without WAITAOF (before Redis 7.2) or without
        an AOF cannot: they are used as they are (docs/RELIABILITY.md)."""
        if not self._waitaof:
            return
        try:
            local, _replicas = await self.r.execute_command("WAITAOF", 1, 0, 1000)
        except redis.ResponseError as e:  # unknown command, or appendonly off
            log.info("WAITAOF not available (%s): request claims are as durable as the server's writes", e)
            self._waitaof = False
            return
        if not local:
            log.warning("the request claim was not on disk within 1 s; going on")

    async def _rate(self, user: str) -> None:
        minute = int(self.clock.now().timestamp() // 60)
        key = self.keys.rate(user, minute)
        n = await self.r.incr(key)
        if n == 1:
            await self.r.expire(key, 120)
        if n > self.config.security.action_rate_per_min:
            raise RateLimited(
                f"rate limit: more than {self.config.security.action_rate_per_min} requests a minute", user, minute
            )

    async def _rate_refused(self, rid: str, fields: dict, detail: str, e: RateLimited) -> None:
        """The first refusal for rate in a minute is audited as it comes; the rest of that minute's are counted
        and written as one summary entry (``flush_rate_summaries``), so a flood costs the audit one line."""
        key = (e.user, e.minute)
        if key not in self.rate_summaries:
            self.rate_summaries[key] = [0, "", ""]
            await self.audit(rid, fields, f"refused: {e} (further refusals this minute are summarised)", detail)
            return
        s = self.rate_summaries[key]
        s[0] += 1
        s[1] = s[1] or rid
        s[2] = rid

    async def flush_rate_summaries(self, force: bool = False) -> None:
        """Write the summary of every minute that has ended (all of them with ``force``)."""
        minute = int(self.clock.now().timestamp() // 60)
        for (_, m), (_seen, n, first, last) in sorted(self.unauthentic.items()):
            if m >= minute and not force:
                continue
            del self.unauthentic[("", m)]
            if n:
                since = utc(datetime.fromtimestamp(m * 60, tz=timezone.utc))
                await self.audit(
                    f"unauthentic:{m}",
                    {"type": "refusals"},
                    "refused: unauthenticated",
                    f"{n} more unauthenticated requests refused in the minute from {since} (entries {first} to {last})",
                )
        for (user, m), (n, first, last) in sorted(self.rate_summaries.items()):
            if m >= minute and not force:
                continue
            del self.rate_summaries[(user, m)]
            if n:
                since = utc(datetime.fromtimestamp(m * 60, tz=timezone.utc))
                await self.audit(
                    f"rate:{user}:{m}",
                    {"type": "rate", "user": user},
                    "refused: rate limit",
                    f"{n} more requests from {user} refused for rate in the minute from {since} "
                    f"(requests {first} to {last})",
                )

    async def _authorise(self, req) -> None:
        """The permission, on the queues the request concerns. An action on an agent is allowed only when the
        agent is, or is being moved into, one of the role's queues: an agent the centre does not know, or one
        in no queue, is refused (an empty list of queues would pass any check)."""
        if isinstance(req, Ack):
            permitted(self.config, req.user, req.type, [req.queue])
            return
        name = self._agent_name(req.agent)
        if not any(a.id == req.agent for a in self.config.agents) and not await self.r.exists(
            self.keys.agent_state(req.agent)
        ):
            raise Refused(f"unknown agent {req.agent!r}: not in the config and never seen by the PBX")
        queues = await self._agent_queues(req.agent)
        if isinstance(req, Move):
            if req.op != "add" and req.queue not in queues:
                raise Refused(f"{name} is not in {req.queue}")
            concerned = [req.queue]
        elif isinstance(req, Pause) and req.queue:
            if req.queue not in queues:
                raise Refused(f"{name} is not in {req.queue}")
            concerned = [req.queue]
        else:
            st = await self._agent_state(req.agent) if isinstance(req, (Spy, Takeover)) else {}
            if st.get("call_id") and not st.get("call_queue"):  # a call of no queue (outbound, direct)
                permitted(self.config, req.user, req.type, None)
                return
            concerned = [st["call_queue"]] if st.get("call_queue") else sorted(queues)
            if not concerned:
                raise Refused(f"{name} is in no queue")
        permitted(self.config, req.user, req.type, concerned)

    async def _on_a_call(self, req: Spy | Takeover) -> None:
        """The agent must be on a call now, as Redis has it when the request is performed: not whatever the
        sender's screen showed (an agent available or in wrap-up may still carry the last call's id, and a
        ChanSpy on them would listen to nothing, or to the next call unannounced). Every client is held to it:
        the desk, ``wallboard act``, the hub."""
        st = await self._agent_state(req.agent)
        state = st.get("state") or "unknown"
        if state not in CALL_STATES or not st.get("call_id"):
            raise Refused(f"{self._agent_name(req.agent)} is not on a call (state: {state})")

    def _agent_name(self, agent: str | None) -> str | None:
        a = next((x for x in self.config.agents if x.id == agent), None)
        return a.name if a and a.name else agent

    async def _call_words(self, req: Spy | Takeover) -> str | None:
        """The agent's call as the desk's confirmation named it (``(Billing, 2:45 so far)``), for the audit
        trail: a raw call id says nothing to whoever reads `wallboard audit`. None (the id is shown) when the
        agent is on no call or on another one than the request names."""
        st = await self._agent_state(req.agent)
        if not st.get("call_id") or (req.call_id and req.call_id != st["call_id"]):
            return None
        queue = st.get("call_queue") or None
        cfg = next((q for q in self.config.queues if q.name == queue), None)
        try:
            # from the whole second, as the snapshot keeps ``since`` and the desk's confirmation counts
            since = int(float(st["since"]))
            lasted = max(0.0, self.clock.now().timestamp() - since) if st.get("state") == "on_call" else None
        except (KeyError, ValueError):
            lasted = None
        return call_words((cfg.label or cfg.name) if cfg else queue, lasted)

    async def _agent_state(self, agent: str) -> dict:
        return await self.r.hgetall(self.keys.agent_state(agent))

    async def _agent_queues(self, agent: str) -> dict[str, int]:
        cfg = next((a for a in self.config.agents if a.id == agent), None)
        queues = dict(cfg.skills) if cfg else {}
        members = await self.r.hgetall(self.keys.agent_queues(agent))
        stamps = await self.r.hgetall(self.keys.agent_queues_ts(agent))
        for q in stamps:  # membership events override the configured skills, as in snapshots
            if q in members:
                queues[q] = int(float(members[q]))
            else:
                queues.pop(q, None)
        return queues

    async def _target(self, agent: str, by: str | None) -> Target:
        cfg = next((a for a in self.config.agents if a.id == agent), None)
        st = await self._agent_state(agent)
        return Target(
            agent,
            cfg.interface if cfg else None,
            (cfg.device or cfg.interface) if cfg else None,
            st.get("call_id") or None,
            by,
        )

    async def perform(self, rid: str, req) -> Outcome:
        if isinstance(req, Ack):
            # alert state belongs to the engine's owner: hand it the authorised command
            await self.r.xadd(
                self.alert_cmds,
                {
                    "type": req.type,
                    "queue": req.queue,
                    "metric": req.metric,
                    "user": req.user,
                    "until": utc(req.until) if req.until else "",
                    "request": rid,
                },
            )
            return Outcome(True, "handed to the engine")
        target = await self._target(req.agent, req.user)
        if isinstance(req, (Spy, Takeover)):
            user = next((u for u in self.config.users if u.name == req.user), None)
            if not user or not user.device:
                return Outcome(False, f"{req.user} has no phone configured (users.device) to listen on")
            if not target.call_id:
                return Outcome(False, f"{self._agent_name(req.agent)} is not on a call")
            if req.call_id and req.call_id != target.call_id:
                return Outcome(False, f"{self._agent_name(req.agent)} is no longer on that call (now on another)")
            if isinstance(req, Takeover):
                out = await self.backend.takeover(user.device, target)
                if out.ok:  # screens show who took the agent's call (``:takeovers``, kept an hour)
                    at = self.clock.now().timestamp()
                    item = json.dumps({"agent": req.agent, "by": req.user, "call_id": target.call_id}, sort_keys=True)
                    await self.r.zadd(self.keys.takeovers, {item: at})
                    await self.r.zremrangebyscore(self.keys.takeovers, "-inf", at - 3600)
                return out
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
            try:
                await self.schedule_revert(rid, req, before)
            except (redis.ConnectionError, redis.TimeoutError) as e:  # the move stands: say the undo does not
                log.warning("request %s: undo not scheduled: %s", rid, e)
                return Outcome(
                    True, _joined(out.message, f"{req.op} done; undo NOT scheduled (Redis: {e}): undo it by hand")
                )
            except Exception as e:
                log.exception("request %s: undo not scheduled", rid)
                return Outcome(
                    True,
                    _joined(
                        out.message,
                        f"{req.op} done; undo NOT scheduled ({type(e).__name__}: {str(e)[:200]}): undo it by hand",
                    ),
                )
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
            item = None
            try:
                item = json.loads(raw)
                target = await self._target(item["agent"], f"{item.get('user') or 'unknown'} (auto-revert)")
                if item["op"] == "remove":
                    out = await self.backend.queue_remove(target, item["queue"])
                elif item["op"] == "add":
                    out = await self.backend.queue_add(target, item["queue"], int(item["penalty"]))
                else:
                    out = await self.backend.queue_penalty(target, item["queue"], int(item["penalty"]))
            except (redis.ConnectionError, redis.TimeoutError, asyncio.CancelledError):
                with contextlib.suppress(redis.RedisError):  # taken, perhaps not done: due again at once
                    await self.r.zadd(self.reverts, {raw: now})
                raise
            except Exception as e:  # one bad undo must not stop the others, nor the executor
                log.exception("auto-revert %s failed", raw[:200])
                item = item if isinstance(item, dict) else {}
                out = Outcome(False, f"internal error ({type(e).__name__}: {str(e)[:200]})")
            fields = {
                "type": "move",
                "user": str(item.get("user", "")),
                "agent": str(item.get("agent", "")),
                "queue": str(item.get("queue", "")),
            }
            detail = f"auto-revert of {item.get('request', '?')}: {item.get('op', '?')} {item.get('queue', '?')}"
            await self.audit(
                f"{item.get('request', '?')}:revert", fields, "ok" if out.ok else "failed", detail, out.message
            )
            self.metrics.handled("revert", "ok" if out.ok else "failed")
            done += 1
        return done


def fair(entries: list) -> list:
    """``(id, fields, refusal)`` entries reordered round-robin by user, in arrival order within each user's: a
    user's backlog delays another user's request by at most one request per backlogged user, not by the whole
    backlog. Entries with a refusal (not authenticated: their user is only a claim) come after all the rest."""
    by_user: dict[str, list] = {}
    junk = []
    for entry in entries:
        if entry[2] is not None:
            junk.append(entry)
        else:
            by_user.setdefault((entry[1] or {}).get("user", ""), []).append(entry)
    out = []
    queues = list(by_user.values())
    for i in range(max((len(q) for q in queues), default=0)):
        out.extend(q[i] for q in queues if i < len(q))
    return out + junk


def _clip(value: str, limit: int = 128) -> str:
    """A request's field as the audit may carry it: printable, at most ``limit`` characters."""
    text = "".join(ch if ch.isprintable() else "?" for ch in str(value)[: limit + 1])
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _joined(*parts: str) -> str:
    return "; ".join(p for p in parts if p)
