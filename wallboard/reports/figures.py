"""Report figures from rolled-up counters. Every queue ratio is ``wallboard.metrics``'s, so the report and the
live snapshot compute each number the same way; the agent ratio (occupancy) is defined here, beside them.
"""

from __future__ import annotations

from typing import Mapping

from .. import metrics
from ..config import QueueConfig
from ..events import OVERFLOW_REASONS

QUEUE_COUNTS = ("entered", "offered", "answered", "answered_within_sl", "abandoned", "short_abandoned",
                "abandoned_within_sl", "overflowed", "completed", "callbacks_done")  # fmt: skip
QUEUE_SECONDS = ("talk_s", "wrap_s", "wait_answered_s", "wait_all_s")
QUEUE_RATIOS = ("service_level", "asa_s", "avg_wait_s", "abandon_rate", "aht_s")
AGENT_COUNTS = ("calls_handled", "missed", "outbound_calls", "dial_attempts")
AGENT_SECONDS = ("talk_s", "wrap_s", "available_s", "ringing_s", "pause_s")


def occupancy(c: Mapping[str, float]) -> metrics.Ratio:
    """(talk + wrap-up) / (talk + wrap-up + available), from seconds in each agent state. Ringing, paused and
    logged-out time are in neither part. (Belongs in ``wallboard.metrics`` beside the queue ratios.)"""
    busy = c.get("on_call_s", 0) + c.get("wrap_up_s", 0)
    den = busy + c.get("available_s", 0)
    return metrics.Ratio(busy / den if den else None, busy, den,
                         "(on_call_s + wrap_up_s) / (on_call_s + wrap_up_s + available_s)")  # fmt: skip


def queue_figures(c: Mapping[str, float], q: QueueConfig) -> dict:
    """Counters, overflow by reason, the ratios by the queue's own SL formula, and the peak waiting."""
    fig: dict = {k: int(c.get(k, 0)) for k in QUEUE_COUNTS if k != "offered"}
    fig["offered"] = int(metrics.offered(c))
    fig["overflowed_by_reason"] = {r: int(c[f"overflowed:{r}"]) for r in OVERFLOW_REASONS if c.get(f"overflowed:{r}")}
    for k in QUEUE_SECONDS:
        fig[k] = round(c.get(k, 0.0), 3)
    sl = metrics.service_level(c, q.sl_formula, q.count_overflow)
    fig["service_level"] = sl.value
    fig["sl_numerator"], fig["sl_denominator"] = sl.numerator, sl.denominator
    fig["asa_s"] = metrics.asa_s(c).value
    fig["avg_wait_s"] = metrics.avg_wait_s(c).value
    fig["abandon_rate"] = metrics.abandon_rate(c).value
    fig["aht_s"] = metrics.aht_s(c).value
    fig["peak_waiting"] = int(c["peak_waiting"]) if "peak_waiting" in c else None
    return fig


def total_figures(per_queue: list[tuple[Mapping[str, float], QueueConfig]]) -> dict:
    """The centre total: queue entries summed, SL as the sum of each queue's numerator over the sum of its
    denominator (each by its own formula, as the live total), other ratios of the sums; no peak (not additive)."""
    c: dict[str, float] = {}
    num = den = 0.0
    for counters, q in per_queue:
        for k, v in counters.items():
            if k != "peak_waiting":
                c[k] = c.get(k, 0.0) + v
        sl = metrics.service_level(counters, q.sl_formula, q.count_overflow)
        num += sl.numerator
        den += sl.denominator
    fig = queue_figures(c, QueueConfig(name="total"))
    fig["service_level"] = num / den if den else None
    fig["sl_numerator"], fig["sl_denominator"] = num, den
    fig["peak_waiting"] = None
    return fig


def agent_figures(c: Mapping[str, float]) -> dict:
    fig: dict = {k: int(c.get(k, 0)) for k in AGENT_COUNTS}
    fig["talk_s"] = round(c.get("on_call_s", 0.0), 3)
    fig["wrap_s"] = round(c.get("wrap_up_s", 0.0), 3)
    fig["available_s"] = round(c.get("available_s", 0.0), 3)
    fig["ringing_s"] = round(c.get("ringing_s", 0.0), 3)
    fig["pause_s"] = round(c.get("paused_s", 0.0), 3)
    fig["pause_s_by_reason"] = {k.split(":", 1)[1]: round(v, 3) for k, v in sorted(c.items())
                                if k.startswith("paused_s:") and v}  # fmt: skip
    fig["occupancy"] = occupancy(c).value
    return fig
