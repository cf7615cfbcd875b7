"""``metrics.window_figures`` is a function written from the catalog once per SL formula and overflow setting;
``window_figures_walked`` walks the catalog's terms at every call (the definition). They must agree exactly —
values, types (a whole count stays an int, an empty sum the int 0), key order — on any counters."""

from __future__ import annotations

import random

from wallboard import catalog, metrics


def _typed(x):
    """A value with its type, so that 0 == 0.0 or 1 == True does not hide a difference."""
    if isinstance(x, dict):
        return [(k, _typed(v)) for k, v in x.items()]
    if isinstance(x, tuple):
        return [_typed(v) for v in x]
    return (type(x).__name__, x)


def _counters(rng: random.Random) -> dict[str, float]:
    """Stored counters as a snapshot reads them (floats), some missing, some zero, seconds with decimals."""
    c: dict[str, float] = {}
    for m in catalog.queue(kind="counter"):
        if m.derived:
            continue
        names = [f"{m.store}:{p}" for p in m.breakdown] if m.breakdown else [m.store]
        for name in names:
            roll = rng.random()
            if roll < 0.25:
                continue  # never written
            if roll < 0.4:
                c[name] = 0.0
            elif m.unit == "seconds":
                c[name] = round(rng.uniform(0, 50_000), rng.choice([0, 1, 3, 6]))
            else:
                c[name] = float(rng.randint(0, 5_000))
    return c


def test_the_compiled_figures_equal_the_catalog_walk_on_random_counters():
    rng = random.Random(16)
    formulas = list(catalog.SL_FORMULAS)
    assert len(formulas) >= 2
    for _ in range(3_000):
        c = _counters(rng)
        formula, overflow = rng.choice(formulas), rng.random() < 0.5
        fast = metrics.window_figures(c, formula, overflow)
        walked = metrics.window_figures_walked(c, formula, overflow)
        assert _typed(fast[0]) == _typed(walked[0]), (formula, overflow, c)
        assert list(fast[1]) == list(walked[1])
        for name, r in walked[1].items():
            assert _typed(tuple(fast[1][name])) == _typed(tuple(r)), (name, formula, overflow, c)


def test_by_hand_one_window():
    # 10 answered (8 within the SL threshold), 4 abandoned of which 1 short, nothing else: by the catalog's
    # default formula SL = 8 / (10 + 4 - 1) = 0.615..., abandon rate = (4 - 1) / (10 + 4 - 1)
    c = {"entered": 14.0, "answered": 10.0, "answered_within_sl": 8.0, "abandoned": 4.0, "short_abandoned": 1.0}
    fig, ratios = metrics.window_figures(c, "excl_short_abandons", False)
    assert fig["answered"] == 10 and isinstance(fig["answered"], int)
    assert ratios["service_level"].value == 8 / 13
    assert ratios["service_level"].numerator == 8 and ratios["service_level"].denominator == 13
    assert ratios["abandon_rate"].value == 3 / 13
