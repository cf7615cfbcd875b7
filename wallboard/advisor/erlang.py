"""Queueing maths for staffing: Erlang B, Erlang C (M/M/n) and Erlang A (M/M/n+M). Pure functions, standard
library ``math`` only, no I/O.

Units: ``load`` is the offered traffic in erlangs (arrival rate x mean handle time); times are in the unit of
``aht`` (seconds everywhere in wallboard); ``rate`` is arrivals per that unit. ``n`` is a whole number of agents.

Numerics
--------
- Erlang B is never computed with factorials. ``log_inv_erlang_b(n, a)`` sums the series
  ``1/B(n, a) = sum_{j=0..n} n!/((n-j)! a^j)`` from the top term down (each term is the previous one times
  ``(n-j)/a``), rescaling when the terms grow large and stopping when they become negligible; at ``n`` near
  ``a`` that is a few times ``sqrt(a)`` terms (about 700 at 5,000 erlangs), not ``n``. Neighbouring ``n`` then
  come from the usual recurrence ``1/B(n+1) = 1 + (n+1)/a * 1/B(n)`` in O(1).
- Agents required: a start from the square-root staffing rule (Halfin-Whitt: ``n = a + beta sqrt(a)`` with
  ``beta`` solved from the target on the diffusion approximation of P(wait)), one series evaluation there,
  then exact steps of one agent up or down with the recurrence until the smallest ``n`` meeting the target.
- Erlang A uses the closed forms of the M/M/n+M queue in terms of the regularized lower incomplete gamma
  function ``P(s, x)`` (series below ``x = s + 1``, Lentz continued fraction above), carried in logarithms so
  that thousands of agents and patient callers (``e^(rate x patience)`` overflows a float) stay finite.

Erlang A, as used here (a derivation kept short; the tests check it against a birth-death chain): with ``n``
agents, arrival rate ``l``, service rate ``m = 1/aht`` and patience rate ``h = 1/mean patience``, let
``c = n m / h`` and ``b = l / h``. The state probabilities are ``p_k ~ a^k/k!`` up to ``n`` and
``p_(n+j) = p_n prod_(i=1..j) b/(c+i)`` above. A caller who finds ``j`` waiting ahead would be served after
the sum of exponential stages of rates ``n m + i h`` (``i = j..0``), whose density is
``K_j e^(-n m v) (1 - e^(-h v))^j``. Summing over ``j`` with the weights ``p_(n+j)`` gives, with
``K0 = c Gamma(c) e^b b^-c`` and ``x(t) = b e^(-h t)``:

- P(wait) = ``p_n K0 P(c, b)`` and ``p_n = 1 / (1/B(n, a) - 1 + K0 P(c, b))``;
- P(wait, and would be served within t if patient) = ``p_n K0 [P(c, b) - P(c, x(t))]``;
- P(wait, answered within t) = ``p_n K0 (c/b) [P(c+1, b) - P(c+1, x(t))]``;
- P(answered after a wait) is the same at ``t = inf``; P(abandon) = P(wait) - that;
- P(abandon within s) = ``(1 - e^(-h s)) P(wait) - [answered within s - e^(-h s) served within s]``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

_LN_1E280 = 280.0 * math.log(10.0)
_BIG = 1e280
_LOG_2PI = math.log(2.0 * math.pi)
_EPS = 1e-17
_MAX_ITER = 10_000_000


# ---- Erlang B ------------------------------------------------------------------------------------------


def log_inv_erlang_b(n: int, a: float) -> float:
    """``log(1 / B(n, a))``, the Erlang B (loss) formula's reciprocal in logarithms; ``inf`` when ``a`` is 0
    and ``n`` > 0. Series from the top term, rescaled; no factorials."""
    if n < 0:
        raise ValueError("n must be >= 0")
    if a < 0:
        raise ValueError("load must be >= 0")
    if n == 0:
        return 0.0
    if a == 0:
        return math.inf
    inv = 1.0 / a
    total = term = 1.0
    scale = 0.0
    m = n
    while m > a:  # the terms grow while m >= a: rescale now and then
        term *= m * inv
        total += term
        m -= 1
        if term > _BIG:
            term /= _BIG
            total /= _BIG
            scale += _LN_1E280
    while m > 3:  # then they shrink: four at a time until negligible
        t1 = term * m * inv
        t2 = t1 * (m - 1) * inv
        t3 = t2 * (m - 2) * inv
        term = t3 * (m - 3) * inv
        total += t1 + t2 + t3 + term
        m -= 4
        if term < total * _EPS:
            return math.log(total) + scale
    while m > 0:
        term *= m * inv
        total += term
        m -= 1
    return math.log(total) + scale


def erlang_b(n: int, a: float) -> float:
    """Erlang B: the probability that all ``n`` servers are busy in a loss system offered ``a`` erlangs."""
    return math.exp(-log_inv_erlang_b(n, a))


# ---- Erlang C ------------------------------------------------------------------------------------------


def _c_from_inv_b(n: int, a: float, inv_b: float) -> float:
    rho = a / n
    return 1.0 / (rho + (1.0 - rho) * inv_b)


def _c_from_log_inv_b(n: int, a: float, log_inv_b: float) -> float:
    rho = a / n
    if log_inv_b > 700.0:
        return math.exp(-log_inv_b - math.log1p(-rho))
    return _c_from_inv_b(n, a, math.exp(log_inv_b))


def erlang_c(n: int, a: float) -> float:
    """Erlang C: the probability that a caller has to wait (M/M/n, patient callers). 1 when ``n <= a``
    (the queue grows without bound), 0 when there is no load."""
    if a <= 0:
        return 0.0
    if n <= a:
        return 1.0
    return _c_from_log_inv_b(n, a, log_inv_erlang_b(n, a))


def _sl_from_c(pw: float, n: int, a: float, aht: float, t: float) -> float:
    return 1.0 - pw * math.exp(-(n - a) * t / aht)


def service_level_c(n: int, a: float, aht: float, t: float) -> float:
    """Erlang C service level: P(wait <= t) = 1 - C(n, a) e^(-(n - a) t / aht); 0 when ``n <= a``."""
    if a <= 0:
        return 1.0
    if n <= a:
        return 0.0
    return _sl_from_c(erlang_c(n, a), n, a, aht, t)


def asa_c(n: int, a: float, aht: float) -> float:
    """Erlang C average speed of answer (mean wait of all callers): C(n, a) aht / (n - a); inf when n <= a."""
    if a <= 0:
        return 0.0
    if n <= a:
        return math.inf
    return erlang_c(n, a) * aht / (n - a)


# ---- agents required (Erlang C) ------------------------------------------------------------------------


_SQRT_2PI = math.sqrt(2.0 * math.pi)
_SQRT_2 = math.sqrt(2.0)


def halfin_whitt_pwait(beta: float) -> float:
    """The diffusion (Halfin-Whitt) approximation of P(wait) with ``n = a + beta sqrt(a)`` agents."""
    if beta <= 0:
        return 1.0
    phi = math.exp(-0.5 * beta * beta) / _SQRT_2PI
    big_phi = 0.5 * math.erfc(-beta / _SQRT_2)
    return 1.0 / (1.0 + beta * big_phi / phi)


def _solve_beta(bad: Callable[[float], bool]) -> float:
    """Smallest beta in [0, 8] with ``bad(beta)`` false, to 1/1000 (bisection; ``bad`` holds below it). Only a
    starting point: the exact search steps from there."""
    lo, hi = 0.0, 8.0
    if not bad(lo):
        return 0.0
    while hi - lo > 1e-3:
        mid = 0.5 * (lo + hi)
        if bad(mid):
            lo = mid
        else:
            hi = mid
    return hi


def square_root_start(a: float, bad: Callable[[float], bool]) -> int:
    """Square-root staffing start ``a + beta sqrt(a)``, with beta from the Halfin-Whitt approximation."""
    beta = _solve_beta(bad)
    return max(math.floor(a) + 1, math.floor(a + beta * math.sqrt(a)))


def _search_c(a: float, start: int, ok: Callable[[int, float], bool]) -> int:
    """The smallest n > a with ``ok(n, C(n, a))``, given that ``ok`` is monotone in n (false, then true)."""
    floor_n = math.floor(a) + 1
    n = max(start, floor_n)
    inv_b = math.exp(min(log_inv_erlang_b(n, a), 700.0))
    if ok(n, _c_from_inv_b(n, a, inv_b)):
        while n - 1 >= floor_n:
            prev = (inv_b - 1.0) * a / n  # 1/B(n-1) from 1/B(n)
            if not ok(n - 1, _c_from_inv_b(n - 1, a, prev)):
                break
            n, inv_b = n - 1, prev
        return n
    for _ in range(_MAX_ITER):
        n += 1
        inv_b = 1.0 + n / a * inv_b
        if ok(n, _c_from_inv_b(n, a, inv_b)):
            return n
    raise ArithmeticError("no staffing found")  # pragma: no cover - the targets are reachable


def agents_for_sl(a: float, aht: float, t: float, target: float) -> int:
    """Fewest agents with Erlang C P(wait <= t) >= target (0 without load). ``target`` in (0, 1)."""
    if not 0.0 < target < 1.0:
        raise ValueError("target service level must be between 0 and 1 (exclusive)")
    if a <= 0:
        return 0
    k = math.sqrt(a) * t / aht
    start = square_root_start(a, lambda beta: 1.0 - halfin_whitt_pwait(beta) * math.exp(-beta * k) < target)
    return _search_c(a, start, lambda n, pw: _sl_from_c(pw, n, a, aht, t) >= target)


def agents_for_asa(a: float, aht: float, asa: float) -> int:
    """Fewest agents with Erlang C ASA <= ``asa`` (same unit as ``aht``; > 0)."""
    if asa <= 0:
        raise ValueError("target ASA must be > 0")
    if a <= 0:
        return 0
    sq = math.sqrt(a)
    start = square_root_start(a, lambda beta: beta <= 0 or halfin_whitt_pwait(beta) * aht / (beta * sq) > asa)
    return _search_c(a, start, lambda n, pw: pw * aht / (n - a) <= asa)


def agents_for_pwait(a: float, max_pwait: float) -> int:
    """Fewest agents with Erlang C P(wait) <= ``max_pwait`` (in (0, 1))."""
    if not 0.0 < max_pwait < 1.0:
        raise ValueError("maximum P(wait) must be between 0 and 1 (exclusive)")
    if a <= 0:
        return 0
    start = square_root_start(a, lambda beta: halfin_whitt_pwait(beta) > max_pwait)
    return _search_c(a, start, lambda n, pw: pw <= max_pwait)


# ---- incomplete gamma (for Erlang A) -------------------------------------------------------------------


def _stirling_tail(s: float) -> float:
    """lgamma(s) - [(s - 1/2) log s - s + log(2 pi)/2], for s >= 10 (error < 1e-16)."""
    r = 1.0 / s
    r2 = r * r
    return r * (1 / 12 - r2 * (1 / 360 - r2 * (1 / 1260 - r2 * (1 / 1680 - r2 / 1188))))


def _log_prefactor(s: float, x: float) -> float:
    """log(x^s e^-x / Gamma(s)), without the cancellation of large terms when s and x are large."""
    if s < 10.0:
        return s * math.log(x) - x - math.lgamma(s)
    d = (x - s) / s
    return -s * (d - math.log1p(d)) + 0.5 * math.log(s) - 0.5 * _LOG_2PI - _stirling_tail(s)


def _log1mexp(v: float) -> float:
    """log(1 - e^v) for v <= 0."""
    if v == -math.inf:
        return 0.0
    if v > -0.693:
        return math.log(-math.expm1(v))
    return math.log1p(-math.exp(v))


def log_gamma_pq(s: float, x: float) -> tuple[float, float]:
    """(log P(s, x), log Q(s, x)): the regularized lower and upper incomplete gamma functions, in logs
    (series for x < s + 1, where P is the accurate one; Lentz's continued fraction above, where Q is)."""
    if s <= 0:
        raise ValueError("shape must be > 0")
    if x <= 0:
        return -math.inf, 0.0
    lp = _log_prefactor(s, x)
    if x < s + 1.0:
        term = total = 1.0 / s
        k = s
        for _ in range(_MAX_ITER):
            k += 1.0
            term *= x / k
            total += term
            if term < total * _EPS:
                break
        log_p = lp + math.log(total)
        return log_p, _log1mexp(min(log_p, 0.0))
    tiny = 1e-300
    bb = x + 1.0 - s
    cc = 1.0 / tiny
    dd = 1.0 / bb
    h = dd
    for i in range(1, _MAX_ITER):
        an = -i * (i - s)
        bb += 2.0
        dd = an * dd + bb
        if abs(dd) < tiny:
            dd = tiny
        cc = bb + an / cc
        if abs(cc) < tiny:
            cc = tiny
        dd = 1.0 / dd
        delta = dd * cc
        h *= delta
        if abs(delta - 1.0) < 1e-16:
            break
    log_q = lp + math.log(h)
    return _log1mexp(min(log_q, 0.0)), log_q


def _log_diff_p(s: float, x1: float, x2: float) -> float:
    """log(P(s, x2) - P(s, x1)) for 0 <= x1 <= x2 (-inf when equal)."""
    if x1 >= x2:
        return -math.inf
    p1, q1 = log_gamma_pq(s, x1)
    p2, q2 = log_gamma_pq(s, x2)
    if x2 < s + 1.0:  # both on the series side: P is accurate
        return p2 + _log1mexp(min(p1 - p2, 0.0))
    if x1 >= s + 1.0:  # both on the continued-fraction side: Q is accurate
        return q1 + _log1mexp(min(q2 - q1, 0.0))
    v = math.exp(q1) - math.exp(q2)  # Q(x1) is not small here
    return math.log(v) if v > 0 else -math.inf


def _logaddexp(x: float, y: float) -> float:
    if x == -math.inf:
        return y
    if y == -math.inf:
        return x
    m = max(x, y)
    return m + math.log(math.exp(x - m) + math.exp(y - m))


def _log_k0(c: float, b: float) -> float:
    """log(c Gamma(c) e^b b^-c) = log(c) - log(b^c e^-b / Gamma(c))."""
    return math.log(c) - _log_prefactor(c, b)


# ---- Erlang A ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ErlangA:
    """An M/M/n+M queue (Erlang A: Poisson arrivals, exponential handle times and exponential patience), or
    M/M/n (Erlang C) when ``patience`` is ``inf``. Probabilities are per arriving caller.

    ``answered_within(t)``: answered with a wait <= t (including no wait); ``abandoned_within(s)``: hung up
    with a wait <= s; ``counters(t, short_s)`` gives them as the board's counters (per arriving caller), so
    any ``sl_formula`` can be applied (``wallboard.metrics.service_level``). ``stable`` is false for an
    Erlang C queue with n <= load (then it waits without bound: SL 0, ASA inf).
    """

    n: int
    rate: float
    aht: float
    patience: float
    p_wait: float
    p_abandon: float
    _log_w: float  # log(p_n K0): the common factor of the closed forms

    @property
    def load(self) -> float:
        return self.rate * self.aht

    @property
    def stable(self) -> bool:
        return math.isfinite(self.patience) or self.n > self.load or self.rate == 0

    @property
    def _theta(self) -> float:
        return 1.0 / self.patience

    @property
    def _c(self) -> float:
        return self.n / self.aht * self.patience

    @property
    def _b(self) -> float:
        return self.rate * self.patience

    def _erlang_c_mode(self) -> bool:
        return not math.isfinite(self.patience)

    def _trivial(self) -> bool:
        return self.rate == 0 or self.n == 0

    def served_within(self, t: float) -> float:
        """P(the caller waits, and an infinitely patient caller would be served within t)."""
        if self._trivial():
            return 0.0
        if self._erlang_c_mode():
            if not self.stable:
                return 0.0
            return self.p_wait * (1.0 - math.exp(-(self.n - self.load) * t / self.aht))
        c, b = self._c, self._b
        return math.exp(self._log_w + _log_diff_p(c, b * math.exp(-self._theta * t), b))

    def _answered_after_wait_within(self, t: float) -> float:
        if self._trivial():
            return 0.0
        if self._erlang_c_mode():
            return self.served_within(t)
        c, b = self._c, self._b
        x1 = b * math.exp(-self._theta * t) if math.isfinite(t) else 0.0
        return math.exp(self._log_w + math.log(c / b) + _log_diff_p(c + 1.0, x1, b))

    def answered_within(self, t: float) -> float:
        """P(answered with a wait <= t), including those answered at once."""
        if self.rate == 0:
            return 1.0
        return (1.0 - self.p_wait) + self._answered_after_wait_within(t)

    def abandoned_within(self, s: float) -> float:
        """P(abandoned with a wait <= s)."""
        if self._erlang_c_mode() or self.rate == 0:
            return 0.0
        if self.n == 0:
            return 1.0 - math.exp(-self._theta * s)
        e = math.exp(-self._theta * s)
        v = (1.0 - e) * self.p_wait - (self._answered_after_wait_within(s) - e * self.served_within(s))
        return min(max(v, 0.0), self.p_abandon)

    @property
    def p_answered(self) -> float:
        return 1.0 - self.p_abandon

    def service_level(self, t: float) -> float:
        """P(answered within t) over all arriving callers (``all_offered`` without overflow)."""
        return self.answered_within(t)

    def counters(self, t: float, short_s: float) -> dict[str, float]:
        """The board's counters per arriving caller (no overflow in the model)."""
        return {
            "answered": self.p_answered,
            "answered_within_sl": self.answered_within(t),
            "abandoned": self.p_abandon,
            "short_abandoned": self.abandoned_within(short_s),
            "abandoned_within_sl": self.abandoned_within(t),
            "overflowed": 0.0,
        }

    @property
    def avg_wait(self) -> float:
        """Mean time in queue of all callers, answered or not (Erlang C: the ASA)."""
        if self.rate == 0:
            return 0.0
        if self._erlang_c_mode():
            return asa_c(self.n, self.load, self.aht) if self.n else math.inf
        return self.p_abandon * self.patience  # Little's law: abandonment rate theta E[Q] = rate P(abandon)

    @property
    def asa(self) -> float:
        """Average speed of answer: mean wait of answered callers (those answered at once count 0)."""
        if self.rate == 0:
            return 0.0
        if self._erlang_c_mode():
            return asa_c(self.n, self.load, self.aht)
        if self.n == 0:
            return math.nan  # nobody is answered
        c, b = self._c, self._b
        # sum_j p_(n+j) * P(served | j) * E[wait | served, j]; relative weights w_j = prod_(i<=j) b/(c+i)
        w, total, scale = 1.0, 0.0, 0.0
        harmonic = 0.0
        j = 0
        for j in range(_MAX_ITER):
            if j:
                w *= b / (c + j)
            harmonic += 1.0 / (c + j + 1.0)
            term = w * (c / (c + j + 1.0)) * harmonic
            total += term
            if w > _BIG:
                w /= _BIG
                total /= _BIG
                scale += _LN_1E280
            if b / (c + j + 1.0) < 1.0 and term < total * _EPS:
                break
        log_pn = self._log_w - self._log_k0()
        num = math.exp(log_pn + scale + math.log(total)) * self.patience if total > 0 else 0.0
        return num / self.p_answered if self.p_answered > 0 else math.nan

    def _log_k0(self) -> float:
        return _log_k0(self._c, self._b)


def erlang_a(n: int, rate: float, aht: float, patience: float = math.inf) -> ErlangA:
    """The M/M/n+M queue with ``n`` agents, ``rate`` arrivals per unit time, mean handle time ``aht`` and mean
    patience ``patience`` (``inf``: Erlang C). See the module docstring for the formulas."""
    if n < 0 or rate < 0 or aht <= 0 or patience <= 0:
        raise ValueError("need n >= 0, rate >= 0, aht > 0, patience > 0")
    a = rate * aht
    if rate == 0:
        return ErlangA(n, rate, aht, patience, 0.0, 0.0, -math.inf)
    if not math.isfinite(patience):
        pw = erlang_c(n, a) if n > 0 else 1.0
        return ErlangA(n, rate, aht, patience, pw, 0.0, -math.inf)
    if n == 0:
        return ErlangA(n, rate, aht, patience, 1.0, 1.0, -math.inf)
    c = n / aht * patience
    b = rate * patience
    log_k0 = _log_k0(c, b)
    log_pc, _ = log_gamma_pq(c, b)
    log_a = log_k0 + log_pc  # A(c, b) = 1 + b/(c+1) + b^2/((c+1)(c+2)) + ...
    lib = log_inv_erlang_b(n, a)
    log_rest = lib + _log1mexp(-lib) if lib > 0 else -math.inf  # log(1/B - 1)
    log_norm = _logaddexp(log_rest, log_a)  # log(1/p_n)
    log_w = log_k0 - log_norm
    p_wait = math.exp(log_a - log_norm)
    answered_after_wait = math.exp(log_w + math.log(c / b) + _log_diff_p(c + 1.0, 0.0, b))
    p_ab = min(max(p_wait - answered_after_wait, 0.0), 1.0)
    return ErlangA(n, rate, aht, patience, min(p_wait, 1.0), p_ab, log_w)


def agents_for_sl_a(rate: float, aht: float, patience: float, t: float, target: float) -> int:
    """Fewest agents with Erlang A P(answered within t) >= target, over all arriving callers (abandons count
    as failures). Searched from the Erlang C answer, which is usually a little above it."""
    if not 0.0 < target < 1.0:
        raise ValueError("target service level must be between 0 and 1 (exclusive)")
    if rate <= 0:
        return 0
    start = agents_for_sl(rate * aht, aht, t, target)
    return smallest_n(lambda n: erlang_a(n, rate, aht, patience).answered_within(t) >= target, start)


def smallest_n(ok: Callable[[int], bool], start: int, limit: int = 1_000_000) -> int:
    """The smallest n >= 0 with ``ok(n)``, for ``ok`` monotone in n, searching from ``start`` down or up."""
    n = max(0, start)
    if ok(n):
        while n > 0 and ok(n - 1):
            n -= 1
        return n
    step = 1
    lo = n
    while not ok(n + step):  # gallop up, then bisect
        lo = n + step
        step *= 2
        if lo > limit:
            raise ArithmeticError("no staffing found within the limit")
    hi = n + step
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if ok(mid):
            hi = mid
        else:
            lo = mid
    return hi
