"""Requests from the desk: acknowledge, snooze and the supervisor actions, built with the typed models of
``wallboard.actions.model`` (user, token and ``at`` on each) and XADDed to the request stream; the executor
authorises and performs them and writes the outcome to the audit stream, which the desk watches.

Also: where the desk's token comes from, the pending auto-reverts (``:reverts``) and the outcome of a request
(an audit entry). No Textual here.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from ..actions.model import Ack
from ..config import WallboardConfig
from ..keys import Keys
from ..snapshot import QueueSnapshot
from ..livetime import fmt_duration
from .words import ENGLISH, Words

ALERTING = ("breach", "warn")
TOKEN_ENV = "WALLBOARD_TOKEN"
TOKEN_FILE_ENV = "WALLBOARD_TOKEN_FILE"
NO_TOKEN = "no token: set WALLBOARD_TOKEN or WALLBOARD_TOKEN_FILE (`wallboard token --user NAME`)"
OUTCOME_TIMEOUT_S = 10.0
OK_RESULTS = ("ok", "applied")  # the executor's "ok"; an ack or snooze applied by the lease owner


# ---- the token ----------------------------------------------------------------------------------------------


def resolve_token(config: WallboardConfig, user: str, token: str | None = None) -> str:
    """The user's signed token: the argument, else $WALLBOARD_TOKEN, else the file $WALLBOARD_TOKEN_FILE names,
    else the variable the user's ``[[users]] token_env`` names; "" when there is none."""
    if token:
        return token.strip()
    if os.environ.get(TOKEN_ENV):
        return os.environ[TOKEN_ENV].strip()
    path = os.environ.get(TOKEN_FILE_ENV)
    if path:
        try:
            return Path(path).read_text(encoding="utf-8").strip()
        except OSError:
            return ""
    u = next((x for x in config.users if x.name == user), None)
    if u is not None and u.token_env and os.environ.get(u.token_env):
        return os.environ[u.token_env].strip()
    return ""


def token_problem(token: str, user: str, now: float | None = None) -> str | None:
    """What is visibly wrong with a token (the desk cannot check the signature; the executor does)."""
    if not token:
        return NO_TOKEN
    try:
        t_user, exp, _sig = token.split(".")
        exp_i = int(exp)
    except ValueError:
        return "the token is malformed: requests will be refused"
    if t_user != user:
        return f"the token is {t_user}'s, not {user}'s: requests will be refused"
    if exp_i <= (now if now is not None else time.time()):
        return "the token has expired: requests will be refused (`wallboard token --user NAME`)"
    return None


# ---- acknowledge and snooze ---------------------------------------------------------------------------------


def snoozed(alert, server_now: datetime) -> bool:
    until = alert.snoozed_until
    return until is not None and until > server_now


def alerting_metrics(q: QueueSnapshot, kind: str, server_now: datetime) -> list[str]:
    """The queue's metrics in warn or breach that an ``ack`` (or ``snooze``) would still change."""
    out = []
    for metric in sorted(set(q.levels) | set(q.alerts)):
        level = q.levels.get(metric) or (q.alerts[metric].level if metric in q.alerts else "ok")
        if level not in ALERTING:
            continue
        alert = q.alerts.get(metric)
        if kind == "ack" and alert is not None and alert.acked_by:
            continue
        if kind == "snooze" and alert is not None and snoozed(alert, server_now):
            continue
        out.append(metric)
    return out


def build_request(kind: str, queue: str, metric: str, user: str, now: datetime, snooze_minutes: float) -> Ack:
    """An ack or snooze request (sent with ``actions.submit.submit``, signed with the desk's token)."""
    until = now + timedelta(minutes=snooze_minutes) if kind == "snooze" else None
    return Ack(type=kind, queue=queue, metric=metric, user=user, at=now, until=until)


# ---- outcomes (the audit stream) --------------------------------------------------------------------------


def audit_key(keys: Keys) -> str:
    return keys.audit


def reverts_key(keys: Keys) -> str:
    return keys.reverts


def read_from(request_id: str, margin_ms: int = 1000) -> str:
    """Where to start reading the audit stream for the outcome of ``request_id``: a little before it (the two
    streams' ids come from one server clock, but an audit entry may share the request's millisecond)."""
    try:
        ms = int(request_id.split("-", 1)[0])
    except ValueError:
        return "0-0"
    return f"{max(0, ms - margin_ms)}-0"


