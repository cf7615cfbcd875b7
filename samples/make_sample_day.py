"""Write samples/sample_day.queue_log: one simulated day of the example centre, as Asterisk's queue_log.

The centre is config/wallboard.toml (queues support, tech, billing, sales; agents 1001-1028 on PJSIP/10xx
with their skills as penalties). Sunday 2026-11-22, calls from 08:00 to 20:00 Asia/Jerusalem. Deterministic:
a fixed seed and the standard library only, so running it again writes the same bytes:

    python samples/make_sample_day.py [--out PATH]

A small discrete-event simulation decides what happens; each call's rows come out in Asterisk's order
(app_queue.c): DID (FreePBX) and ENTERQUEUE, then RINGNOANSWER / AGENTDUMP for rings that fail, then one
ending: CONNECT and COMPLETECALLER / COMPLETEAGENT / BLINDTRANSFER / ATTENDEDTRANSFER; RINGCANCELED (caller hung
up while a member rang) and ABANDON; or EXITWITHTIMEOUT / EXITEMPTY / EXITWITHKEY / WITHDRAW. Agents join
their skill queues at the start of their shift (ADDMEMBER) and leave at the end (REMOVEMEMBER), take breaks
and lunch (PAUSEALL then a PAUSE per queue, as set_member_paused logs them), and billing holds a short team
meeting during which its waiting callers leave with EXITEMPTY (leavewhenempty=paused). One call ends in
ATTENDEDTRANSFER with no CONNECT row (seen in the field, asterisk/asterisk#759).
"""

from __future__ import annotations

import argparse
import heapq
import itertools
import random
import tomllib
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

HERE = Path(__file__).resolve().parent
CONFIG = HERE.parent / "config" / "wallboard.toml"
OUT = HERE / "sample_day.queue_log"
SEED = 20261122
TZ = ZoneInfo("Asia/Jerusalem")
DAY = (2026, 11, 22)  # a Sunday: a full working day in Israel

# Per queue: calls in the day, mean talk (s), mean patience (s), queue timeout (s), DID dialled.
PLAN = {
    "support": dict(calls=700, talk_s=200, patience_s=260, timeout_s=300, did="035550100"),
    "tech": dict(calls=440, talk_s=330, patience_s=300, timeout_s=420, did="035550200"),
    "billing": dict(calls=300, talk_s=240, patience_s=220, timeout_s=300, did="035550300"),
    "sales": dict(calls=330, talk_s=260, patience_s=160, timeout_s=180, did="035550400"),
}
# Relative call volume by local hour.
HOURLY = {8: 0.6, 9: 1.0, 10: 1.3, 11: 1.35, 12: 1.1, 13: 0.95, 14: 1.15, 15: 1.1, 16: 0.9, 17: 0.75, 18: 0.55, 19: 0.4}
RING_TIMEOUT_S = 15  # queues.conf timeout: a member rings this long before RINGNOANSWER
RETRY_S = 30  # a member who did not answer is not rung again for the same caller sooner than this
SHIFTS = {"A": ((7, 50), (16, 10)), "B": ((11, 50), (20, 10))}


def local(h: int, m: int = 0, s: float = 0) -> float:
    return datetime(*DAY, h, m, tzinfo=TZ).timestamp() + s


@dataclass
class Call:
    uid: str
    queue: str
    arrival: float
    caller: str
    opos: int = 0
    leave_at: float = 0.0
    leave_kind: str = ""
    status: str = "waiting"  # waiting, ringing, talking, done
    rung: dict[str, float] = field(default_factory=dict)  # agent -> when last rung for this call


@dataclass
class Agent:
    id: str
    iface: str
    skills: dict[str, int]  # queue -> penalty
    shift: str
    logged_in: bool = False
    busy: bool = False  # ringing, talking or in wrap-up
    paused: str | None = None  # pause reason ("" for none given) while paused
    pause_token: int = 0
    wanted: list[tuple[str, float]] = field(default_factory=list)  # pauses asked for while busy or paused
    leaving: bool = False
    last_call_end: float = 0.0


