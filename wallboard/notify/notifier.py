"""``wallboard notifier``: alert transitions from the published snapshots, delivered at least once, never twice.

**Detecting** (one notifier at a time: the one holding ``:notify:lease``, by name). It reads the published
summary (woken by the snapshot channel, and every second for the time-based escalation) and compares each
queue's ``alerts`` -- the lease owner's levels, hysteresis already applied -- with the episode it saw last
(``:notify:levels``). Transitions, per (queue, metric):

- ``warn`` / ``breach``: an alert appears at that level; ``breach`` also when a warn rises to breach or a new
  breach alert follows a step down to warn (a new ``since``);
- ``escalation``: a breach neither acknowledged (``alerts[metric].acked_by``) nor snoozed ``escalate_after_s``
  after its ``since`` (per subscription: one escalation per distinct delay);
- ``resolved``: the alert is gone (back to ok, or the queue closed). A breach stepping down to warn is still the
  same alert: ``resolved`` comes when it ends.

Each transition is written in one MULTI/EXEC, watched on the lease and on the transition's once-marker
(``:notify:t:<tid>``): the new episode state, one outbox entry per delivery (transition, subscription,
channel), the delivery records, what each subscription was last sent (``:notify:last``), the audit. A crash
before EXEC leaves nothing (the transition is found again), after it everything: a transition is emitted once.

Per subscription, when the transition is emitted (the notifier's clock): the subscription's events, queues and
metrics; quiet hours (suppressed unless the event is in ``quiet_allow``); no second message of one kind for one
(queue, metric) within ``repeat_window_s``; ``resolved`` only to a subscription that was told something of that
alert. Suppressed deliveries are recorded, counted and audited too.

**Delivering** (every notifier; consumer group ``senders`` on ``:notify:outbox``). Before a send the delivery's
record ``:notify:d:<did>`` is claimed (WATCH/MULTI: state ``claimed``, by whom, until ``now + claim_s``); after
it, ``sent`` + XACK + counters + audit in one MULTI. A ``sent`` record is never sent again. A failure is
audited, the entry acknowledged and the delivery put in ``:notify:retry`` (a zset by due time) with the
project's jittered backoff (``retry_initial_s`` doubling to ``retry_max_s``); after ``max_attempts`` or a
permanent failure (HTTP 4xx, missing secret) it is given up (audited). A notifier that dies after claiming --
before or during the send -- leaves the entry pending (or in the retry zset) and the record ``claimed``: its
restart (same name) takes it over at once, another notifier after ``claim_s``; the message goes out then, so
a death *during* a send may send it twice: bodies carry the delivery id (``Idempotency-Key``, a stable
Message-ID) for the receiver to drop the copy.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import socket
import uuid
from datetime import datetime, timedelta

import redis.asyncio as aredis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError, WatchError
from redis.exceptions import TimeoutError as RedisTimeoutError

from ..backoff import Backoff, redis_backoff
from ..clock import Clock, SystemClock
from ..config import WallboardConfig
from ..events import utc
from ..keys import Keys
from ..snapshot import Summary
from ..telemetry import Beat, NotifierMetrics
from .channels import DeliveryError, MailSender, WebhookSender, metric_label
from .settings import Subscription

log = logging.getLogger(__name__)

GROUP = "senders"
LEASE_MS = 5000
OUTBOX_MAXLEN = 100_000


def _epoch(dt: datetime) -> int:
    return int(dt.timestamp())


def _parse(ts: str | None) -> datetime | None:
    """A time of the notifier's own records (the alert's published text)."""
    return datetime.fromisoformat(ts.replace("Z", "+00:00")) if ts else None


class _Hours:
    """Quiet hours in the shape ``hours.is_open`` reads (a ``hours`` mapping)."""

    def __init__(self, hours: dict[str, str]):
        self.hours = hours


class Notifier:
    def __init__(
        self,
        client: aredis.Redis,
        config: WallboardConfig,
        *,
        keys: Keys | None = None,
        clock: Clock | None = None,
        name: str | None = None,
        webhook=None,
        mail=None,
        rng: random.Random | None = None,
        lease_ms: int = LEASE_MS,
    ):
        self.r = client
        self.config = config
        self.cfg = config.notifications
        self.keys = keys or Keys(config.redis.prefix)
        self.clock = clock or SystemClock()
        self.name = name or f"{socket.gethostname()}-notifier"
        self.token = uuid.uuid4().hex  # this incarnation
        self.webhook = webhook or WebhookSender(self.cfg)
        self.mail = mail or MailSender(config.smtp)
        self.rng = rng or random.Random()
        self.lease_ms = lease_ms
        self.keep_s = int(self.cfg.keep_h * 3600)
        self._group_ok = False
        self.metrics = NotifierMetrics()  # this process's figures for Prometheus (wallboard.telemetry)

    # ---- subscriptions ------------------------------------------------------------------------------------

    def subscriptions(self, queue: str, metric: str) -> list[Subscription]:
        return [
            s
            for s in self.cfg.subscriptions
            if (not s.queues or queue in s.queues) and (not s.metrics or metric in s.metrics)
        ]

    def escalate_after(self, s: Subscription) -> float:
        return s.escalate_after_s or self.cfg.escalate_after_s

    def quiet(self, s: Subscription, now: datetime) -> bool:
        from zoneinfo import ZoneInfo

        from ..hours import is_open

        if not s.quiet_hours:
            return False
        tz = ZoneInfo(s.timezone) if s.timezone else self.config.centre.tz
        return is_open(_Hours(s.quiet_hours), now, tz)  # type: ignore[arg-type]

    # ---- detecting -----------------------------------------------------------------------------------------

    async def acquire_lease(self) -> bool:
        k = self.keys.notify_lease
        if await self.r.set(k, self.name, nx=True, px=self.lease_ms):
            return True
        if await self.r.get(k) == self.name:  # ours (this process, or its restart under the same name)
            await self.r.pexpire(k, self.lease_ms)
            return True
        return False

    async def read_summary(self) -> Summary | None:
        raw = await self.r.get(self.keys.summary)
        if not raw:
            return None
        try:
            return Summary.model_validate_json(raw)
        except ValueError as e:
            log.warning("notifier: ignored a malformed summary: %s", str(e)[:200])
            return None

    async def detect(self, summary: Summary | None = None) -> list[dict]:
        """Compare the summary (default: the published one) with the episodes seen last; emit the transitions.
        Returns one record per transition emitted (empty when another notifier holds the lease)."""
        if summary is None:
            summary = await self.read_summary()
        if summary is None:
            return []
        held = await self.acquire_lease()
        self.metrics.detector.set(int(held))
        if not held:
            return []
        now = self.clock.now()
        seen = {k: json.loads(v) for k, v in (await self.r.hgetall(self.keys.notify_levels)).items()}
        out: list[dict] = []
        for qname, q in summary.queues.items():
            metrics = set(q.alerts) | {k.rpartition("|")[2] for k in seen if k.rpartition("|")[0] == qname}
            for metric in sorted(metrics):
                field = f"{qname}|{metric}"
                prev = seen.get(field)
                transitions, state = self._step(qname, metric, q, prev, now)
                if transitions or state != prev:
                    emitted = await self._emit(field, transitions, state, summary, q, now)
                    for t in emitted:
                        self.metrics.transitions.labels(t["kind"]).inc()
                    out += emitted
        return out

    def _step(self, qname: str, metric: str, q, prev: dict | None, now: datetime) -> tuple[list[dict], dict | None]:
        alert = q.alerts.get(metric)
        level = alert.level if alert is not None and alert.level in ("warn", "breach") else "ok"
        if level == "ok":
            if prev is None:
                return [], None
            closed = q.levels.get(metric) == "closed" or not q.open
            return [
                {
                    "kind": "resolved",
                    "since": prev["episode"],
                    "episode": prev["episode"],
                    "closed": closed,
                    "level": prev["level"],
                    "acked_by": prev.get("acked_by"),
                }
            ], None
        since = utc(alert.since)  # the notifier's records keep the published text (stored as JSON, compared)
        acked = alert.acked_by
        if prev is None:
            state = {"episode": since, "level": level, "since": since, "esc": [], "acked_by": acked}
            trs = [{"kind": level, "since": since, "episode": since, "level": level}]
        elif level == "breach" and (prev["level"] != "breach" or prev["since"] != since):
            state = {**prev, "level": "breach", "since": since, "esc": [], "acked_by": acked}
            trs = [{"kind": "breach", "since": since, "episode": prev["episode"], "level": "breach"}]
        else:
            state = {**prev, "level": level, "since": since, "acked_by": acked}
            if prev["since"] != since:
                state["esc"] = []
            trs = []
        snoozed = alert.snoozed_until is not None and alert.snoozed_until > now
        if level == "breach" and not acked and not snoozed:
            age = (now - _parse(since)).total_seconds()
            delays = sorted(
                {self.escalate_after(s) for s in self.subscriptions(qname, metric) if "escalation" in s.events}
            )
            for d in delays:
                if d not in state["esc"] and age >= d:
                    state = {**state, "esc": [*state["esc"], d]}
                    trs.append(
                        {
                            "kind": "escalation",
                            "since": since,
                            "episode": state["episode"],
                            "level": "breach",
                            "delay": d,
                            "duration_s": age,
                        }
                    )
        return trs, state

    def _tid(self, qname: str, metric: str, tr: dict) -> str:
        kind = tr["kind"] if tr["kind"] != "escalation" else f"esc{tr['delay']:g}"
        return f"{qname}|{metric}|{_epoch(_parse(tr['since']))}|{kind}"

    def _note(self, qname: str, metric: str, tr: dict, summary: Summary, q, now: datetime) -> dict:
        from ..thresholds import _value

        t = self.config.queue(qname).thresholds.get(metric)
        figures = q.model_dump()
        value = _value(metric, t, figures) if t is not None else figures.get(metric)
        since = _parse(tr["since"])
        tz = self.config.centre.tz
        start = _parse(tr["episode"])
        duration = tr.get("duration_s", (now - (start if tr["kind"] == "resolved" else since)).total_seconds())
        return {
            "transition": self._tid(qname, metric, tr),
            "kind": tr["kind"],
            "centre": self.config.centre.name,
            "queue": qname,
            "queue_label": q.label or self.config.queue(qname).label or qname,
            "metric": metric,
            "metric_label": metric_label(metric),
            "level": tr["level"],
            "value": value,
            "warn": t.warn if t else None,
            "breach": t.breach if t else None,
            "direction": t.direction if t else "above",
            "window": t.window if t else None,
            "since": tr["since"],
            "local_since": since.astimezone(tz).strftime("%H:%M"),
            "at": utc(now),
            "acked_by": tr.get("acked_by"),
            "duration_s": round(max(0.0, duration), 1),
            "closed": bool(tr.get("closed")),
            "link": self.cfg.link,
        }

    def _plan(self, qname: str, metric: str, tr: dict, last: dict[str, dict], now: datetime) -> list[tuple]:
        """(subscription, decision, why) for each subscription the transition concerns; updates ``last``."""
        kind, out = tr["kind"], []
        for s in self.subscriptions(qname, metric):
            if kind == "escalation":
                if "escalation" not in s.events or self.escalate_after(s) != tr["delay"]:
                    continue
            elif kind not in s.events:
                continue
            field = f"{s.key}|{qname}|{metric}"
            rec = dict(last.get(field) or {"episode": None, "told": False, "sent": {}})
            if rec["episode"] != tr["episode"]:
                rec = {"episode": tr["episode"], "told": False, "sent": rec.get("sent", {})}
            if kind == "resolved" and not rec["told"]:
                why = "unannounced"  # nothing of this alert reached them: no 'resolved' out of the blue
            elif self.quiet(s, now) and kind not in s.quiet_allow:
                why = "quiet_hours"
            elif (
                kind != "resolved" and now.timestamp() - rec["sent"].get(kind, float("-inf")) < self.cfg.repeat_window_s
            ):
                why = "repeat"
            else:
                why = None
                rec["sent"] = {**rec["sent"], kind: now.timestamp()}
                rec["told"] = kind != "resolved"
            last[field] = rec
            out.append((s, why, field))
        return out

    async def _emit(
        self, field: str, transitions: list[dict], state: dict | None, summary: Summary, q, now: datetime
    ) -> list[dict]:
        """The (queue, metric)'s new episode state and its transitions, in one transaction."""
        qname, _, metric = field.rpartition("|")
        k = self.keys
        tids = [self._tid(qname, metric, tr) for tr in transitions]
        async with self.r.pipeline(transaction=True) as pipe:
            try:
                await pipe.watch(k.notify_lease, *[k.notify_transition(t) for t in tids])
                if await pipe.get(k.notify_lease) != self.name:
                    return []
                fields = [f"{s.key}|{qname}|{metric}" for s in self.subscriptions(qname, metric)]
                vals = await pipe.hmget(k.notify_last, fields) if fields and tids else []
                last = {f: json.loads(v) for f, v in zip(fields, vals) if v}
                todo = []
                for tid, tr in zip(tids, transitions):
                    if await pipe.exists(k.notify_transition(tid)):
                        continue  # emitted already (a racing detector): its deliveries are on their way
                    todo.append(
                        (
                            tid,
                            tr,
                            self._plan(qname, metric, tr, last, now),
                            self._note(qname, metric, tr, summary, q, now),
                        )
                    )
                pipe.multi()
                if state is None:
                    pipe.hdel(k.notify_levels, field)
                else:
                    pipe.hset(k.notify_levels, field, json.dumps(state, sort_keys=True))
                for lf, rec in last.items():
                    pipe.hset(k.notify_last, lf, json.dumps(rec, sort_keys=True))
                for tid, tr, plan, note in todo:
                    self._queue(pipe, tid, tr, plan, note, qname, metric, now)
                await pipe.execute()
            except WatchError:
                return []  # the lease or a marker moved under us: the next pass decides again
        out = []
        for tid, tr, plan, _ in todo:
            log.info(
                "notifier: %s %s (%s)",
                tr["kind"],
                field,
                ", ".join(f"{s.key}: {why or 'queued'}" for s, why, _ in plan) or "nobody subscribed",
            )
            out.append(
                {
                    "transition": tid,
                    "kind": tr["kind"],
                    "queue": qname,
                    "metric": metric,
                    "deliveries": [
                        {"subscription": s.key, "channels": [c.label for c in s.channels], "suppressed": why}
                        for s, why, _ in plan
                    ],
                }
            )
        return out

    def _queue(
        self, pipe, tid: str, tr: dict, plan: list[tuple], note: dict, qname: str, metric: str, now: datetime
    ) -> None:
        k = self.keys
        pipe.set(k.notify_transition(tid), utc(now), ex=self.keep_s)
        pipe.hincrby(k.notify_counters, "transitions", 1)
        for s, why, _ in plan:
            for ch in s.channels:
                did = f"{tid}|{s.key}|{ch.label}"
                base = {
                    "delivery": did,
                    "transition": tid,
                    "kind": tr["kind"],
                    "queue": qname,
                    "metric": metric,
                    "subscription": s.key,
                    "user": s.user,
                    "channel": ch.label,
                    "channel_kind": ch.kind,
                    "at": utc(now),
                    "attempts": 0,
                }
                pipe.zadd(k.notify_index, {did: now.timestamp()})
                if why:
                    pipe.set(
                        k.notify_delivery(did),
                        json.dumps({**base, "state": "suppressed", "reason": why}),
                        ex=self.keep_s,
                    )
                    pipe.hincrby(k.notify_counters, f"suppressed:{why}", 1)
                    self._audit(pipe, base, f"suppressed: {why}")
                    continue
                pipe.set(k.notify_delivery(did), json.dumps({**base, "state": "queued"}), ex=self.keep_s)
                body = {**note, "id": did, "subscription": s.key, "user": s.user}
                entry = {
                    "delivery": did,
                    "subscription": s.key,
                    "channel": ch.label,
                    "note": json.dumps(body, sort_keys=True),
                }
                pipe.xadd(k.notify_outbox, entry, maxlen=OUTBOX_MAXLEN, approximate=True)
                self._audit(pipe, base, "queued")

    def _audit(self, pipe, rec: dict, result: str) -> None:
        fields = {
            "type": "notify",
            "kind": rec["kind"],
            "user": rec["user"],
            "queue": rec["queue"],
            "metric": rec["metric"],
            "subscription": rec["subscription"],
            "channel": rec["channel"],
            "delivery": rec["delivery"],
            "attempt": str(rec.get("attempts", 0)),
            "at": utc(self.clock.now()),
            "result": result[:300],
        }
        pipe.xadd(self.keys.audit, fields)

    # ---- delivering ----------------------------------------------------------------------------------------

    async def ensure_group(self) -> None:
        if self._group_ok:
            return
        try:
            await self.r.xgroup_create(self.keys.notify_outbox, GROUP, id="0", mkstream=True)
        except ResponseError as e:
            if "BUSYGROUP" not in str(e):
                raise
        self._group_ok = True

    async def deliver(self, batch: int = 100) -> list[dict]:
        """One pass: this name's pending entries (a previous incarnation's), others' entries stale for
        ``claim_s``, new entries, due retries. Returns one record per attempt made."""
        await self.ensure_group()
        k, out = self.keys, []
        try:
            work: list[tuple[str, dict | None]] = []
            for _, entries in await self.r.xreadgroup(GROUP, self.name, {k.notify_outbox: "0"}, count=batch) or []:
                work += entries
            claimed = await self.r.xautoclaim(
                k.notify_outbox, GROUP, self.name, int(self.cfg.claim_s * 1000), start_id="0-0", count=batch
            )
            work += claimed[1] if claimed else []
            for _, entries in await self.r.xreadgroup(GROUP, self.name, {k.notify_outbox: ">"}, count=batch) or []:
                work += entries
        except ResponseError as e:
            if "NOGROUP" in str(e):  # the stream or group was lost (a Redis restart without persistence)
                self._group_ok = False
            raise
        done: set[str] = set()
        for eid, fields in work:
            if eid in done:
                continue
            done.add(eid)
            rec = await self._attempt(eid, fields, from_retry=False)
            if rec:
                out.append(rec)
        now = self.clock.now()
        for eid in await self.r.zrangebyscore(k.notify_retry, "-inf", now.timestamp(), start=0, num=batch):
            got = await self.r.xrange(k.notify_outbox, eid, eid)
            rec = await self._attempt(eid, got[0][1] if got else None, from_retry=True)
            if rec:
                out.append(rec)
        return out

    def _channel(self, sub_key: str, label: str):
        for s in self.cfg.subscriptions:
            if s.key == sub_key:
                for ch in s.channels:
                    if ch.label == label:
                        return s, ch
        return None, None

    async def _attempt(self, eid: str, fields: dict | None, *, from_retry: bool) -> dict | None:
        k = self.keys
        if not fields:  # trimmed from the outbox (kept far longer than any retry): nothing left to send
            async with self.r.pipeline(transaction=True) as pipe:
                pipe.xack(k.notify_outbox, GROUP, eid)
                pipe.zrem(k.notify_retry, eid)
                await pipe.execute()
            return None
        did = fields["delivery"]
        mk = k.notify_delivery(did)
        now = self.clock.now()
        # claim: WATCH the record, take it unless sent, given up, or claimed by a live other
        async with self.r.pipeline(transaction=True) as pipe:
            try:
                await pipe.watch(mk)
                raw = await pipe.get(mk)
                rec = json.loads(raw) if raw else None
                state = rec.get("state") if rec else None
                if rec is None or state in ("sent", "failed", "suppressed"):
                    # done (or its record expired after keep_h): never again
                    pipe.multi()
                    pipe.xack(k.notify_outbox, GROUP, eid)
                    pipe.zrem(k.notify_retry, eid)
                    await pipe.execute()
                    return None
                if state == "retrying" and not from_retry:
                    pipe.multi()  # the retry zset owns it now
                    pipe.xack(k.notify_outbox, GROUP, eid)
                    await pipe.execute()
                    return None
                if state == "retrying" and _parse(rec.get("next_attempt")) > now:
                    return None
                retaken = False
                if state == "claimed":
                    mine_dead = rec.get("by") == self.name and rec.get("token") != self.token
                    if not mine_dead and _parse(rec["until"]) > now:
                        return None  # a live notifier is sending it
                    retaken = True
                rec = {
                    **rec,
                    "state": "claimed",
                    "by": self.name,
                    "token": self.token,
                    "until": utc(now + timedelta(seconds=self.cfg.claim_s)),
                    "attempts": rec.get("attempts", 0) + 1,
                }
                pipe.multi()
                pipe.set(mk, json.dumps(rec), keepttl=True)
                if retaken:
                    pipe.hincrby(k.notify_counters, "retaken", 1)
                    self._audit(pipe, rec, "retaken: its notifier stopped after claiming it (sending again)")
                await pipe.execute()
            except WatchError:
                return None  # another notifier claimed it first
        sub, ch = self._channel(fields["subscription"], fields["channel"])
        note = json.loads(fields["note"])
        try:
            if ch is None:
                raise DeliveryError("the subscription or channel is no longer configured", permanent=True)
            if ch.kind == "email":
                detail = await self.mail.send(ch, note, now)
            else:
                detail = await self.webhook.send(ch, note)
        except DeliveryError as e:
            return await self._failed(eid, mk, rec, e)
        except Exception as e:  # noqa: BLE001 - a sender's bug is this delivery's failure, not the notifier's end
            return await self._failed(eid, mk, rec, DeliveryError(f"{type(e).__name__}: {str(e)[:160]}"))
        return await self._sent(eid, mk, rec, detail)

    async def _sent(self, eid: str, mk: str, rec: dict, detail: str) -> dict:
        k, now = self.keys, self.clock.now()
        cur = await self.r.get(mk)
        if cur and json.loads(cur).get("token") != self.token:
            detail += " (its claim had lapsed: another notifier may send it too)"
        rec = {**rec, "state": "sent", "sent_at": utc(now), "detail": detail, "error": None, "next_attempt": None}
        rec.pop("until", None)
        async with self.r.pipeline(transaction=True) as pipe:
            pipe.set(mk, json.dumps(rec), keepttl=True)
            pipe.xack(k.notify_outbox, GROUP, eid)
            pipe.zrem(k.notify_retry, eid)
            pipe.hincrby(k.notify_counters, "sent", 1)
            pipe.hincrby(k.notify_counters, f"sent:{rec['channel_kind']}", 1)
            self._audit(pipe, rec, f"sent: {detail}")
            await pipe.execute()
        log.info("notifier: sent %s", rec["delivery"])
        self.metrics.delivered(rec.get("channel_kind", ""), "sent")
        return rec

    async def _failed(self, eid: str, mk: str, rec: dict, e: DeliveryError) -> dict:
        k, now = self.keys, self.clock.now()
        attempts = rec["attempts"]
        give_up = e.permanent or attempts >= self.cfg.max_attempts
        rec = {**rec, "error": str(e)}
        rec.pop("until", None)
        async with self.r.pipeline(transaction=True) as pipe:
            pipe.xack(k.notify_outbox, GROUP, eid)
            if give_up:
                rec.update(state="failed", next_attempt=None)
                pipe.zrem(k.notify_retry, eid)
                pipe.hincrby(k.notify_counters, "gave_up", 1)
                why = "permanent failure" if e.permanent else f"{attempts} attempts"
                self._audit(pipe, rec, f"gave_up ({why}): {e}")
            else:
                b = Backoff(self.cfg.retry_initial_s, self.cfg.retry_max_s, self.rng)
                b.n = attempts - 1
                nxt = now + timedelta(seconds=b.next())
                rec.update(state="retrying", next_attempt=utc(nxt) if nxt.microsecond == 0 else nxt.isoformat())
                pipe.zadd(k.notify_retry, {eid: nxt.timestamp()})
                self._audit(pipe, rec, f"failed: {e}; next attempt {rec['next_attempt']}")
            pipe.hincrby(k.notify_counters, "failed", 1)
            pipe.set(mk, json.dumps(rec), keepttl=True)
            await pipe.execute()
        self.metrics.delivered(rec.get("channel_kind", ""), "gave_up" if give_up else "failed")
        log.warning(
            "notifier: %s not delivered (attempt %d): %s%s",
            rec["delivery"],
            attempts,
            e,
            "; given up" if give_up else f"; next attempt {rec['next_attempt']}",
        )
        return rec

    # ---- the loop and the listing ------------------------------------------------------------------------

    async def step(self) -> tuple[list[dict], list[dict]]:
        """Detect (when holding the lease), then deliver what is due; prune old delivery records."""
        transitions = await self.detect()
        sent = await self.deliver()
        await self.r.zremrangebyscore(self.keys.notify_index, "-inf", self.clock.now().timestamp() - self.keep_s)
        return transitions, sent

    async def run(self, stop: asyncio.Event, poll_s: float = 1.0) -> None:
        """Until ``stop``: a step on every published snapshot, and at least every ``poll_s`` (escalations and
        retries are due on time alone). Rides out Redis restarts with the project's backoff."""
        backoff = redis_backoff(self.config)
        beat = Beat(self.keys, "notifier", self.name, max(10.0, 3 * poll_s))  # for --check
        while not stop.is_set():
            pubsub = self.r.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(self.keys.channel)
                backoff.reset()
                while not stop.is_set():
                    await beat(self.r)
                    await self.step()
                    msg = await pubsub.get_message(timeout=poll_s)
                    while msg is not None:  # coalesce: the step reads the latest summary anyway
                        msg = await pubsub.get_message(timeout=0)
            except asyncio.CancelledError:
                raise
            except (RedisConnectionError, RedisTimeoutError, OSError, ResponseError) as e:
                delay = backoff.next()
                log.warning("notifier: Redis unavailable (%s); retrying in %.1f s", e, delay)
                self._group_ok = False
                try:
                    await asyncio.wait_for(stop.wait(), timeout=delay)
                except asyncio.TimeoutError:
                    pass
            finally:
                try:
                    await pubsub.aclose()
                except Exception:  # noqa: BLE001
                    log.debug("pubsub close failed", exc_info=True)
        await beat.clear(self.r)  # (the mark behind `wallboard notifier --check`)

    async def status(self, last: int = 50) -> dict:
        k = self.keys
        ids = await self.r.zrevrange(k.notify_index, 0, last - 1)
        raws = await self.r.mget([k.notify_delivery(i) for i in ids]) if ids else []
        rows = [json.loads(r) for r in raws if r]
        counters = {f: int(v) for f, v in (await self.r.hgetall(k.notify_counters)).items()}
        try:
            pending = (await self.r.xpending(k.notify_outbox, GROUP))["pending"]
        except ResponseError:
            pending = 0
        return {
            "counters": counters,
            "retrying": await self.r.zcard(k.notify_retry),
            "pending": pending,
            "detector": await self.r.get(k.notify_lease),
            "deliveries": rows,
        }


def notify_problems(config: WallboardConfig) -> list[tuple[str, str]]:
    """Names in ``[notifications]`` that match nothing: a queue without a [[queues]] entry (when queues are
    listed), a metric no listed queue has a threshold for."""
    out = []
    queues = {q.name for q in config.queues}
    metrics = {m for q in config.queues for m in q.thresholds}
    for i, s in enumerate(config.notifications.subscriptions):
        for q in s.queues:
            if queues and q not in queues:
                out.append((f"notifications.subscriptions.{i}.queues", f"queue {q!r} has no [[queues]] entry"))
        for m in s.metrics:
            if queues and m not in metrics:
                out.append((f"notifications.subscriptions.{i}.metrics", f"no queue has a threshold for {m!r}"))
    return out
