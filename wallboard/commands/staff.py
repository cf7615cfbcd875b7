"""``wallboard staff``: the staffing calculator. From calls per interval, handle time, a target (service level,
ASA or maximum P(wait)) and shrinkage, the agents to schedule per interval (Erlang C), as a table or JSON.

Input: a CSV with a header and the columns ``start`` (a time, a date and time, or any label), ``calls`` (calls
offered in the interval), ``aht_s`` (mean handle time, talk + wrap-up, seconds) and optionally ``interval_s``
(the interval's length). A row without ``interval_s`` takes ``--interval-s``, else the interval inferred from
the starts (the smallest step between consecutive starts, every step a multiple of it: rows may be missing);
when the starts cannot tell (labels, one row, irregular steps) the command asks for ``--interval-s``.
``--from-bank FILE --queue PS`` makes those intervals from the Anonymous Bank call records instead (see
``bank_intervals``), and ``--write-csv`` keeps them.

Per interval: load ``a = calls / interval_s x aht_s`` erlangs; ``agents`` = the fewest agents on the phones
meeting the target; ``scheduled = ceil(agents / (1 - shrinkage))`` (shrinkage: breaks, absence, training —
the share of paid time not on the phones).
"""

from __future__ import annotations

import csv
import json
import math
import sys
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path


@dataclass
class Interval:
    start: str
    calls: float
    aht_s: float
    interval_s: float


class InputError(ValueError):
    pass


def read_intervals(path: str | Path, default_interval_s: float | None = None) -> list[Interval]:
    """Read the interval CSV; raises InputError naming the line and column of the first problem. A row without
    ``interval_s`` takes ``default_interval_s``; with None, 0 for now (``resolve_interval`` fills it in)."""
    p = Path(path)
    try:
        f = p.open(encoding="utf-8", newline="")
    except OSError as e:
        raise InputError(f"{p}: {e.strerror or e}") from None
    out: list[Interval] = []
    with f:
        reader = csv.DictReader(f)
        cols = [c.strip() for c in (reader.fieldnames or [])]
        missing = [c for c in ("start", "calls", "aht_s") if c not in cols]
        if missing:
            raise InputError(
                f"{p}: the header needs the columns start, calls, aht_s[, interval_s]; missing "
                f"{', '.join(missing)} (found: {', '.join(cols) or 'nothing'})"
            )
        for i, raw in enumerate(reader, start=2):
            row = {(k or "").strip(): (v or "").strip() for k, v in raw.items()}
            if not any(row.values()):
                continue

            calls, aht = _num(row, "calls", f"{p}:{i}"), _num(row, "aht_s", f"{p}:{i}")
            interval = _num(row, "interval_s", f"{p}:{i}", default_interval_s or 0.0)
            if interval <= 0 and row.get("interval_s", "") != "":
                raise InputError(f"{p}:{i}: column interval_s: must be > 0")
            if calls > 0 and aht <= 0:
                raise InputError(f"{p}:{i}: column aht_s: calls without a handle time")
            out.append(Interval(row["start"], calls, aht, interval))
    return out


def parse_start(label: str) -> tuple[float, bool] | None:
    """A start as seconds (of the day, or since the epoch for a date and time) and whether it is a time of day
    only; None for a label that is neither (``08:00``, ``8:30:00``, ``2026-03-01 08:30``, ``2026-03-01T08:30``)."""
    import re
    from datetime import datetime, timezone

    m = re.fullmatch(r"(\d{1,2}):(\d{2})(?::(\d{2}))?", label.strip())
    if m:
        h, mi, sec = int(m[1]), int(m[2]), int(m[3] or 0)
        return (h * 3600 + mi * 60 + sec, True) if h < 24 and mi < 60 and sec < 60 else None
    try:
        t = datetime.fromisoformat(label.strip())
    except ValueError:
        return None
    if t.tzinfo is None:
        t = t.replace(tzinfo=timezone.utc)  # only the differences matter
    return t.timestamp(), False


