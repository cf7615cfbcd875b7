"""``wallboard rollup``: roll the engine's minute buckets up into 15-minute intervals and daily totals."""

from __future__ import annotations

import asyncio
import json
import sys


def register(sub, add_common) -> None:
    sp = sub.add_parser(
        "rollup",
        help="roll minute buckets up into 15-minute and daily history",
        description="Without --since: each day still in the minute buckets' lifetime, from "
        "where the last rollup stopped (less history.late_h). With --since/--until: exactly "
        "that span is recomputed. Safe to run again at any time.",
    )
    sp.add_argument("--since", default=None, help="YYYY-MM-DD (that day's start) or YYYY-MM-DDTHH:MM (local)")
    sp.add_argument("--until", default=None, help="same forms; default now")
    sp.add_argument("--queue", action="append", default=None, help="only this queue (repeat, or a,b,c)")
    sp.add_argument("--agent", action="append", default=None, help="only this agent (repeat, or a,b,c)")
    sp.add_argument(
        "--force", action="store_true", help="also overwrite intervals older than the minute buckets' lifetime"
    )
    sp.add_argument("--json", action="store_true", help="what was rolled up, as JSON")
    add_common(sp)
    sp.set_defaults(func=cmd_rollup)


def cmd_rollup(args) -> int:
    from ._context import config_from_args
    from wallboard.commands.report import split_names
    from wallboard.history.calendar import CentreCalendar, parse_when
    from wallboard.history.rollup import Rollup
    from wallboard.store import connect

    config = config_from_args(args)
    cal = CentreCalendar(config.centre)
    try:
        since = parse_when(args.since, cal, "--since") if args.since else None
        until = parse_when(args.until, cal, "--until") if args.until else None
    except ValueError as e:
        print(f"wallboard: {e}", file=sys.stderr)
        return 2
    if until is not None and since is None:
        print("wallboard: --until needs --since", file=sys.stderr)
        return 2
    queues, agents = split_names(args.queue), split_names(args.agent)

    async def main():
        client = await connect(config, args.redis)
        try:
            ru = Rollup(client, config)
            for what, asked, known in (
                ("queue", queues, await ru.queue_names()),
                ("agent", agents, await ru.agent_ids()),
            ):
                bad = [x for x in asked or [] if x not in known]
                if bad:
                    raise ValueError(f"unknown {what} {', '.join(map(repr, bad))}")
            return await ru.run(since, until, queues=queues, agents=agents, force=args.force)
        finally:
            await client.aclose()

    try:
        stats = asyncio.run(main())
    except ValueError as e:
        print(f"wallboard: {e}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(stats.as_dict()))
    elif not stats.days:
        print("nothing to roll up")
    else:
        print(
            f"rolled up {', '.join(stats.days)}: {stats.queues} queues, {stats.agents} agents, "
            f"{stats.intervals} intervals recomputed ({stats.written} written, {stats.cleared} cleared, "
            f"{stats.kept_old} older ones kept), {stats.daily_written} daily totals written"
        )
    return 0
