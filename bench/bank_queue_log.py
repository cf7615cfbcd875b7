"""The Anonymous Bank's call records written as an Asterisk queue_log with its agents, for replay benchmarks and
equivalence checks on a real centre's day: real arrival times, waits, talk times and servers.

    python bench/bank_queue_log.py [MONTH ...] [--out PATH]      (default: all nine months to stdout)

Per record with a queue entry (``q_start`` set): ENTERQUEUE at ``q_start`` in the queue named by ``type``; then
CONNECT at ``ser_start`` by the ``server`` (an agent ``Agent/<server>``, with the wait) and COMPLETEAGENT at
``ser_exit``, or ABANDON at ``q_exit`` (``HANG``), or EXITWITHTIMEOUT (``PHANTOM``: the caller left unseen). Each
server is added (ADDMEMBER) to a queue the first time it answers there, and never logged off, as in a real log:
its agents stay ``available`` overnight, which is what makes agent time grow with the clock. Records without a
queue entry (served straight from the IVR) are left out. Call ids are ``<vru+line>-<call_id>`` (``call_id``
alone repeats).
"""

from __future__ import annotations

import argparse
import csv
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _bench as B  # noqa: E402

MONTHS = [
    "01_January",
    "02_February",
    "03_March",
    "04_April",
    "05_May",
    "06_June",
    "07_July",
    "09_September",
    "10_October",
]  # the nine months the data set has (no August)
TZ = timezone(timedelta(hours=2))  # Israel, winter time: close enough for a benchmark's day boundaries


def _at(day: str, hms: str) -> int | None:
    if not hms or hms == "0:00:00":
        return None
    h, m, s = (int(x) for x in hms.split(":"))
    d = datetime.strptime(day, "%y%m%d").replace(tzinfo=TZ)
    return int((d + timedelta(hours=h, minutes=m, seconds=s)).timestamp())


def rows(path: Path):
    """(epoch, queue_log line) of one month's records, unsorted."""
    members: set[tuple[str, str]] = set()
    with open(path, newline="", encoding="latin-1") as f:
        for r in csv.DictReader(f, delimiter="\t"):
            q_start = _at(r["date"], r["q_start"])
            if q_start is None:
                continue
            queue = r["type"].strip() or "XX"
            cid = f"{r['vru+line']}-{r['call_id']}"
            yield q_start, f"{q_start}|{cid}|{queue}|NONE|ENTERQUEUE||{r['customer_id']}|1"
            outcome = r["outcome"].strip()
            ser_start, ser_exit = _at(r["date"], r["ser_start"]), _at(r["date"], r["ser_exit"])
            server = r["server"].strip()
            if outcome == "AGENT" and ser_start and ser_exit and server and server != "NO_SERVER":
                agent = f"Agent/{server}"
                if (agent, queue) not in members:
                    members.add((agent, queue))
                    yield min(q_start, ser_start) - 1, f"{min(q_start, ser_start) - 1}|NONE|{queue}|{agent}|ADDMEMBER|"
                wait = max(0, ser_start - q_start)
                yield ser_start, f"{ser_start}|{cid}|{queue}|{agent}|CONNECT|{wait}|{cid}|1"
                yield (
                    ser_exit,
                    f"{ser_exit}|{cid}|{queue}|{agent}|COMPLETEAGENT|{wait}|{max(0, ser_exit - ser_start)}|1",
                )
            else:
                q_exit = _at(r["date"], r["q_exit"]) or q_start
                wait = max(0, q_exit - q_start)
                if outcome == "PHANTOM":
                    yield q_exit, f"{q_exit}|{cid}|{queue}|NONE|EXITWITHTIMEOUT|1|1|{wait}"
                else:
                    yield q_exit, f"{q_exit}|{cid}|{queue}|NONE|ABANDON|1|1|{wait}"


def write(months: list[str], out) -> int:
    data = B.shared_data() / "anonymous_bank"
    lines = []
    for m in months:
        lines.extend(rows(data / f"{m}.txt"))
    lines.sort(key=lambda x: x[0])  # stable: a call's rows keep their order within a second
    for _, ln in lines:
        out.write(ln + "\n")
    return len(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("months", nargs="*", default=MONTHS, help="e.g. 01_January (default: all nine)")
    ap.add_argument("--out", type=Path, default=None)
    a = ap.parse_args()
    if a.out:
        with open(a.out, "w", encoding="utf-8") as f:
            n = write(a.months, f)
        print(f"{n} lines -> {a.out}", file=sys.stderr)
    else:
        write(a.months, sys.stdout)


if __name__ == "__main__":
    main()