def infer_interval_s(starts: list[str]) -> tuple[float | None, str]:
    """The interval the starts imply (seconds), or None and why not. Consecutive rows are one interval apart or
    a multiple of it (a missing row); a time of day that goes back is taken as passing midnight."""
    parsed = [parse_start(s) for s in starts]
    if len(starts) < 2:
        return None, "one row has no step to measure"
    bad = [s for s, p in zip(starts, parsed) if p is None]
    if bad:
        return None, f"the start {bad[0]!r} is not a time (HH:MM) or a date and time (YYYY-MM-DD HH:MM)"
    steps = []
    for (a, day_a), (b, _), label in zip(parsed, parsed[1:], starts[1:]):  # type: ignore[misc]
        step = b - a
        if step < 0 and day_a:
            step += 86400
        if step <= 0:
            return None, f"the starts do not go forward (at {label!r})"
        steps.append(step)
    unit = min(steps)
    odd = [s for s in steps if abs(s / unit - round(s / unit)) > 1e-6]
    if odd:
        return None, f"the steps between starts are irregular ({_g(unit)} s and {_g(odd[0])} s)"
    return unit, f"{len(steps)} steps between starts"


def resolve_interval(rows: list[Interval], flag_s: float | None) -> tuple[dict, list[str]]:
    """Fill in the interval of the rows that have none: ``--interval-s``, else inferred from the starts.
    Returns what was used (for the output) and warnings; raises InputError when it cannot be told."""
    if flag_s is not None and not (math.isfinite(flag_s) and flag_s > 0):
        raise InputError("--interval-s must be a number of seconds > 0, e.g. 1800")
    warnings: list[str] = []
    need = [r for r in rows if r.interval_s <= 0]
    if not need:
        source = "the CSV's interval_s column"
    elif flag_s is not None:
        inferred, _ = infer_interval_s([r.start for r in rows])
        if inferred is not None and abs(inferred - flag_s) > 1e-6:
            warnings.append(
                f"--interval-s {_g(flag_s)} but the starts are {_g(inferred)} s apart: each row is "
                f"taken as {_g(flag_s)} s of calls, as asked"
            )
        for r in need:
            r.interval_s = flag_s
        source = "--interval-s"
    else:
        inferred, why = infer_interval_s([r.start for r in rows])
        if inferred is None:
            raise InputError(
                f"cannot tell the interval length from the starts ({why}): give --interval-s "
                "SECONDS (e.g. 1800 for half-hours, 3600 for hours) or an interval_s column"
            )
        for r in need:
            r.interval_s = inferred
        source = "inferred from the starts"
    if need and len(need) < len(rows):
        source += "; rows with interval_s keep theirs"
    lengths = {r.interval_s for r in rows}
    return {"interval_s": lengths.pop() if len(lengths) == 1 else None, "from": source}, warnings


def interval_text(info: dict) -> str:
    s = info.get("interval_s")
    if s is None:
        return f"Intervals: of several lengths ({info['from']})"
    size = f"{_g(s / 60)} min" if s % 60 == 0 else f"{_g(s)} s"
    return f"Intervals: {size} ({info['from']})"


def _num(row: dict[str, str], col: str, where: str, default: float | None = None) -> float:
    v = row.get(col, "")
    if v == "" and default is not None:
        return default
    try:
        x = float(v)
    except ValueError:
        raise InputError(f"{where}: column {col}: {v!r} is not a number") from None
    if not math.isfinite(x) or x < 0:
        raise InputError(f"{where}: column {col}: {v!r} must be a number >= 0")
    return x


def write_intervals(path: str | Path, rows: list[Interval]) -> None:
    with Path(path).open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(["start", "calls", "aht_s", "interval_s"])
        for r in rows:
            w.writerow([r.start, _g(r.calls), _g(r.aht_s), _g(r.interval_s)])


