"""The metric definitions of DESIGN.md, as pure functions of counters (no I/O); what each metric is, and each
ratio's terms, are declared once in ``wallboard.catalog``.

Every ratio returns a ``Ratio``: the value (``None`` when the denominator is zero), its numerator, its
denominator and the formula in words, so any screen can show how a number was computed.
"""

from __future__ import annotations

from typing import Callable, Mapping, NamedTuple

from . import catalog

# The counters the engine keeps per queue and window, in their stored order (``wallboard.catalog``).
COUNTERS = catalog.stored_counters("queue")
# Sums of seconds are floats; the other counters are whole counts.
INT_COUNTERS = frozenset(m.name for m in catalog.queue(kind="counter") if m.unit != "seconds")


class Ratio(NamedTuple):  # (a tuple: made ~20 times per queue at every publish, and cheap to make)
    value: float | None
    numerator: float
    denominator: float
    formula: str


def _ratio(num: float, den: float, formula: str) -> Ratio:
    return Ratio(num / den if den else None, num, den, formula)


def ratio(
    name: str,
    c: Mapping[str, float],
    sl_formula: str = "excl_short_abandons",
    count_overflow: bool = False,
    scope: catalog.Scope = "queue",
) -> Ratio:
    """A catalog ratio of the counters ``c``: its value, numerator, denominator and formula, all from the
    catalog's terms (service_level's by the queue's ``sl_formula``; ``count_overflow`` adds overflowed)."""
    num, den, per, text = _terms(name, sl_formula, count_overflow, scope)
    n, d = catalog.sum_terms(c, num, scope), catalog.sum_terms(c, den, scope)
    if per != 1:  # a rate (calls per logged-in hour): num / den x per
        return Ratio(n / d * per if d else None, n, d, text)
    return _ratio(n, d, text)


_TERMS: dict[tuple, tuple] = {}  # the catalog is constant: each ratio's terms and formula worked out once


def _terms(name: str, sl_formula: str, count_overflow: bool, scope: catalog.Scope) -> tuple:
    """(numerator terms, denominator terms, per, the formula in words) of a catalog ratio."""
    key = (name, sl_formula, count_overflow, scope)
    out = _TERMS.get(key)
    if out is None:
        m = catalog.get(name, scope)
        num, den = catalog.terms(m, sl_formula, count_overflow)
        out = _TERMS[key] = (num, den, m.per, catalog.formula(num, den, m.per))
    return out


def offered(c: Mapping[str, float]) -> float:
    return catalog.value_of(c, "offered")


def service_level(c: Mapping[str, float], formula: str, count_overflow: bool) -> Ratio:
    """SL by the queue's ``sl_formula``; overflowed calls enter the denominator only with ``count_overflow``."""
    return ratio("service_level", c, formula, count_overflow)


def asa_s(c: Mapping[str, float]) -> Ratio:
    return ratio("asa_s", c)


def avg_wait_s(c: Mapping[str, float]) -> Ratio:
    return ratio("avg_wait_s", c)


def abandon_rate(c: Mapping[str, float]) -> Ratio:
    return ratio("abandon_rate", c)


def aht_s(c: Mapping[str, float]) -> Ratio:
    return ratio("aht_s", c)


def occupancy(c: Mapping[str, float]) -> Ratio:
    """(talk + wrap-up) / (talk + wrap-up + available), from an agent's seconds per state (stored names)."""
    return ratio("occupancy", c, scope="agent")


NPS_SCALE = "0-10"


def survey_class(score: int, scale: str, top_box: Mapping[str, int]) -> tuple[str, int]:
    """A survey answer's kind and class: ("nps", 1 promoter 9-10 / -1 detractor 0-6 / 0 passive) on the 0-10
    scale, else ("csat", 1 in the top box / 0): the scale's configured top box, or its two highest scores."""
    if scale == NPS_SCALE:
        return "nps", 1 if score >= 9 else -1 if score <= 6 else 0
    hi = int(scale.split("-")[1])
    return "csat", 1 if score >= top_box.get(scale, hi - 1) else 0


def window_figures(c: Mapping[str, float], sl_formula: str, count_overflow: bool) -> tuple[dict, dict[str, Ratio]]:
    """One window's figures from its stored counters, as the catalog declares them: every counter (whole counts
    as int, seconds as float), the derived ones (offered), each breakdown as a dict of its non-zero parts; and
    every ratio, with how it was computed. The live snapshot and the reports both build from this.

    Computed by a function written from the catalog once per (``sl_formula``, ``count_overflow``)
    (``_compiled``): the lease owner works this out twice per queue at every publish, and the walk over the
    catalog's terms was most of its cost. ``window_figures_walked`` is the walk itself, kept as the reference
    the compiled one is tested against (tests/test_metrics_compiled.py)."""
    f = _COMPILED.get((sl_formula, count_overflow))
    if f is None:
        f = _COMPILED[(sl_formula, count_overflow)] = _compiled(sl_formula, count_overflow)
    return f(c)


