"""The metric definitions of DESIGN.md, as pure functions of counters (no I/O).

Every ratio returns a ``Ratio``: the value (``None`` when the denominator is zero), its numerator, its
denominator and the formula in words, so any screen can show how a number was computed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

COUNTERS = (
    "entered",
    "answered",
    "answered_within_sl",
    "abandoned",
    "short_abandoned",
    "abandoned_within_sl",
    "overflowed",
    "completed",
    "talk_s",
    "wrap_s",
    "wait_answered_s",
    "wait_all_s",
    "callbacks_done",
)


@dataclass(frozen=True)
class Ratio:
    value: float | None
    numerator: float
    denominator: float
    formula: str


def _ratio(num: float, den: float, formula: str) -> Ratio:
    return Ratio(num / den if den else None, num, den, formula)


def offered(c: Mapping[str, float]) -> float:
    return c.get("answered", 0) + c.get("abandoned", 0) + c.get("overflowed", 0)


def service_level(c: Mapping[str, float], formula: str, count_overflow: bool) -> Ratio:
    """SL by the queue's ``sl_formula``; overflowed calls enter the denominator only with ``count_overflow``."""
    ans = c.get("answered", 0)
    within = c.get("answered_within_sl", 0)
    ab = c.get("abandoned", 0)
    short = c.get("short_abandoned", 0)
    ov = c.get("overflowed", 0) if count_overflow else 0
    ov_txt = " + overflowed" if count_overflow else ""
    if formula == "answered":
        return _ratio(within, ans, "answered_within_sl / answered")
    if formula == "excl_short_abandons":
        return _ratio(
            within, ans + ab - short + ov, f"answered_within_sl / (answered + abandoned - short_abandoned{ov_txt})"
        )
    if formula == "all_offered":
        return _ratio(within, ans + ab + ov, f"answered_within_sl / (answered + abandoned{ov_txt})")
    if formula == "abandons_good":
        return _ratio(
            within + c.get("abandoned_within_sl", 0),
            ans + ab + ov,
            f"(answered_within_sl + abandoned_within_sl) / (answered + abandoned{ov_txt})",
        )
    raise ValueError(f"unknown sl_formula {formula!r}")


def asa_s(c: Mapping[str, float]) -> Ratio:
    return _ratio(c.get("wait_answered_s", 0), c.get("answered", 0), "wait_answered_s / answered")


def avg_wait_s(c: Mapping[str, float]) -> Ratio:
    return _ratio(c.get("wait_all_s", 0), offered(c), "wait_all_s / offered")


def abandon_rate(c: Mapping[str, float]) -> Ratio:
    short = c.get("short_abandoned", 0)
    return _ratio(
        c.get("abandoned", 0) - short,
        offered(c) - short,
        "(abandoned - short_abandoned) / (offered - short_abandoned)",
    )


def aht_s(c: Mapping[str, float]) -> Ratio:
    return _ratio(c.get("talk_s", 0) + c.get("wrap_s", 0), c.get("completed", 0), "(talk_s + wrap_s) / completed")


def ewt_s(waiting: int, aht: float | None, agents_serving: int) -> float | None:
    """Estimated wait for a new caller: (waiting + 1) x AHT / agents available-or-busy."""
    if aht is None or agents_serving <= 0:
        return None
    return (waiting + 1) * aht / agents_serving
