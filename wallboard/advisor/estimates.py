"""Live estimates per queue, read (never written) from the engine's minute buckets in Redis.

For each queue, at ``now``, from the buckets ``P:{q:NAME}:m:<minute>`` of the last ``history_minutes`` (the
current, unfinished minute included) and the callers waiting now (``P:{q:NAME}:waiting``):

- **arrival rate** — from ``entered`` (callers who joined), not from exits, which lag behind an overload.
  Smoothing: an exponentially weighted average of the per-minute rates, ``sum w_m entered_m / sum w_m
  exposure_m`` with ``w_m = 2^(-age_m / half_life)``, where ``exposure_m`` is 60 s (the current minute: the
  seconds elapsed in it) and ``age_m`` the age of the bucket's middle, in minutes. With the default half-life of
  5 minutes the last 5 minutes carry half the weight. It is the Poisson rate's maximum-likelihood estimate
  with discounted old minutes. Rests on the callers who joined in the history.
- **handle time** — ``(talk_s + wrap_s) / completed`` over the history (the queue's configured ``wrapup_s``
  is added per call when the PBX reports no wrap-up at all). Rests on the completed calls.
- **caller patience** — exponential patience, censoring-aware: every caller's time in queue is exposure
  (answered, abandoned and overflowed callers alike, and the callers still waiting, up to now), and only
  abandons are events, so ``rate = abandoned / total time in queue`` is the maximum-likelihood estimate of
  the abandonment rate and ``1 / rate`` the mean patience. Rests on the abandons.

**Observed from**: minutes before the centre's data begins are not exposure. The history is read from the
first minute in it with a bucket of any queue (the engine writes one for every minute with a call transition,
so in a working centre that is the history's start, and for an ingester started a few minutes ago it is the
minute of the first call it saw): counting the empty hour before as calm minutes would drag a fresh start's
arrival rate to a fraction of the real one. Each estimate's ``how`` says which span it rests on.

Each estimate carries the number of calls it rests on; below the configured minimum its value is ``None``
(the advisor then gives no figures for that queue, or, for patience alone, falls back to Erlang C).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from ..config import WallboardConfig
from ..keys import Keys


@dataclass(frozen=True)
class EstimateSettings:
    """How the estimates are made (defaults suit a live centre; the advise command exposes them)."""

    history_minutes: int = 60  # minute buckets read, for every estimate
    half_life_min: float = 5.0  # arrival-rate smoothing
    min_arrivals: int = 10  # callers who joined in the history
    min_completed: int = 10  # completed calls in the history (handle time)
    min_abandons: int = 5  # abandons in the history (patience)

    def __post_init__(self) -> None:
        if self.history_minutes < 1 or self.half_life_min <= 0:
            raise ValueError("history_minutes must be >= 1 and half_life_min > 0")
        if min(self.min_arrivals, self.min_completed, self.min_abandons) < 1:
            raise ValueError("the minimum counts must be >= 1")


class Estimate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    value: float | None = Field(description="None when it rests on too few calls.")
    n: int = Field(description="How many calls it rests on.")
    minimum: int
    how: str


class QueueEstimate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    queue: str
    at: float = Field(description="Epoch second of 'now'.")
    arrival_rate_per_s: Estimate
    aht_s: Estimate
    patience_s: Estimate
    waiting: int = 0
    history_s: float = Field(0.0, description="Seconds of history the estimates rest on (from the first data).")
    history_of_s: float = Field(0.0, description="Seconds of history read (settings.history_minutes).")

    @property
    def basis(self) -> str:
        """Which span of calls the estimates rest on, in words."""
        if self.history_s < self.history_of_s - 60:
            return f"the {self.history_s / 60:.0f} min of calls since the data began"
        return f"the last {self.history_of_s / 60:.0f} min of calls"

    @property
    def rate(self) -> float | None:
        return self.arrival_rate_per_s.value

    @property
    def aht(self) -> float | None:
        return self.aht_s.value

    @property
    def patience(self) -> float | None:
        return self.patience_s.value


def minutes_in_history(now: float, settings: EstimateSettings) -> list[int]:
    """Epoch seconds of the minute buckets read at ``now``: the last ``history_minutes`` whole minutes before
    the current one, and the current one when any of it has elapsed."""
    cur = int(now // 60) * 60
    first = cur - settings.history_minutes * 60
    return [m for m in range(first, cur + 1, 60) if m < now]


def _f(h: Mapping[str, object], k: str) -> float:
    v = h.get(k)
    return float(v) if v not in (None, "") else 0.0  # type: ignore[arg-type]


def observed_from(bucket_minutes: Iterable[int], now: float, settings: EstimateSettings) -> int:
    """The first minute of the history with data (``bucket_minutes``: minutes with a bucket, of any queue),
    or the history's start when there is none."""
    minutes = minutes_in_history(now, settings)
    return min((m for m in bucket_minutes if m >= minutes[0]), default=minutes[0]) if minutes else int(now)


