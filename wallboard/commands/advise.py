"""``wallboard advise [--json]``: overload advice from the current snapshot and live estimates.

Reads the latest published snapshot (as ``wallboard snapshot`` does) and, at that snapshot's time, the minute
buckets of every queue (read-only); prints per queue the agents required against those staffed, and the ranked
moves with their projected effect (see ``wallboard.advisor.advice``). Nothing is changed: applying a move is the
``move`` action's job.
"""

from __future__ import annotations

import asyncio
import json
import sys

from wallboard.events import utc


def _pct(v) -> str:
    return "-" if v is None else f"{v * 100:.0f}%"


def _num(v, fmt: str = "{:.0f}") -> str:
    return "-" if v is None else fmt.format(v)


def print_advice(advice, centre: str = "", out=sys.stdout) -> None:
    print(f"{centre + ' — ' if centre else ''}advice at {utc(advice.at)}", file=out)
    head = (
        "queue",
        "calls/h",
        "AHT s",
        "patience s",
        "erlangs",
        "required",
        "staffed",
        "effective",
        "SL model",
        "SL live",
        "model",
        "status",
    )
    rows = []
    for q in advice.queues.values():
        status = q.status if q.status != "short" else f"short by {q.short_by}"
        if q.status == "slack":
            status = f"slack (can spare {q.spare})"
        if q.status == "ok" and q.spare:
            status = f"ok (can spare {q.spare})"
        if q.reason:
            status += f": {q.reason}"
        rows.append(
            (
                q.label,
                _num(q.rate_per_h, "{:.1f}"),
                _num(q.aht_s),
                _num(q.patience_s),
                _num(q.load_erlangs, "{:.2f}"),
                _num(q.required, "{}"),
                q.staffed,
                q.effective_text(),
                _pct(q.model_sl),
                _pct(q.live_sl),
                q.model_short or "-",
                status,
            )
        )
    widths = [max(len(str(r[i])) for r in [head, *rows]) for i in range(len(head))]
    for r in [head, *rows]:
        print(
            "  ".join(
                str(c).ljust(w) if i in (0, len(head) - 2, len(head) - 1) else str(c).rjust(w)
                for i, (c, w) in enumerate(zip(r, widths))
            ).rstrip(),
            file=out,
        )
    if advice.moves:
        print("\nMoves, best first (each from the state now):", file=out)
        for i, m in enumerate(advice.moves, 1):
            print(
                f"{i:2d}. {m.text}  (+{m.gain_per_h:.1f} calls/h within threshold; {m.agent_name} is "
                f"{m.agent_state.replace('_', ' ')})",
                file=out,
            )
    if len(advice.plan) > 1:
        print("\nPlan (one after the other):", file=out)
        for i, m in enumerate(advice.plan, 1):
            print(f"{i:2d}. {m.text}", file=out)
    for n in advice.notes:
        print(f"note: {n}", file=out)
    for q in advice.queues.values():
        if q.note:
            print(f"note: {q.label}: {q.note}", file=out)
    print(
        f"Figures are steady-state projections on {advice.basis or 'no calls yet'}, each queue by its model "
        "(Erlang A; Erlang C where the patience is unknown; a written queue on slots, each agent counting as its "
        "capacity there); effective staffing counts a backup as a share of an agent, and the status is computed "
        "from it; callers waiting now come first.",
        file=out,
    )


async def published_advice(client, config, settings=None, keys=None):
    """The advice on the latest published snapshot, at that snapshot's time: ``(advice, snapshot)``, or
    ``(None, None)`` when nothing is published yet. Read-only."""
    from wallboard.advisor import EstimateSettings, advise, read_estimates
    from wallboard.keys import Keys
    from wallboard.snapshot import Snapshot

    keys = keys or Keys(config.redis.prefix)
    summary, agents = await client.get(keys.summary), await client.get(keys.agents_detail)
    if not summary:
        return None, None
    data = json.loads(summary)
    data["agents"] = json.loads(agents)["agents"] if agents else {}
    snap = Snapshot.model_validate(data)
    now = snap.at
    estimates = await read_estimates(client, config, now, settings or EstimateSettings(), keys)
    return advise(snap, estimates, config), snap


async def _run(args):
    from wallboard.advisor import EstimateSettings
    from wallboard.store import connect

    from ._context import config_from_args

    config = config_from_args(args)
    settings = EstimateSettings(
        history_minutes=args.history_min,
        half_life_min=args.half_life_min,
        min_arrivals=args.min_calls,
        min_completed=args.min_calls,
        min_abandons=args.min_abandons,
    )
    client = await connect(config, args.redis)
    try:
        return await published_advice(client, config, settings)
    finally:
        await client.aclose()


def cmd_advise(args) -> int:
    try:
        advice, snap = asyncio.run(_run(args))
    except ValueError as e:
        print(f"wallboard advise: {e}", file=sys.stderr)
        return 2
    if advice is None:
        print("wallboard advise: no snapshot published yet (is `wallboard ingest` or `demo` running?)", file=sys.stderr)
        return 1
    if args.json:
        print(advice.model_dump_json())
    else:
        print_advice(advice, snap.centre)
    return 0


def register(sub, add_common) -> None:
    sp = sub.add_parser("advise", help="overload advice: agents required vs staffed, moves with their effect")
    sp.add_argument("--json", action="store_true", help="the advice (queues, moves, plan) as JSON")
    sp.add_argument("--history-min", type=int, default=60, help="minutes of buckets the estimates read (60)")
    sp.add_argument("--half-life-min", type=float, default=5.0, help="arrival-rate smoothing half-life (5)")
    sp.add_argument("--min-calls", type=int, default=10, help="calls needed for a rate or handle time (10)")
    sp.add_argument("--min-abandons", type=int, default=5, help="abandons needed for a patience (5)")
    add_common(sp)
    sp.set_defaults(func=cmd_advise)