class Day:
    def __init__(self, config: dict, rng: random.Random):
        self.rng = rng
        self.wrapup_s = {q["name"]: float(q.get("wrapup_s", 0)) for q in config["queues"]}
        self.agents = [
            Agent(a["id"], a["interface"], dict(a["skills"]), "A" if i % 7 < 4 else "B")
            for i, a in enumerate(config["agents"])
        ]
        self.by_id = {a.id: a for a in self.agents}
        self.waiting: dict[str, list[Call]] = {q: [] for q in self.wrapup_s}
        self.heap: list[tuple[float, int, str, object]] = []
        self.seq = itertools.count()
        self.channel_seq = itertools.count(48213)
        self.rows: list[tuple[int, int, str]] = []
        self.no_connect_done = False

    # -- output -------------------------------------------------------------------------------------------------

    def row(self, t: float, callid: str, queue: str, agent: str, verb: str, *data: object) -> None:
        line = "|".join([str(int(t)), callid, queue, agent, verb, *(str(d) for d in data)])
        self.rows.append((int(t), next(self.seq), line))

    def channel(self, t: float) -> str:
        return f"{int(t)}.{next(self.channel_seq)}"

    def at(self, t: float, kind: str, data: object = None) -> None:
        heapq.heappush(self.heap, (t, next(self.seq), kind, data))

    # -- plan ---------------------------------------------------------------------------------------------------

    def plan(self) -> None:
        rng = self.rng
        self.row(local(7, 30), "NONE", "NONE", "NONE", "CONFIGRELOAD", "")
        for q, p in PLAN.items():
            hours = _open_hours(q)
            weight = sum(HOURLY[h] for h in hours)
            for h in hours:
                for _ in range(_poisson(rng, p["calls"] * HOURLY[h] / weight)):
                    self.at(local(h, 0, rng.uniform(0, 3600)), "arrive", q)
        for i, a in enumerate(self.agents):
            (h0, m0), (h1, m1) = SHIFTS[a.shift]
            start = local(h0, m0, rng.uniform(0, 300))
            self.at(start, "login", a)
            self.at(local(h1, m1, rng.uniform(0, 600)), "logout", a)
            k = (i // 4) % 4  # a queue's primary agents are 4 apart in the config: stagger their breaks
            for after_min, jitter_min, reason, (low_min, high_min) in (
                (100 + 20 * k, 5, "break", (10, 15)),
                (200 + 35 * k, 3, "lunch", (28, 32)),
                (370 + 15 * k, 3, "break", (8, 12)),
            ):
                when = start + (after_min + rng.uniform(-jitter_min, jitter_min)) * 60
                self.at(when, "want_pause", (a, reason, rng.uniform(low_min, high_min) * 60))
        for aid in ("1013", "1020"):
            self.at(local(15, 30), "want_pause", (self.by_id[aid], "training", 45 * 60))
        # Billing team meeting: the supervisor pauses every billing member at once.
        self.at(local(13, 0, 5), "meeting", (local(13, 12), "meeting"))
        # A supervisor moves Omer (1004) up in support for the morning peak, then back.
        self.at(local(10, 30, 12), "penalty", (self.by_id["1004"], "support", 0))
        self.at(local(12, 0, 40), "penalty", (self.by_id["1004"], "support", 1))

    # -- run ----------------------------------------------------------------------------------------------------

    def run(self) -> list[str]:
        self.plan()
        while self.heap:
            t, _, kind, data = heapq.heappop(self.heap)
            getattr(self, "on_" + kind)(t, data)
            self.dispatch(t)
        self.rows.sort()  # already in time order; this only pins rows of one second to their emission order
        return [line for _, _, line in self.rows]

    def dispatch(self, t: float) -> None:
        """Offer the longest-waiting callers to idle members: lowest penalty first, then least recent."""
        calls = sorted((c for q in self.waiting.values() for c in q if c.status == "waiting"), key=lambda c: c.arrival)
        for call in calls:
            best = None
            for a in self.agents:
                pen = a.skills.get(call.queue)
                if pen is None or not a.logged_in or a.busy or a.paused is not None:
                    continue
                if t - call.rung.get(a.id, -RETRY_S) < RETRY_S:
                    continue
                key = (pen, a.last_call_end, a.id)
                if best is None or key < best[0]:
                    best = (key, a)
            if best is not None:
                self.ring(t, call, best[1])

    def ring(self, t: float, call: Call, a: Agent) -> None:
        rng = self.rng
        call.status, a.busy = "ringing", True
        call.rung[a.id] = t
        roll = rng.random()
        if roll < 0.05:
            outcome, ring_s = "noanswer", float(RING_TIMEOUT_S)
        elif roll < 0.053:
            outcome, ring_s = "dump", rng.uniform(3, 8)  # answered, hung up during the announcement
        else:
            outcome, ring_s = "answer", rng.uniform(2, 9)
        if call.leave_kind == "abandon" and call.leave_at < t + ring_s:
            # the caller hangs up while the member rings: RINGCANCELED then ABANDON
            self.at(max(call.leave_at, t + 0.5), "ring_cancel", (call, a, t))
        else:
            self.at(t + ring_s, "ring_end", (call, a, outcome, t))

    # -- handlers -----------------------------------------------------------------------------------------------

    def on_arrive(self, t: float, queue: str) -> None:
        rng, p = self.rng, PLAN[queue]
        uid = self.channel(t - rng.uniform(4, 40))  # the channel was created before the IVR sent it here
        caller = "05" + "".join(rng.choice("0123456789") for _ in range(8))
        call = Call(uid, queue, t, caller)
        waiting = self.waiting[queue]
        call.opos = len(waiting) + 1
        self.row(t, uid, queue, "NONE", "DID", p["did"])
        self.row(t, uid, queue, "NONE", "ENTERQUEUE", "", caller, call.opos)
        if not self._staffed(queue):  # leavewhenempty: out at the next check
            self.at(t + rng.uniform(1, 3), "leave", (call, "empty"))
            call.leave_kind, call.leave_at = "empty", t + 3
            waiting.append(call)
            return
        patience = rng.uniform(1, 5) if rng.random() < 0.03 else rng.expovariate(1 / p["patience_s"])
        plans = [(t + patience, "abandon"), (t + p["timeout_s"], "timeout")]
        if rng.random() < 0.03:
            plans.append((t + rng.uniform(45, 150), "key"))  # "press 1 for a callback"
        if rng.random() < 0.01:
            plans.append((t + rng.uniform(20, 90), "withdraw"))  # taken out for a callback
        call.leave_at, call.leave_kind = min(plans)
        waiting.append(call)
        self.at(call.leave_at, "leave", (call, call.leave_kind))

    def on_leave(self, t: float, data: tuple[Call, str]) -> None:
        call, kind = data
        if call.status != "waiting" or kind != call.leave_kind:
            return  # answered, ringing (see ring/ring_end) or already gone
        self._exit(t, call, kind)

    def _exit(self, t: float, call: Call, kind: str) -> None:
        waiting = self.waiting[call.queue]
        pos = waiting.index(call) + 1
        waited = int(t) - int(call.arrival)
        q, uid = call.queue, call.uid
        if kind == "abandon":
            self.row(t, uid, q, "NONE", "ABANDON", pos, call.opos, waited)
        elif kind == "timeout":
            self.row(t, uid, q, "NONE", "EXITWITHTIMEOUT", pos, call.opos, waited)
        elif kind == "empty":
            self.row(t, uid, q, "NONE", "EXITEMPTY", pos, call.opos, waited)
        elif kind == "key":
            self.row(t, uid, q, "NONE", "EXITWITHKEY", "1", pos, call.opos, waited)
        else:
            self.row(t, uid, q, "NONE", "WITHDRAW", pos, call.opos, waited, "callback")
        waiting.remove(call)
        call.status = "done"

    def on_ring_cancel(self, t: float, data: tuple[Call, Agent, float]) -> None:
        call, a, started = data
        self.row(t, call.uid, call.queue, a.iface, "RINGCANCELED", int((t - started) * 1000))
        call.status = "waiting"
        self._free(t, a)
        self._exit(t, call, "abandon")

    def on_ring_end(self, t: float, data: tuple[Call, Agent, str, float]) -> None:
        call, a, outcome, started = data
        if outcome != "answer":
            if outcome == "noanswer":
                self.row(t, call.uid, call.queue, a.iface, "RINGNOANSWER", RING_TIMEOUT_S * 1000)
            else:
                self.row(t, call.uid, call.queue, a.iface, "AGENTDUMP")
            call.status = "waiting"
            self._free(t, a)
            if call.leave_at <= t:  # its time to go came while the member rang
                self._exit(t, call, call.leave_kind)
            return
        rng = self.rng
        self.waiting[call.queue].remove(call)
        call.status = "talking"
        hold = int(t) - int(call.arrival)
        end = rng.random()
        talk = max(8.0, rng.lognormvariate(0, 0.7) * PLAN[call.queue]["talk_s"] * 0.8)
        if end < 0.02:
            ending = "attended"
        elif end < 0.05:
            ending = "blind"
        else:
            ending = "caller" if end < 0.57 else "agent"
        skip_connect = ending == "attended" and not self.no_connect_done and t > local(11)
        if skip_connect:
            self.no_connect_done = True  # the asterisk#759 case: no CONNECT row for this call
        else:
            self.row(t, call.uid, call.queue, a.iface, "CONNECT", hold, self.channel(started), int(t - started))
        self.at(t + talk, "hangup", (call, a, ending, t, hold))

    def on_hangup(self, t: float, data: tuple[Call, Agent, str, float, int]) -> None:
        call, a, ending, answered_at, hold = data
        rng, q, uid = self.rng, call.queue, call.uid
        talk = int(t) - int(answered_at)
        if ending == "caller":
            self.row(t, uid, q, a.iface, "COMPLETECALLER", hold, talk, call.opos)
        elif ending == "agent":
            self.row(t, uid, q, a.iface, "COMPLETEAGENT", hold, talk, call.opos)
        elif ending == "blind":
            exten = rng.choice(["2100", "2105", "2200", "2310"])
            self.row(t, uid, q, a.iface, "BLINDTRANSFER", exten, "from-internal", hold, talk, call.opos)
        else:
            kind = rng.random()
            if kind < 0.75:
                dest = ["BRIDGE", "-".join(f"{rng.getrandbits(b):0{b // 4}x}" for b in (32, 16, 16, 16, 48))]
            elif kind < 0.93:
                n = next(self.channel_seq)
                dest = ["LINK", f"{a.iface}-{n:08x}", f"PJSIP/2001-{n + 1:08x}"]
            else:
                dest = ["APP", "VoiceMail"]
            self.row(t, uid, q, a.iface, "ATTENDEDTRANSFER", *dest, hold, talk, call.opos)
        call.status = "done"
        a.last_call_end = t
        if a.wanted and a.paused is None:  # agents press pause during wrap-up, a few seconds after the call
            self.at(t + rng.uniform(2, 8), "pause_now", a)
        self.at(t + self.wrapup_s.get(q, 0), "wrap_end", a)

    def on_wrap_end(self, t: float, a: Agent) -> None:
        self._free(t, a)

    def _free(self, t: float, a: Agent) -> None:
        a.busy = False
        if a.leaving:
            self._logout(t, a)
        elif a.wanted and a.paused is None:
            self.on_pause_now(t, a)

    def on_login(self, t: float, a: Agent) -> None:
        a.logged_in = True
        late_joiner = a.id == "1027"  # joins paused, unpauses after setting up
        for q in a.skills:
            self.row(t, "NONE", q, a.iface, "ADDMEMBER", "PAUSED" if late_joiner else "")
        if late_joiner:
            a.paused = ""
            a.pause_token += 1
            self.at(t + 300, "unpause", (a, a.pause_token))

    def on_logout(self, t: float, a: Agent) -> None:
        a.leaving = True
        if not a.busy:
            self._logout(t, a)

    def _logout(self, t: float, a: Agent) -> None:
        if not a.logged_in:
            return
        for q in a.skills:
            self.row(t, "NONE", q, a.iface, "REMOVEMEMBER", "")
        a.logged_in, a.wanted, a.paused = False, [], None
        a.pause_token += 1
        self._leave_if_empty(t, a)

    def on_want_pause(self, t: float, data: tuple[Agent, str, float]) -> None:
        a, reason, length = data
        if not a.logged_in or a.leaving:
            return
        a.wanted.append((reason, length))
        if not a.busy and a.paused is None:
            self.on_pause_now(t, a)

    def on_pause_now(self, t: float, a: Agent) -> None:
        if not a.wanted or a.paused is not None or not a.logged_in:
            return
        reason, length = a.wanted.pop(0)
        self._pause(t, a, reason, length)

    def _pause(self, t: float, a: Agent, reason: str, length: float) -> None:
        self.row(t, "NONE", "NONE", a.iface, "PAUSEALL", "")
        for q in a.skills:
            self.row(t, "NONE", q, a.iface, "PAUSE", reason)
        a.paused = reason
        a.pause_token += 1
        self.at(t + length, "unpause", (a, a.pause_token))
        self._leave_if_empty(t, a)

    def on_unpause(self, t: float, data: tuple[Agent, int]) -> None:
        a, token = data
        if token != a.pause_token or not a.logged_in:
            return
        if a.wanted:  # a pause asked for meanwhile follows straight on
            reason, length = a.wanted.pop(0)
            self._pause(t, a, reason, length)
            return
        self.row(t, "NONE", "NONE", a.iface, "UNPAUSEALL", "")
        for q in a.skills:
            self.row(t, "NONE", q, a.iface, "UNPAUSE", "")
        a.paused = None

    def on_meeting(self, t: float, data: tuple[float, str]) -> None:
        until, reason = data
        for a in self.agents:
            if "billing" in a.skills and a.logged_in and a.paused is None:
                self._pause(t, a, reason, until - t)  # on a call too: paused at once, the call goes on

    def on_penalty(self, t: float, data: tuple[Agent, str, int]) -> None:
        a, q, penalty = data
        if a.logged_in:
            a.skills[q] = penalty
            self.row(t, "NONE", q, a.iface, "PENALTY", penalty)

    def _leave_if_empty(self, t: float, a: Agent) -> None:
        """leavewhenempty=paused: when a queue's last member pauses or leaves, its callers go at the next check."""
        for q in a.skills:
            if self._staffed(q):
                continue
            for call in self.waiting[q]:
                if call.status == "waiting" and call.leave_kind != "empty":
                    call.leave_at, call.leave_kind = t + 1, "empty"
                    self.at(t + 1, "leave", (call, "empty"))

    def _staffed(self, queue: str) -> bool:
        return any(queue in a.skills and a.logged_in and a.paused is None for a in self.agents)


def _open_hours(queue: str) -> list[int]:
    """Sunday hours of the queue from the plan's 08-20 day (billing 09-17, sales 09-19 in the config)."""
    return {"billing": list(range(9, 17)), "sales": list(range(9, 19))}.get(queue, list(range(8, 20)))


def _poisson(rng: random.Random, mean: float) -> int:
    n, t = 0, rng.expovariate(1.0)
    while t < mean:
        n += 1
        t += rng.expovariate(1.0)
    return n


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args()
    config = tomllib.loads(CONFIG.read_text(encoding="utf-8"))
    lines = Day(config, random.Random(SEED)).run()
    args.out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"wrote {len(lines)} rows to {args.out}")


if __name__ == "__main__":
    main()
