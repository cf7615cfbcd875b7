"""``wallboard scheduler``: mail the ``[[reports]]`` schedules when they are due (see
``wallboard.reports.scheduler``)."""

from __future__ import annotations

import asyncio
import json
import sys

from .. import telemetry
from ..aio import stop_on_signals


def register(sub, add_common) -> None:
    sp = sub.add_parser(
        "scheduler",
        help="send the scheduled reports ([[reports]]) by e-mail when due",
        description="Runs until stopped (SIGTERM/SIGINT). Each schedule's period is sent once; "
        "deliveries are recorded in Redis, failures retried with backoff.",
    )
    sp.add_argument("--once", action="store_true", help="send what is due now, then exit (for cron)")
    sp.add_argument("--status", action="store_true", help="list recorded deliveries and exit")
    sp.add_argument("--json", action="store_true", help="with --status or --once: JSON")
    sp.add_argument("--log", default=None, help="log to this file instead of stderr")
    sp.add_argument("--verbose", action="store_true", help="log every run and delivery (INFO), not only problems")
    sp.add_argument(
        "--check",
        action="store_true",
        help="health check: exit 0 when a scheduler is running (it marks Redis at least every 30 s), "
        "1 otherwise; one line",
    )
    telemetry.add_flags(sp)
    add_common(sp)
    sp.set_defaults(func=cmd_scheduler)


def cmd_scheduler(args) -> int:
    from ._context import config_from_args, configure_logging
    from wallboard.reports.scheduler import ReportScheduler
    from wallboard.store import connect

    configure_logging(args.log, args.verbose)
    config = config_from_args(args)
    if args.check:
        return telemetry.check_command(config, args, "scheduler")
    if not config.reports and not args.status:
        print("wallboard: no [[reports]] schedules in the configuration; nothing to send", file=sys.stderr)
        return 2

    async def main() -> int:
        client = await connect(config, args.redis)
        try:
            sched = ReportScheduler(client, config)
            if args.status:
                rows = await sched.deliveries()
                if args.json:
                    print(json.dumps(rows))
                for r in [] if args.json else rows:
                    extra = f" — {r['error']}" if r.get("error") else ""
                    retry = r.get("next_attempt") and r["state"] != "sent"
                    nxt = f", next attempt {r['next_attempt']}" if retry else ""
                    print(f"{r['schedule']:<12} {r['period']:<22} {r['state']:<8} attempts {r['attempts']}{nxt}{extra}")
                if not rows and not args.json:
                    print("no deliveries recorded yet")
                return 0
            if args.once:
                done = await sched.tick()
                if args.json:
                    print(json.dumps(done))
                else:
                    for d in done:
                        err = f" ({d['error']})" if d.get("error") else ""
                        print(f"{d['schedule']} {d['period']}: {d['state']}{err}")
                return 0 if all(d["state"] == "sent" for d in done) else 1
            with telemetry.metrics_served(args, sched.metrics.registry, "scheduler"):
                await sched.run(stop_on_signals())
            return 0
        finally:
            await client.aclose()

    return asyncio.run(main())