@dataclass
class Pending:
    """Requests sent together (an ack of two metrics is two requests) and what came back so far."""

    label: str
    ids: list[str]
    deadline: float  # on the desk's monotonic clock
    results: dict[str, dict] = field(default_factory=dict)
    # called once with True when every outcome is ok, False on a refusal, a failure or no outcome in time: the
    # next step of a chain (an advised move) goes only after the one before it was done
    after: Callable[[bool], None] | None = None

    @property
    def done(self) -> bool:
        return all(i in self.results for i in self.ids)

    @property
    def ok(self) -> bool:
        return self.done and all(self.results[i].get("result", "") in OK_RESULTS for i in self.ids)

    def summary(self, w: Words = ENGLISH) -> tuple[str, str]:
        """(message, severity) once every outcome is in: ok, or the first refusal or failure with the PBX text."""
        for rid in self.ids:
            f = self.results[rid]
            result = f.get("result", "")
            if result not in OK_RESULTS:
                pbx = w("outcome_pbx", pbx=f["pbx"]) if f.get("pbx") else ""
                return w("outcome_bad", label=self.label, result=result, pbx=pbx), "error"
        return w("outcome_ok", label=self.label), "information"


def outcome_label(text: str) -> str:
    """The short form of a confirmation text for the outcome notice (the part before the dash)."""
    return text.split(" — ", 1)[0]


# ---- temporary moves ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Revert:
    """A pending auto-revert: ``op`` is the undo (remove | add | penalty) due at ``due`` (epoch seconds)."""

    agent: str
    queue: str
    op: str
    penalty: int | None
    due: float
    user: str = ""
    request: str = ""

    def left(self, now_epoch: float) -> str:
        """The countdown: ``m:ss`` until it reverts, or ``due`` once its time has come."""
        seconds = self.due - now_epoch
        return fmt_duration(seconds) if seconds > 0 else "due"


def parse_reverts(items: list[tuple[str, float]]) -> dict[str, list[Revert]]:
    """The ``:reverts`` zset (member JSON, score = due epoch) by agent, soonest first."""
    out: dict[str, list[Revert]] = {}
    for raw, score in items:
        try:
            d = json.loads(raw)
            r = Revert(
                agent=str(d["agent"]),
                queue=str(d["queue"]),
                op=str(d["op"]),
                penalty=int(d["penalty"]) if d.get("penalty") is not None else None,
                due=float(score),
                user=str(d.get("user", "")),
                request=str(d.get("request", "")),
            )
        except (ValueError, KeyError, TypeError):
            continue
        out.setdefault(r.agent, []).append(r)
    for lst in out.values():
        lst.sort(key=lambda r: (r.due, r.queue))
    return out


async def load_reverts(client, keys: Keys) -> dict[str, list[Revert]]:
    return parse_reverts(await client.zrange(reverts_key(keys), 0, -1, withscores=True))


# ---- calls taken over ---------------------------------------------------------------------------------------

TAKEOVER_SHOWN_S = 300  # an agent row says who took its call for this long


@dataclass(frozen=True)
class TakenOver:
    """A supervisor took the agent's call ``call_id`` at ``at`` (epoch seconds)."""

    agent: str
    by: str
    call_id: str
    at: float


def parse_takeovers(items: list[tuple[str, float]]) -> dict[str, TakenOver]:
    """The executor's ``:takeovers`` zset (member JSON, score = when), the latest per agent."""
    out: dict[str, TakenOver] = {}
    for raw, score in items:
        try:
            d = json.loads(raw)
            t = TakenOver(agent=str(d["agent"]), by=str(d["by"]), call_id=str(d.get("call_id") or ""), at=float(score))
        except (ValueError, KeyError, TypeError):
            continue
        if t.agent not in out or out[t.agent].at <= t.at:
            out[t.agent] = t
    return out


async def load_takeovers(client, keys: Keys, now_epoch: float) -> dict[str, TakenOver]:
    return parse_takeovers(
        await client.zrangebyscore(keys.takeovers, now_epoch - TAKEOVER_SHOWN_S, "+inf", withscores=True)
    )
