"""``wallboard report``: a queue and agent report for a day, week, month or range, as CSV, HTML or JSON."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path


def register(sub, add_common) -> None:
    sp = sub.add_parser("report", help="queue and agent report for a day, week, month or date range",
                        description="Rolls up what the period needs first, then reports from stored history. "
                        "Without --from: the latest complete period (yesterday, last week, last month).")  # fmt: skip
    sp.add_argument("--period", choices=["day", "week", "month", "range"], default="day")
    sp.add_argument("--from", dest="frm", default=None, metavar="YYYY-MM-DD",
                    help="the day; any day of the week or month; or the range's first day")  # fmt: skip
    sp.add_argument("--to", default=None, metavar="YYYY-MM-DD", help="the range's last day (included)")
    sp.add_argument("--queue", action="append", default=None, help="only this queue (repeat, or a,b,c)")
    sp.add_argument("--agent", action="append", default=None, help="only this agent id (repeat, or a,b,c)")
    sp.add_argument("--format", choices=["csv", "html", "json"], default="json")
    sp.add_argument("--detail", choices=["auto", "interval", "day"], default="auto",
                    help="rows per 15-minute interval or per day (auto: intervals for one day)")  # fmt: skip
    sp.add_argument("--output", "-o", default=None, help="write to this file instead of standard output")
    add_common(sp)
    sp.set_defaults(func=cmd_report)


def split_names(values: list[str] | None) -> list[str] | None:
    if not values:
        return None
    return [n.strip() for v in values for n in v.split(",") if n.strip()]


def render(rep: dict, fmt: str) -> str:
    if fmt == "html":
        from wallboard.reports.render_html import render_html

        return render_html(rep)
    if fmt == "csv":
        from wallboard.reports.render_csv import render_csv

        return render_csv(rep)
    return json.dumps(rep, ensure_ascii=False, indent=1)


def cmd_report(args) -> int:
    from wallboard.cli import config_from_args
    from wallboard.clock import SystemClock
    from wallboard.history.calendar import CentreCalendar, resolve_period
    from wallboard.reports.build import ReportError, ReportRequest, build_report
    from wallboard.store import connect

    config = config_from_args(args)
    cal = CentreCalendar(config.centre)
    clock = SystemClock()
    try:
        period = resolve_period(cal, args.period, args.frm, args.to, cal.today(clock.now()))
    except ValueError as e:
        print(f"wallboard: {e}", file=sys.stderr)
        return 2
    req = ReportRequest(period, queues=split_names(args.queue), agents=split_names(args.agent), detail=args.detail)

    async def main() -> dict:
        client = await connect(config, args.redis)
        try:
            return await build_report(client, config, req, clock=clock)
        finally:
            await client.aclose()

    try:
        rep = asyncio.run(main())
    except ReportError as e:
        print(f"wallboard: {e}", file=sys.stderr)
        return 1
    for note in rep["notes"]:
        print(f"wallboard: {note}", file=sys.stderr)
    text = render(rep, args.format)
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
        print(f"wrote {args.output} ({period.label()}, {args.format})", file=sys.stderr)
    else:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
    return 0
