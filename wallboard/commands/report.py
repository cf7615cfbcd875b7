"""``wallboard report``: a queue and agent report for a day, week, month or range, as CSV, HTML or JSON."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path

from wallboard.reports.words import NOTES


def register(sub, add_common) -> None:
    sp = sub.add_parser(
        "report",
        help="queue and agent report for a day, week, month or date range",
        description="Rolls up what the period needs first, then reports from stored history. "
        "Without --from: the latest complete period (yesterday, last week, last month).",
    )
    sp.add_argument(
        "--period",
        choices=["day", "week", "month", "range"],
        default="day",
        help="the period's kind (default day); range needs --from and --to",
    )
    sp.add_argument(
        "--from",
        dest="frm",
        default=None,
        metavar="YYYY-MM-DD",
        help="the day; any day of the week or month; or the range's first day",
    )
    sp.add_argument("--to", default=None, metavar="YYYY-MM-DD", help="the range's last day (included)")
    sp.add_argument("--queue", action="append", default=None, help="only this queue (repeat, or a,b,c)")
    sp.add_argument(
        "--agent",
        action="append",
        default=None,
        help="only this agent id (repeat, or a,b,c): its scorecard, unless --no-scorecard",
    )
    sp.add_argument(
        "--role",
        default=None,
        help="a team lead's view: only the role's queues and their agents (asking for others is refused)",
    )
    sp.add_argument(
        "--scorecard",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="agent scorecards instead of the report: each agent's figures per day and for the period beside "
        "[targets.agents] (the default with --agent; --no-scorecard: the queue and agent report for them)",
    )
    sp.add_argument(
        "--format",
        choices=["csv", "html", "json"],
        default="json",
        help="json (default), csv (one table), or html (the e-mailed page, with charts)",
    )
    sp.add_argument(
        "--detail",
        choices=["auto", "interval", "day"],
        default="auto",
        help="rows per 15-minute interval or per day (auto: intervals for one day)",
    )
    sp.add_argument(
        "--lang",
        choices=["en", "he"],
        default="en",
        help="the HTML and CSV report's and the HTML scorecard's language: en (default) or he (Hebrew, right to left)",
    )
    sp.add_argument("--output", "-o", default=None, help="write to this file instead of standard output")
    add_common(sp)
    sp.set_defaults(func=cmd_report)


NO_DATA = NOTES["en"]["no_data"]  # build_report's note when nothing was stored at all


def split_names(values: list[str] | None) -> list[str] | None:
    if not values:
        return None
    return [n.strip() for v in values for n in v.split(",") if n.strip()]


def render(rep: dict, fmt: str, lang: str = "en") -> str:
    if rep.get("kind") == "scorecard":
        from wallboard.reports import scorecard

        if fmt == "html":
            from wallboard.reports.render_html import render_scorecard_html

            return render_scorecard_html(rep, lang)
        return scorecard.render_csv(rep) if fmt == "csv" else json.dumps(rep, ensure_ascii=False, indent=1)
    if fmt == "html":
        from wallboard.reports.render_html import render_html

        return render_html(rep, lang)
    if fmt == "csv":
        from wallboard.reports.render_csv import render_csv

        return render_csv(rep, lang)
    return json.dumps(rep, ensure_ascii=False, indent=1)


def cmd_report(args) -> int:
    from ._context import config_from_args
    from wallboard.clock import SystemClock
    from wallboard.history.calendar import CentreCalendar, resolve_period
    from wallboard.reports.build import ReportError, ReportRequest, build_report
    from wallboard.store import connect

    config = config_from_args(args)
    if args.scorecard is None:  # asking about agents is asking for their scorecards (docs/REPORTS.md)
        args.scorecard = bool(args.agent)
    cal = CentreCalendar(config.centre)
    clock = SystemClock()
    today = cal.today(clock.now())
    demo = getattr(args, "running_demo", None)
    try:
        if demo is not None and args.frm is None and args.period != "range":
            # the demo's centre began its day when the demo started: the latest complete period predates it
            period = cal.period(args.period, today)
            print(
                f"wallboard report: the running demo's {args.period} so far ({period.label()}); --from "
                "YYYY-MM-DD for another",
                file=sys.stderr,
            )
        else:
            period = resolve_period(cal, args.period, args.frm, args.to, today)
    except ValueError as e:
        print(f"wallboard: {e}", file=sys.stderr)
        return 2
    team = None
    if args.role is not None:
        role = config.roles.get(args.role)
        if role is None:
            known = ", ".join(config.roles) or "none configured"
            print(f"wallboard: unknown --role {args.role!r}; roles: {known}", file=sys.stderr)
            return 2
        team = role.queues  # None: a role over every queue sees the whole centre
    req = ReportRequest(
        period,
        queues=split_names(args.queue),
        agents=split_names(args.agent),
        detail="day" if args.scorecard and args.detail == "auto" else args.detail,  # a scorecard's rows are days
        team=team,
        team_name=args.role or "",
    )

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
    if NO_DATA in rep["notes"]:  # not a table of zeros: nothing was recorded at all
        which = f" for queue(s) {', '.join(req.queues)}" if req.queues else ""
        which += f" for agent(s) {', '.join(req.agents)}" if req.agents else ""
        hint = ""
        if args.frm is None and args.period != "range" and demo is None:
            hint = (
                f" (the latest complete {args.period}; for the current one so far: --period {args.period} "
                f"--from {today.isoformat()})"
            )
        print(f"wallboard report: no data recorded in {period.label()}{which}{hint}; nothing written", file=sys.stderr)
        return 1
    for note in rep["notes"]:
        print(f"wallboard: {note}", file=sys.stderr)
    if args.scorecard:
        from wallboard.reports.scorecard import scorecards

        rep = scorecards(rep, config, {"role": args.role, "queues": team} if team is not None else None)
    text = render(rep, args.format, args.lang)
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
        print(f"wrote {args.output} ({period.label()}, {args.format})", file=sys.stderr)
    else:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
    return 0