def estimate_queue(
    queue: str,
    buckets: Mapping[int, Mapping[str, object]],
    waiting_since: Iterable[float],
    now: float,
    settings: EstimateSettings = EstimateSettings(),
    wrapup_s: float = 0.0,
    since: float | None = None,
) -> QueueEstimate:
    """The estimates from minute buckets (minute epoch -> counters) and the join times of the callers waiting
    now. ``since``: the first minute observed (``observed_from``); earlier minutes are not exposure. Pure;
    ``read_estimates`` feeds it from Redis."""
    every = minutes_in_history(now, settings)
    minutes = [m for m in every if since is None or m >= since]
    num = den = 0.0
    entered = completed = abandoned = 0
    talk = wrap = wait_all = 0.0
    for m in minutes:
        h = buckets.get(m) or {}
        exposure = min(60.0, now - m)
        age_min = (now - (m + exposure / 2.0)) / 60.0
        w = 0.5 ** (age_min / settings.half_life_min)
        e = _f(h, "entered")
        num += w * e
        den += w * exposure
        entered += int(e)
        completed += int(_f(h, "completed"))
        abandoned += int(_f(h, "abandoned"))
        talk += _f(h, "talk_s")
        wrap += _f(h, "wrap_s")
        wait_all += _f(h, "wait_all_s")
    waits_now = [max(0.0, now - j) for j in waiting_since]
    span_min = (now - minutes[0]) / 60.0 if minutes else 0.0
    if minutes and minutes[0] > every[0]:  # the data begins inside the history
        hist = f"{span_min:.0f} min since the first data (of {settings.history_minutes})"
    else:
        hist = f"last {settings.history_minutes} min"

    rate = num / den if den > 0 and entered >= settings.min_arrivals else None
    arrival = Estimate(
        value=rate,
        n=entered,
        minimum=settings.min_arrivals,
        how=f"entered, exponentially weighted by minute (half-life {settings.half_life_min:g} min), {hist}",
    )

    if completed >= settings.min_completed:
        if wrap == 0 and wrapup_s > 0:
            aht: float | None = talk / completed + wrapup_s
            how = f"talk_s / completed + configured wrapup_s {wrapup_s:g}, {hist}"
        else:
            aht = (talk + wrap) / completed
            how = f"(talk_s + wrap_s) / completed, {hist}"
    else:
        aht, how = None, f"(talk_s + wrap_s) / completed, {hist}"
    handle = Estimate(value=aht, n=completed, minimum=settings.min_completed, how=how)

    exposure_s = wait_all + sum(waits_now)
    pat = exposure_s / abandoned if abandoned >= settings.min_abandons and exposure_s > 0 else None
    patience = Estimate(
        value=pat,
        n=abandoned,
        minimum=settings.min_abandons,
        how=f"exponential MLE: time in queue of all callers ({exposure_s:.0f} s, incl. "
        f"{len(waits_now)} waiting now) / abandons, {hist}",
    )
    return QueueEstimate(
        queue=queue,
        at=now,
        arrival_rate_per_s=arrival,
        aht_s=handle,
        patience_s=patience,
        waiting=len(waits_now),
        history_s=span_min * 60.0,
        history_of_s=settings.history_minutes * 60.0,
    )


async def queue_names(client, config: WallboardConfig, keys: Keys) -> list[str]:
    """Configured queues in config order, then any others the engine has seen."""
    order = [q.name for q in config.queues]
    seen = set(await client.smembers(keys.queues))
    return order + sorted(seen - set(order))


async def read_estimates(
    client,
    config: WallboardConfig,
    now: datetime,
    settings: EstimateSettings = EstimateSettings(),
    keys: Keys | None = None,
    queues: list[str] | None = None,
) -> dict[str, QueueEstimate]:
    """Estimates for every queue (or ``queues``) at ``now``, read in one pipelined round trip; read-only."""
    keys = keys or Keys(config.redis.prefix)
    names = queues if queues is not None else await queue_names(client, config, keys)
    tnow = now.timestamp()
    minutes = minutes_in_history(tnow, settings)
    pipe = client.pipeline(transaction=False)
    for q in names:
        base = keys.queue(q)
        for m in minutes:
            pipe.hgetall(Keys.minute(base, m))
        pipe.zrange(keys.waiting(q), 0, -1, withscores=True)
    raw = await pipe.execute()
    per_queue: dict[str, tuple[dict, list[float]]] = {}
    pos = 0
    for q in names:
        buckets = {m: raw[pos + i] for i, m in enumerate(minutes)}
        pos += len(minutes)
        per_queue[q] = buckets, [float(score) for _, score in raw[pos]]
        pos += 1
    since = observed_from((m for b, _ in per_queue.values() for m, h in b.items() if h), tnow, settings)
    return {
        q: estimate_queue(q, b, waiting, tnow, settings, config.queue(q).wrapup_s, since=since)
        for q, (b, waiting) in per_queue.items()
    }
