"""Scheduled delivery of the ``[[reports]]`` schedules, on an injected clock.

A schedule's period is **due** at its ``at`` time (local, the centre's zone) on the day after it ends: a daily
report of day D at ``at`` on D + 1, a weekly one on the first day of the next week, a monthly one on the 1st.
Each tick sends every due period of every schedule that is not sent yet, oldest first, from the first period
that became due after the schedule was first seen (so starting the scheduler does not mail old reports; a
restart or an outage does not skip any, within ``CATCH_UP`` periods).

Every attempt is recorded in Redis before the message goes out and again after, so a restarted scheduler
neither skips a report nor sends it twice -- except when it died during the send itself: then it sends again
with the same ``Message-ID`` (at-least-once; a receiver can drop the copy). Several schedulers may run: a lock
per (schedule, period) lets one of them send. A failed send is retried with exponential backoff
(``smtp.retry_initial_s`` doubling up to ``smtp.retry_max_s``), logged and recorded; ingest is not involved.

Its keys (delivery state, first period to send, log of every attempt, the sender's lock) are ``Keys.reports*``
and ``Keys.report_lock`` (``wallboard.keys``).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
import time
import uuid
from datetime import date, datetime, timedelta

import redis.asyncio as aredis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from ..clock import Clock, SystemClock
from ..config import ReportSchedule, WallboardConfig, parse_hhmm
from ..history.calendar import CentreCalendar, Period
from ..keys import Keys
from ..telemetry import Beat, SchedulerMetrics
from .build import ReportError, ReportRequest, build_report
from .mail import SmtpFailure, SmtpMailer, compose, stable_message_id
from .words import words

log = logging.getLogger(__name__)

_WORD = {"report": "report", "scorecard": "scorecards_title"}  # the subject's word for the schedule's kind
CATCH_UP = {"day": 7, "week": 4, "month": 3}  # most periods sent late after an outage, per schedule
LOCK_MS = 10 * 60 * 1000


class ReportScheduler:
    def __init__(
        self,
        client: aredis.Redis,
        config: WallboardConfig,
        *,
        keys: Keys | None = None,
        clock: Clock | None = None,
        mailer=None,
    ):
        self.r = client
        self.config = config
        self.keys = keys or Keys(config.redis.prefix)
        self.clock = clock or SystemClock()
        self.cal = CentreCalendar(config.centre)
        self.mailer = mailer or SmtpMailer(config.smtp)
        self.k_status = self.keys.reports
        self.k_since = self.keys.reports_since
        self.k_log = self.keys.reports_log
        self.token = uuid.uuid4().hex
        self.metrics = SchedulerMetrics()  # this process's figures for Prometheus (wallboard.telemetry)

    # -- time -----------------------------------------------------------------------------------------------

    def due_at(self, s: ReportSchedule, p: Period) -> datetime:
        return datetime.combine(p.last + timedelta(days=1), parse_hhmm(s.at), tzinfo=self.cal.tz)

    def latest_due(self, s: ReportSchedule, now: datetime) -> Period:
        today = now.astimezone(self.cal.tz).date()
        p = self.cal.last_complete(s.period, today)
        if self.due_at(s, p) > now:
            p = self.cal.period(s.period, p.first - timedelta(days=1))
        return p

    def _due_periods(self, s: ReportSchedule, now: datetime, since: date) -> list[Period]:
        out = []
        p = self.latest_due(s, now)
        while p.first >= since and len(out) < CATCH_UP[s.period]:
            out.append(p)
            p = self.cal.period(s.period, p.first - timedelta(days=1))
        return out[::-1]

    async def _since(self, s: ReportSchedule, now: datetime) -> date:
        got = await self.r.hget(self.k_since, s.name)
        if got:
            return date.fromisoformat(got)
        first = self.cal.next_period(self.latest_due(s, now)).first
        await self.r.hsetnx(self.k_since, s.name, first.isoformat())
        return date.fromisoformat(await self.r.hget(self.k_since, s.name))

    # -- state ----------------------------------------------------------------------------------------------

    async def status(self, s: ReportSchedule, p: Period) -> dict | None:
        raw = await self.r.hget(self.k_status, f"{s.name}|{p.key}")
        return json.loads(raw) if raw else None

    async def _record(self, s: ReportSchedule, p: Period, st: dict) -> None:
        pipe = self.r.pipeline(transaction=True)
        pipe.hset(self.k_status, f"{s.name}|{p.key}", json.dumps(st))
        pipe.xadd(
            self.k_log,
            {"schedule": s.name, "period": p.key, **{k: str(v) for k, v in st.items()}},
            maxlen=10_000,
            approximate=True,
        )
        await pipe.execute()

    def _backoff(self, failures: int) -> float:
        sm = self.config.smtp
        return min(sm.retry_initial_s * 2 ** max(0, failures - 1), sm.retry_max_s)

    # -- the work -------------------------------------------------------------------------------------------

    async def tick(self) -> list[dict]:
        """Send what is due now; returns one record per attempt made."""
        self.metrics.last_run.set(time.time())
        now = self.clock.now()
        done = []
        for s in self.config.reports:
            if not s.recipients:
                continue
            since = await self._since(s, now)
            for p in self._due_periods(s, now, since):
                st = await self.status(s, p)
                if st and st.get("state") == "sent":
                    continue
                if st and st.get("next_attempt") and datetime.fromisoformat(st["next_attempt"]) > now:
                    continue
                out = await self._attempt(s, p, st, now)
                if out is not None:
                    done.append(out)
        return done

    async def _attempt(self, s: ReportSchedule, p: Period, st: dict | None, now: datetime) -> dict | None:
        lock = self.keys.report_lock(s.name, p.key)
        if not await self.r.set(lock, self.token, nx=True, px=LOCK_MS):
            return None  # another scheduler is sending it
        try:
            st = await self.status(s, p)  # again, under the lock
            if st and st.get("state") == "sent":
                return None
            attempts = (st or {}).get("attempts", 0) + 1
            failures = (st or {}).get("failures", 0)
            mid = stable_message_id(self.keys.prefix, s.name, p.key, self.config.smtp.sender)
            base = {"attempts": attempts, "failures": failures, "message_id": mid, "last_attempt": now.isoformat()}
            await self._record(s, p, {**base, "state": "sending"})
            try:
                rep = await self._build(s, p)
                what = words(s.language)[_WORD[s.kind]]
                report = f"{s.name} {what}" if s.language == "en" else f"{what} {s.name}"
                subject = f"{self.config.centre.name} — {report} — {p.label()}"
                msg = compose(
                    rep,
                    sender=self.config.smtp.sender,
                    recipients=s.recipients,
                    subject=subject,
                    message_id=mid,
                    date=now,
                    lang=s.language,
                )
                await self.mailer.send(msg)
            except (SmtpFailure, ReportError) as e:
                failures += 1
                nxt = now + timedelta(seconds=self._backoff(failures))
                rec = {
                    **base,
                    "failures": failures,
                    "state": "failed",
                    "error": str(e),
                    "next_attempt": nxt.isoformat(),
                }
                await self._record(s, p, rec)
                log.warning(
                    "report %s for %s not sent (attempt %d): %s; next attempt %s",
                    s.name,
                    p.key,
                    attempts,
                    e,
                    nxt.isoformat(),
                )
                self.metrics.delivered(s.name, "failed")
                return {"schedule": s.name, "period": p.key, **rec}
            rec = {**base, "state": "sent", "sent_at": self.clock.now().isoformat(), "recipients": s.recipients}
            await self._record(s, p, rec)
            log.info("report %s for %s sent to %s", s.name, p.key, ", ".join(s.recipients))
            self.metrics.delivered(s.name, "sent")
            return {"schedule": s.name, "period": p.key, **rec}
        finally:
            if await self.r.get(lock) == self.token:
                await self.r.delete(lock)

    async def _build(self, s: ReportSchedule, p: Period) -> dict:
        """The schedule's document: the report, or the agents' scorecards built from it (a role's: its team)."""
        role = self.config.roles.get(s.role) if s.role else None
        team = role.queues if role is not None else None  # a role over every queue: the whole centre
        req = ReportRequest(
            p,
            queues=s.queues,
            agents=s.agents,
            detail="day" if s.kind == "scorecard" else "auto",  # a scorecard's rows are days (as the command's)
            team=team,
            team_name=s.role or "",
        )
        rep = await build_report(self.r, self.config, req, keys=self.keys, clock=self.clock)
        if s.kind == "scorecard":
            from .scorecard import scorecards

            return scorecards(rep, self.config, {"role": s.role, "queues": team} if team is not None else None)
        return rep

    async def next_wake(self) -> datetime:
        """When something may next be due: the next period's due time or a retry, whichever is first."""
        now = self.clock.now()
        wake = now + timedelta(days=1)
        for s in self.config.reports:
            if not s.recipients:
                continue
            wake = min(wake, self.due_at(s, self.cal.next_period(self.latest_due(s, now))))
            for p in self._due_periods(s, now, await self._since(s, now)):
                st = await self.status(s, p)
                if st and st.get("state") != "sent":
                    nxt = st.get("next_attempt")
                    wake = min(wake, datetime.fromisoformat(nxt) if nxt else now)
        return wake

    async def run(self, stop: asyncio.Event, poll_s: float = 30.0) -> None:
        """Tick until ``stop`` is set, sleeping until the next wake (at most ``poll_s``, on the wall clock)."""
        delay = 1.0
        beat = Beat(self.keys, "scheduler", f"{socket.gethostname()}-{os.getpid()}", max(10.0, 3 * poll_s))
        while not stop.is_set():
            try:
                await beat(self.r)
                await self.tick()
                wake = await self.next_wake()
                delay = 1.0
                wait = min(poll_s, max(0.5, (wake - self.clock.now()).total_seconds()))
            except (RedisConnectionError, RedisTimeoutError, OSError) as e:
                log.warning("scheduler: Redis unavailable (%s); retrying in %.0f s", e, delay)
                wait, delay = delay, min(delay * 2, 60.0)
            try:
                await asyncio.wait_for(stop.wait(), timeout=wait)
            except asyncio.TimeoutError:
                pass
        await beat.clear(self.r)  # (the mark behind `wallboard scheduler --check`)

    async def deliveries(self) -> list[dict]:
        raw = await self.r.hgetall(self.k_status)
        out = []
        for k, v in sorted(raw.items()):
            name, _, key = k.partition("|")
            out.append({"schedule": name, "period": key, **json.loads(v)})
        return out
