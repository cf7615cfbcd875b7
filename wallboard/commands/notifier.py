"""``wallboard notifier``: alerts delivered to people by e-mail and webhooks (see ``wallboard.notify.notifier``
and docs/ALERTS.md)."""

from __future__ import annotations

import asyncio
import json
import sys

from .. import telemetry
from ..aio import stop_on_signals


def register(sub, add_common) -> None:
    sp = sub.add_parser(
        "notifier",
        help="deliver breaches, escalations and their end by e-mail and webhooks ([notifications])",
        description="Runs until stopped (SIGTERM/SIGINT): follows the published snapshots, detects "
        "alert transitions (one notifier at a time) and delivers them (any number of notifiers) at "
        "least once, never twice for one transition; failures retried with backoff, everything "
        "audited (`wallboard audit`).",
    )
    sp.add_argument("--status", action="store_true", help="list recent deliveries and the counters, then exit")
    sp.add_argument("--last", type=int, default=30, help="with --status: how many deliveries")
    sp.add_argument("--once", action="store_true", help="one pass (detect, deliver what is due), then exit")
    sp.add_argument(
        "--check",
        action="store_true",
        help="check the [notifications] names against the config (exit 2 on a problem), then whether a "
        "notifier is running (exit 0 when one marked Redis in the last 10 s, 1 otherwise); one line",
    )
    sp.add_argument("--json", action="store_true", help="with --status or --once: JSON")
    sp.add_argument(
        "--name",
        default=None,
        help="this notifier's name (unique per running notifier; a restart "
        "under the same name takes over its unfinished deliveries at once)",
    )
    sp.add_argument("--log", default=None, help="log to this file instead of stderr")
    sp.add_argument("--verbose", action="store_true", help="log every detection and delivery (INFO), not only problems")
    telemetry.add_flags(sp)
    add_common(sp)
    sp.set_defaults(func=cmd_notifier)


def _print_status(st: dict) -> None:
    c = st["counters"]
    keys = ["transitions", "sent", "failed", "gave_up", "retaken"] + sorted(k for k in c if ":" in k)
    print("counters: " + ", ".join(f"{k} {c.get(k, 0)}" for k in keys))
    print(f"outbox pending {st['pending']}, waiting to retry {st['retrying']}, detector {st['detector'] or '-'}")
    if not st["deliveries"]:
        print("no deliveries recorded yet")
    for d in st["deliveries"]:
        extra = d.get("reason") or d.get("error") or d.get("detail") or ""
        nxt = f", next attempt {d['next_attempt']}" if d.get("state") == "retrying" and d.get("next_attempt") else ""
        print(
            f"{d['at']}  {d['kind']:<10} {d['queue']}/{d['metric']:<16} {d['subscription']}/{d['channel']:<10} "
            f"{d['state']:<10} attempts {d.get('attempts', 0)}{nxt}" + (f" — {extra}" if extra else "")
        )


def cmd_notifier(args) -> int:
    from ._context import config_from_args, configure_logging
    from wallboard.notify.notifier import Notifier, notify_problems
    from wallboard.store import connect

    configure_logging(args.log, args.verbose)
    config = config_from_args(args)
    problems = notify_problems(config)
    if args.check or problems:
        for where, msg in problems:
            print(f"{where}: {msg}", file=sys.stderr)
        if args.check and not problems:
            subs = config.notifications.subscriptions
            return telemetry.check_command(
                config,
                args,
                "notifier",
                f"[notifications] {len(subs)} subscription(s), {sum(len(s.channels) for s in subs)} channel(s); ",
            )
        return 2 if problems else 0
    if not config.notifications.subscriptions and not args.status:
        print("wallboard: no [[notifications.subscriptions]] in the configuration; nothing to deliver", file=sys.stderr)
        return 2

    async def main() -> int:
        client = await connect(config, args.redis)
        try:
            n = Notifier(client, config, name=args.name)
            if args.status:
                st = await n.status(args.last)
                print(json.dumps(st)) if args.json else _print_status(st)
                return 0
            if args.once:
                transitions, sent = await n.step()
                if args.json:
                    print(json.dumps({"transitions": transitions, "attempts": sent}))
                else:
                    for t in transitions:
                        print(f"{t['kind']} {t['queue']}/{t['metric']}")
                    for d in sent:
                        print(f"{d['delivery']}: {d['state']}" + (f" ({d['error']})" if d.get("error") else ""))
                return 0 if all(d["state"] == "sent" for d in sent) else 1
            with telemetry.metrics_served(args, n.metrics.registry, "notifier"):
                await n.run(stop_on_signals())
            return 0
        finally:
            await client.aclose()

    return asyncio.run(main())