_COMPILED: dict[tuple, Callable[[Mapping[str, float]], tuple[dict, dict[str, Ratio]]]] = {}


def _sum_expr(plan: tuple) -> str:
    """``catalog._summed`` of ``plan`` as one expression: the same additions in the same order from 0, so the
    same value and type (an int 0 when nothing is there, as the walk gives)."""
    expr = "0"
    for neg, name, sub in plan:
        v = f"({_sum_expr(sub)})" if sub is not None else f"g({name!r}, 0)"
        expr = f"({expr} {'-' if neg else '+'} {v})"
    return expr


def _compiled(sl_formula: str, count_overflow: bool):
    """``window_figures_walked`` written out as straight-line Python for one formula and overflow setting."""
    lines = ["def window_figures(c):", "    g = c.get", "    fig = {}"]
    for m in catalog.queue(kind="counter"):
        if m.breakdown:
            lines.append("    d = {}")
            for part in m.breakdown:
                k = f"{m.store}:{part}"
                lines.append(f"    if g({k!r}):\n        d[{part!r}] = int(c[{k!r}])")
            lines.append(f"    fig[{m.name!r}] = d")
        elif m.derived:
            lines.append(f"    fig[{m.name!r}] = int({_sum_expr(catalog._plan(m.num, 'queue'))})")
        elif m.name in INT_COUNTERS:
            lines.append(f"    fig[{m.name!r}] = int(g({m.store!r}, 0))")
        else:
            lines.append(f"    fig[{m.name!r}] = g({m.store!r}, 0.0)")
    lines.append("    ratios = {}")
    for m in catalog.queue(kind="ratio"):
        num, den, per, text = _terms(m.name, sl_formula, count_overflow, "queue")
        lines.append(f"    n = {_sum_expr(catalog._plan(tuple(num), 'queue'))}")
        lines.append(f"    d = {_sum_expr(catalog._plan(tuple(den), 'queue'))}")
        value = f"n / d * {per!r} if d else None" if per != 1 else "n / d if d else None"
        lines.append(f"    ratios[{m.name!r}] = Ratio({value}, n, d, {text!r})")
    lines.append("    return fig, ratios")
    scope: dict = {"Ratio": Ratio}
    exec(compile("\n".join(lines), f"<window_figures {sl_formula} {count_overflow}>", "exec"), scope)
    return scope["window_figures"]


def window_figures_walked(
    c: Mapping[str, float], sl_formula: str, count_overflow: bool
) -> tuple[dict, dict[str, Ratio]]:
    """The reference: ``window_figures`` by walking the catalog."""
    fig: dict = {}
    for m in catalog.queue(kind="counter"):
        if m.breakdown:
            fig[m.name] = {p: int(c[f"{m.store}:{p}"]) for p in m.breakdown if c.get(f"{m.store}:{p}")}
        elif m.derived:
            fig[m.name] = int(catalog.value_of(c, m.name))
        else:
            fig[m.name] = int(c.get(m.store, 0)) if m.name in INT_COUNTERS else c.get(m.store, 0.0)
    ratios = {m.name: ratio(m.name, c, sl_formula, count_overflow) for m in catalog.queue(kind="ratio")}
    return fig, ratios


def ewt_s(waiting: int, aht: float | None, agents_serving: int) -> float | None:
    """Estimated wait for a new caller: (waiting + 1) x AHT / agents available-or-busy."""
    if aht is None or agents_serving <= 0:
        return None
    return (waiting + 1) * aht / agents_serving


def ewt_slots_s(waiting: int, aht: float | None, slots: int, free_slots: int) -> float | None:
    """Estimated wait for a new conversation on a written channel, where an agent holds several at once: a
    capacity-based estimate. ``slots`` = the serving agents' capacities summed, ``free_slots`` = those not in
    use; AHT is one conversation's accepted -> closed. A free slot takes the next conversation at once; else
    the ones ahead are served by all slots together: max(0, waiting + 1 - free) x AHT / slots."""
    if aht is None or slots <= 0:
        return None
    return max(0, waiting + 1 - max(0, free_slots)) * aht / slots