def _g(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else f"{x:.4f}".rstrip("0")


def staff_interval(row: Interval, target: dict, shrinkage: float) -> dict:
    """Agents for one interval, and what they achieve."""
    from wallboard.advisor.erlang import (
        agents_for_asa,
        agents_for_pwait,
        agents_for_sl,
        asa_c,
        erlang_c,
        service_level_c,
    )

    a = row.calls / row.interval_s * row.aht_s
    if target["kind"] == "sl":
        n = agents_for_sl(a, row.aht_s, target["seconds"], target["value"]) if a > 0 else 0
    elif target["kind"] == "asa":
        n = agents_for_asa(a, row.aht_s, target["value"]) if a > 0 else 0
    else:
        n = agents_for_pwait(a, target["value"]) if a > 0 else 0
    sl_t = target["seconds"]
    return {
        "start": row.start,
        "calls": row.calls,
        "aht_s": round(row.aht_s, 1),
        "interval_s": row.interval_s,
        "load_erlangs": round(a, 3),
        "agents": n,
        "scheduled": math.ceil(n / (1.0 - shrinkage) - 1e-9) if n else 0,
        "service_level": round(service_level_c(n, a, row.aht_s, sl_t), 4) if a > 0 else None,
        "sl_seconds": sl_t,
        "asa_s": round(asa_c(n, a, row.aht_s), 1) if a > 0 else None,
        "p_wait": round(erlang_c(n, a), 4) if a > 0 else None,
        "occupancy": round(a / n, 3) if n else None,
    }


# ---- the bank records ----------------------------------------------------------------------------------


def bank_intervals(
    path: str, queue: str, per: str = "hour-of-day", days: str = "sun-thu", wrapup_s: float = 0.0
) -> tuple[list[Interval], dict]:
    """Hourly intervals for one queue (service type) from an Anonymous Bank month, read by the project's
    ``calls-csv`` feed with the ``bank`` mapping (so a call counts as the board counts it: offered to the
    queue when it queued, or was served straight from the voice menu; it arrives at its queue join).

    - ``per="hour"``: every hour of the month with calls: calls that joined in the hour, and the mean talk
      time (``ser_time``) of those of them that were served, plus ``wrapup_s`` (the records have no wrap-up).
    - ``per="hour-of-day"``: for each hour of the day, the mean calls per day over the days of the month on
      the weekdays ``days`` (e.g. ``sun-thu``) that have calls at all, and the mean handle time of those calls.
      An hour with calls but none served takes the month's mean handle time.
    """
    from feeds.calls_csv import CallsCsvFeed
    from wallboard.config import expand_days, load_config
    from wallboard.events import CallCompleted, CallerJoined

    wanted = set(expand_days(days)) if days else None
    feed = CallsCsvFeed(path, load_config(None), mapping="bank")
    joined: dict[str, tuple] = {}
    calls: dict[tuple, int] = defaultdict(int)
    talk: dict[tuple, float] = defaultdict(float)
    done: dict[tuple, int] = defaultdict(int)
    for ev in feed.read():
        if getattr(ev, "queue", None) != queue:
            continue
        if isinstance(ev, CallerJoined):
            local = ev.ts  # local wall clock, with its fixed offset
            key = (local.date(), local.hour)
            joined[ev.call_id] = key
            calls[key] += 1
        elif isinstance(ev, CallCompleted):
            key = joined.get(ev.call_id)
            if key is not None:
                talk[key] += ev.talk_s
                done[key] += 1
    if not calls:
        raise InputError(f"{path}: no calls for queue {queue!r}")
    all_talk, all_done = sum(talk.values()), sum(done.values())
    month_aht = (all_talk / all_done if all_done else 0.0) + wrapup_s
    names = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
    meta = {
        "file": Path(path).name,
        "queue": queue,
        "per": per,
        "calls": sum(calls.values()),
        "served_with_talk": all_done,
        "month_aht_s": round(month_aht, 1),
        "wrapup_s": wrapup_s,
    }
    if per == "hour":
        rows = []
        for key in sorted(calls):
            aht = talk[key] / done[key] + wrapup_s if done[key] else month_aht
            rows.append(Interval(f"{key[0].isoformat()}T{key[1]:02d}:00", calls[key], round(aht, 2), 3600))
        return rows, meta
    if per != "hour-of-day":
        raise InputError(f"--per {per!r}: use 'hour' or 'hour-of-day'")
    day_set = sorted({d for d, _ in calls if wanted is None or names[d.weekday()] in wanted})
    if not day_set:
        raise InputError(f"{path}: no day of the month falls on {days}")
    chosen = set(day_set)
    by_hour_calls: dict[int, int] = defaultdict(int)
    by_hour_talk: dict[int, float] = defaultdict(float)
    by_hour_done: dict[int, int] = defaultdict(int)
    for (d, h), n in calls.items():
        if d in chosen:
            by_hour_calls[h] += n
            by_hour_talk[h] += talk[(d, h)]
            by_hour_done[h] += done[(d, h)]
    rows = []
    for h in sorted(by_hour_calls):
        aht = by_hour_talk[h] / by_hour_done[h] + wrapup_s if by_hour_done[h] else month_aht
        rows.append(Interval(f"{h:02d}:00", round(by_hour_calls[h] / len(day_set), 2), round(aht, 2), 3600))
    meta.update(
        days=days, days_counted=len(day_set), first_day=day_set[0].isoformat(), last_day=day_set[-1].isoformat()
    )
    return rows, meta


# ---- stored history -----------------------------------------------------------------------------------


async def _history_rows(client, config, keys, queue: str, day, weeks: int, minutes: int) -> tuple[list[Interval], dict]:
    from datetime import timedelta

    from wallboard.history.calendar import CentreCalendar
    from wallboard.history.rollup import HistoryReader, Rollup
    from wallboard.reports.figures import queue_figures

    cal = CentreCalendar(config.centre)
    days = [day - timedelta(days=7 * k) for k in range(weeks)]
    rollup = Rollup(client, config, keys)
    if queue not in await rollup.queue_names():
        raise InputError(f"unknown queue {queue!r}")
    qc = config.queue(queue)
    await rollup.ensure(min(days), max(days), queues=[queue], agents=[])
    got = (await HistoryReader(client, config, keys).intervals("q", [queue], days))[queue]
    stored = [d for d in days if got[d]]
    if not stored:
        raise InputError(f"no 15-minute intervals stored for queue {queue!r} on {', '.join(map(str, days))}")
    slots: dict[str, list[float]] = {}
    step = max(1, minutes // 15)
    for d in stored:
        bounds = cal.intervals(d)
        for idx, c in got[d].items():
            first = (idx // step) * step
            label = cal.local_iso(bounds[first][0])[11:16]
            acc = slots.setdefault(label, [0.0, 0.0, 0.0])
            acc[0] += queue_figures(c, qc)["offered"] or 0.0  # offered as the report counts it
            acc[1] += c.get("talk_s", 0.0) + c.get("wrap_s", 0.0)
            acc[2] += c.get("completed", 0.0)
    n = len(stored)
    rows = [
        Interval(label, round(a[0] / n, 4) if n > 1 else a[0], round(a[1] / a[2], 2) if a[2] else 0.0, minutes * 60.0)
        for label, a in sorted(slots.items())
    ]
    for r in rows:
        if r.calls > 0 and r.aht_s <= 0:  # calls but none completed in the slot: the day's handle time
            t = sum(a[1] for a in slots.values())
            c = sum(a[2] for a in slots.values())
            r.aht_s = round(t / c, 2) if c else 0.0
    meta = {
        "file": "history",
        "queue": queue,
        "per": f"{minutes} min",
        "days": f"{n} x {day.strftime('%A')}",
        "days_counted": n,
        "first_day": min(stored).isoformat(),
        "last_day": max(stored).isoformat(),
    }
    return [r for r in rows if r.calls > 0], meta


def history_intervals(
    config, queue: str, day, weeks: int = 1, minutes: int = 15, redis_url: str | None = None, keys=None
) -> tuple[list[Interval], dict]:
    """Intervals from stored history: ``calls`` = offered, ``aht_s`` = (talk + wrap-up) / completed; one day, or
    the mean of the same weekday over the last ``weeks`` weeks (the weeks with data)."""
    import asyncio

    from wallboard.keys import Keys
    from wallboard.store import connect

    if minutes not in (15, 60):
        raise InputError("--history-interval must be 15 or 60 (minutes)")
    if weeks < 1:
        raise InputError("--weekdays must be >= 1")

    async def main():
        client = await connect(config, redis_url)
        try:
            return await _history_rows(client, config, keys or Keys(config.redis.prefix), queue, day, weeks, minutes)
        finally:
            await client.aclose()

    return asyncio.run(main())


# ---- the command ---------------------------------------------------------------------------------------


def _target(args) -> dict:
    if args.target_asa is not None:
        if args.target_asa <= 0:
            raise InputError("--target-asa must be > 0 seconds")
        return {
            "kind": "asa",
            "value": args.target_asa,
            "seconds": args.sl_seconds,
            "text": f"ASA <= {args.target_asa:g} s",
        }
    if args.max_pwait is not None:
        if not 0 < args.max_pwait < 1:
            raise InputError("--max-pwait must be between 0 and 1")
        return {
            "kind": "pwait",
            "value": args.max_pwait,
            "seconds": args.sl_seconds,
            "text": f"P(wait) <= {args.max_pwait:g}",
        }
    sl = 0.8 if args.target_sl is None else args.target_sl
    if not 0 < sl < 1:
        raise InputError("--target-sl must be between 0 and 1, e.g. 0.8")
    if args.sl_seconds <= 0:
        raise InputError("--sl-seconds must be > 0")
    return {
        "kind": "sl",
        "value": sl,
        "seconds": args.sl_seconds,
        "text": f"{sl * 100:g}% answered within {args.sl_seconds:g} s",
    }


def _fmt(v, pct: bool = False) -> str:
    if v is None:
        return "-"
    if pct:
        return f"{v * 100:.1f}%"
    return f"{v:g}" if isinstance(v, float) else str(v)


def print_table(result: dict, out=None) -> None:
    t = result["target"]
    print(f"Target: {t['text']}; shrinkage {result['shrinkage'] * 100:g}% (Erlang C)", file=out)
    if result.get("source"):
        s = result["source"]
        extra = f", {s['days']} days {s['first_day']}..{s['last_day']} ({s['days_counted']})" if "days" in s else ""
        print(f"From {s['file']}, queue {s['queue']}, per {s['per']}{extra}", file=out)
    if result.get("interval"):
        print(interval_text(result["interval"]), file=out)
    head = ("start", "calls", "AHT s", "erlangs", "agents", "schedule", "SL", "ASA s", "occupancy", "")
    rows = result["intervals"]
    top = max((r["scheduled"] for r in rows), default=0) or 1
    body = []
    for r in rows:
        bar = "#" * round(r["scheduled"] / top * 30)
        calls = r["calls"]
        shown = str(int(calls)) if float(calls).is_integer() else f"{calls:.1f}"
        body.append(
            (
                r["start"],
                shown,
                f"{r['aht_s']:.0f}",
                f"{r['load_erlangs']:.2f}",
                r["agents"],
                r["scheduled"],
                _fmt(r["service_level"], True),
                "-" if r["asa_s"] is None else f"{r['asa_s']:.1f}",
                _fmt(r["occupancy"], True),
                bar,
            )
        )
    widths = [max(len(str(x[i])) for x in [head, *body]) for i in range(len(head))]
    for x in [head, *body]:
        print(
            "  ".join(
                str(c).ljust(w) if i in (0, len(head) - 1) else str(c).rjust(w)
                for i, (c, w) in enumerate(zip(x, widths))
            ).rstrip(),
            file=out,
        )
    print(
        f"Total: {result['agent_hours']:g} agent-hours on the phones, {result['scheduled_hours']:g} scheduled", file=out
    )


def compute(rows: list[Interval], target: dict, shrinkage: float) -> dict:
    intervals = [staff_interval(r, target, shrinkage) for r in rows]
    return {
        "target": target,
        "shrinkage": shrinkage,
        "intervals": intervals,
        "agent_hours": round(sum(i["agents"] * i["interval_s"] for i in intervals) / 3600, 2),
        "scheduled_hours": round(sum(i["scheduled"] * i["interval_s"] for i in intervals) / 3600, 2),
    }


def cmd_staff(args) -> int:
    interval = None
    try:
        target = _target(args)
        if not 0 <= args.shrinkage < 1:
            raise InputError("--shrinkage must be in [0, 1), e.g. 0.3")
        source = None
        if args.from_history:
            from datetime import date

            from ._context import config_from_args

            if args.csv or args.from_bank:
                raise InputError("give only one of --csv, --from-bank, --from-history")
            if not args.queue or not args.day:
                raise InputError("--from-history needs --queue Q and --day YYYY-MM-DD")
            try:
                day = date.fromisoformat(args.day)
            except ValueError:
                raise InputError(f"--day {args.day!r} is not a date (YYYY-MM-DD)") from None
            rows, source = history_intervals(
                config_from_args(args),
                args.queue,
                day,
                args.weekdays,
                args.history_interval,
                getattr(args, "redis", None),
            )
            if args.write_csv:
                write_intervals(args.write_csv, rows)
        elif args.from_bank:
            if args.csv:
                raise InputError("give either --csv or --from-bank, not both")
            if not args.queue:
                raise InputError("--from-bank needs --queue (a service type: PS, PE, IN, NE, NW, TT)")
            rows, source = bank_intervals(args.from_bank, args.queue, args.per, args.days, args.wrapup_s)
            if args.write_csv:
                write_intervals(args.write_csv, rows)
        elif args.csv:
            rows = read_intervals(args.csv)
            if not rows:
                raise InputError(f"{args.csv}: no intervals (only a header)")
            interval, warnings = resolve_interval(rows, args.interval_s)
            for w in warnings:
                print(f"wallboard staff: warning: {w}", file=sys.stderr)
        else:
            raise InputError("give --csv FILE (columns start, calls, aht_s[, interval_s]) or --from-bank FILE")
    except (InputError, FileNotFoundError) as e:
        print(f"wallboard staff: {e}", file=sys.stderr)
        return 2
    result = compute(rows, target, args.shrinkage)
    if source:
        result["source"] = source
    if interval is None:  # the bank's records and stored history make their own intervals
        lengths = {r.interval_s for r in rows}
        interval = {"interval_s": next(iter(lengths)) if len(lengths) == 1 else None, "from": "the input"}
    result["interval"] = interval
    if args.json:
        print(json.dumps(result))
    else:
        print_table(result)
    return 0


def register(sub, add_common) -> None:
    sp = sub.add_parser("staff", help="staffing calculator: agents to schedule per interval (Erlang C)")
    src = sp.add_argument_group("input")
    src.add_argument("--csv", default=None, help="intervals: columns start, calls, aht_s[, interval_s]")
    src.add_argument(
        "--interval-s",
        type=float,
        default=None,
        metavar="S",
        help="with --csv: the interval length in seconds for rows without interval_s (default: "
        "inferred from the starts; needed when they cannot tell)",
    )
    src.add_argument("--from-bank", default=None, metavar="FILE", help="an Anonymous Bank month instead of --csv")
    src.add_argument("--queue", default=None, help="with --from-bank: the service type (PS, PE, IN, NE, NW, TT)")
    src.add_argument(
        "--per",
        default="hour-of-day",
        choices=["hour-of-day", "hour"],
        help="with --from-bank: mean per hour of the day, or every hour of the month",
    )
    src.add_argument("--days", default="sun-thu", help="with --from-bank --per hour-of-day: weekdays averaged")
    src.add_argument("--wrapup-s", type=float, default=0.0, help="with --from-bank: wrap-up added to each call")
    src.add_argument("--write-csv", default=None, metavar="OUT", help="with --from-bank: save the intervals")
    src.add_argument(
        "--from-history", action="store_true", help="intervals from stored history (needs --queue and --day)"
    )
    src.add_argument("--day", default=None, metavar="YYYY-MM-DD", help="with --from-history: the day")
    src.add_argument(
        "--weekdays",
        type=int,
        default=1,
        metavar="N",
        help="with --from-history: mean of the same weekday over the last N weeks",
    )
    src.add_argument(
        "--history-interval",
        type=int,
        default=15,
        choices=[15, 60],
        help="with --from-history: interval minutes (15 or 60)",
    )
    tgt = sp.add_mutually_exclusive_group()
    tgt.add_argument("--target-sl", type=float, default=None, help="service level target (default 0.8)")
    tgt.add_argument("--target-asa", type=float, default=None, metavar="S", help="average speed of answer target")
    tgt.add_argument("--max-pwait", type=float, default=None, metavar="P", help="maximum probability of waiting")
    sp.add_argument("--sl-seconds", type=float, default=20.0, help="service level threshold (default 20)")
    sp.add_argument("--shrinkage", type=float, default=0.3, help="share of paid time off the phones (default 0.3)")
    sp.add_argument("--json", action="store_true", help="the intervals and totals as JSON")
    add_common(sp)
    sp.set_defaults(func=cmd_staff)
