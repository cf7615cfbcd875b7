"""Scenarios for the simulated centre: the numbers that shape a day, apart from the model that runs them.

A scenario is plain data: per-queue caller profiles (rate, handle time, patience, exits), the day shape,
overload spikes, agents' habits (rings, breaks, outbound calls, callbacks). ``scenario_by_name`` picks one by
the name used on the command line: ``normal``, ``spike``, ``demo`` and ``quiet`` (nothing happens on its own;
tests and hand-scheduled callers).

The rates are tuned on the example centre (config/wallboard.toml: 4 queues, 7 first-choice agents each plus
a few second-choice ones) to be busy but mostly healthy at the peaks, and clearly breaching in a spike.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Literal


@dataclass(frozen=True)
class QueueProfile:
    """How callers of one queue behave."""

    calls_per_hour: float  # arrival rate at the top of the day shape
    talk_mean_s: float  # lognormal talk time: mean ...
    talk_sigma: float = 0.6  # ... and sigma of its logarithm
    patience_mean_s: float = 180.0  # exponential patience; a caller who runs out hangs up (abandoned)
    max_wait_s: float = 300.0  # then the queue sends the caller on (overflow "timeout")
    key_exit_p: float = 0.02  # share of callers who press a key to leave (overflow "key") ...
    key_after_s: tuple[float, float] = (15.0, 60.0)  # ... after a wait in this range
    callback_p: float = 0.25  # share of callers who accept the callback offer (overflow "callback") ...
    callback_after_s: tuple[float, float] = (45.0, 120.0)  # ... which the queue makes after this wait
    shape: Literal["voice", "chat", "email"] = "voice"  # the arrival curve over the day (``shape_of``)


@dataclass(frozen=True)
class Spike:
    """An overload on one queue: from ``at_offset_s`` after the start, for ``duration_s``, callers arrive at
    ``factor`` times the queue's peak rate (whatever the hour, so a spike is an overload wherever it lands)."""

    queue: str
    at_offset_s: float
    duration_s: float
    factor: float


@dataclass(frozen=True)
class BreakReason:
    reason: str
    weight: float
    mean_s: float  # lognormal duration, sigma 0.3


@dataclass(frozen=True)
class Scenario:
    name: str
    queues: dict[str, QueueProfile] = field(default_factory=dict)
    default_queue: QueueProfile = QueueProfile(calls_per_hour=30.0, talk_mean_s=200.0)
    # Day shape: "clock" reads the centre's local time of day; "start" places the shape's
    # ``shape_start_hour`` at the moment the simulation starts (the demo: busy at once, any time of day).
    shape_anchor: Literal["clock", "start"] = "clock"
    shape_start_hour: float = 0.0
    honour_hours: bool = True  # no arrivals while a queue is closed by its configured hours
    spikes: tuple[Spike, ...] = ()
    # Queues the backups stand by for: an agent with a better queue elsewhere logs in to all its skills, then
    # out of these queues a second later (QueueMemberRemoved), so the skill is in the config but idle; the
    # supervisor (or the advisor's move) adds the agent when the queue needs it.
    standby: tuple[str, ...] = ()
    # Rings: answered after a few seconds; a missed ring lasts the ring timeout, then the agent rests
    # ``retry_s`` before being offered a call again (Asterisk's ``retry``).
    ring_s: tuple[float, float] = (2.0, 6.0)
    miss_p: float = 0.03
    ring_timeout_s: float = 15.0
    retry_s: float = 5.0
    agent_hangup_p: float = 0.3  # share of calls the agent ends (AgentComplete reason)
    # Breaks: each agent asks for one about every ``break_every_s``; granted while few are paused.
    break_every_s: float = 6000.0
    break_reasons: tuple[BreakReason, ...] = (
        BreakReason("break", 0.7, 600.0),
        BreakReason("lunch", 0.2, 1800.0),
        BreakReason("training", 0.1, 1200.0),
    )
    max_paused_share: float = 0.25  # of a queue's members, and of the centre (at least one)
    # Outbound calls an available agent places now and then; callbacks are placed the same way.
    outbound_per_hour: float = 0.5
    dial_answer_p: float = 0.7
    dial_ring_s: tuple[float, float] = (5.0, 25.0)
    outbound_talk_mean_s: float = 90.0
    callback_delay_s: tuple[float, float] = (120.0, 600.0)  # earliest call back after the request

    def profile(self, queue: str) -> QueueProfile:
        return self.queues.get(queue, self.default_queue)

    def spike_factor(self, queue: str, offset_s: float) -> float | None:
        """The spike factor in force for the queue at this offset from the start, if any."""
        best = None
        for s in self.spikes:
            if s.queue == queue and s.at_offset_s <= offset_s < s.at_offset_s + s.duration_s:
                best = s.factor if best is None else max(best, s.factor)
        return best

    def peak_factor(self, queue: str) -> float:
        """The largest rate multiplier the queue ever sees (for thinning the arrival process)."""
        return max([1.0] + [s.factor for s in self.spikes if s.queue == queue])

    def preceded_by(self, lead_s: float) -> Scenario:
        """The same day for a model started ``lead_s`` earlier (a PBX that simulates the time before "now"):
        spikes and a start-anchored day shape land where they would without it."""
        if lead_s <= 0:
            return self
        return replace(
            self,
            shape_start_hour=self.shape_start_hour - lead_s / 3600.0,
            spikes=tuple(replace(s, at_offset_s=s.at_offset_s + lead_s) for s in self.spikes),
        )


def _bump(hour: float, centre: float, width: float) -> float:
    d = (hour - centre + 12.0) % 24.0 - 12.0  # distance on the 24-hour circle
    return math.exp(-0.5 * (d / width) ** 2)


def _raw_shape(hour: float) -> float:
    return 0.03 + _bump(hour, 10.5, 1.5) + 0.85 * _bump(hour, 15.0, 1.8)


_SHAPE_MAX = max(_raw_shape(h / 60.0) for h in range(24 * 60))


def day_shape(hour: float) -> float:
    """Share (0..1] of the peak arrival rate at a local hour of the day: a quiet night, a morning peak near
    10:30, a lunch dip and a slightly lower afternoon peak near 15:00."""
    return _raw_shape(hour % 24.0) / _SHAPE_MAX


def _raw_chat(hour: float) -> float:
    return 0.05 + 0.8 * _bump(hour, 12.5, 2.5) + _bump(hour, 20.5, 1.8)


def _raw_email(hour: float) -> float:
    return 0.25 + _bump(hour, 9.0, 2.0) + 0.6 * _bump(hour, 14.0, 2.5)


_CHAT_MAX = max(_raw_chat(h / 60.0) for h in range(24 * 60))
_EMAIL_MAX = max(_raw_email(h / 60.0) for h in range(24 * 60))


def chat_shape(hour: float) -> float:
    """Chats: a slow morning, a lunchtime rise near 12:30 and the day's peak in the evening near 20:30, when
    the phones are closed or busy (web and app users write after work)."""
    return _raw_chat(hour % 24.0) / _CHAT_MAX


def email_shape(hour: float) -> float:
    """E-mails: they arrive around the clock (a quarter of the peak at night) with a peak near 09:00, as
    the night's mail is read, and a lower one in the afternoon."""
    return _raw_email(hour % 24.0) / _EMAIL_MAX


def shape_of(kind: str) -> Callable[[float], float]:
    return {"voice": day_shape, "chat": chat_shape, "email": email_shape}[kind]


# Written queues of the demo centre (wallboard/data/demo.toml): chat handled 3 at a time (about 9 minutes from
# acceptance to close, customers who give up after some 4 minutes), e-mail 5 at a time (a reply drafted over a
# quarter of an hour, nobody "hangs up").
_WRITTEN_QUEUES = {
    "chat": QueueProfile(
        calls_per_hour=150.0,
        talk_mean_s=540.0,
        talk_sigma=0.5,
        patience_mean_s=240.0,
        max_wait_s=math.inf,
        key_exit_p=0.0,
        callback_p=0.0,
        shape="chat",
    ),
    "email": QueueProfile(
        calls_per_hour=60.0,
        talk_mean_s=900.0,
        talk_sigma=0.5,
        patience_mean_s=math.inf,
        max_wait_s=math.inf,
        key_exit_p=0.0,
        callback_p=0.0,
        shape="email",
    ),
}

# The example centre's queues. At the morning peak each queue brings 5-6.3 erlangs (rate x (talk + wrap-up))
# to 7 first-choice agents less breaks, helped by the second-choice ones. Measured on config/wallboard.toml,
# seeds 1-4: service level 81-91 % per queue over the day, 58-88 % in the 10:00-11:00 peak hour.
_EXAMPLE_QUEUES = {
    "support": QueueProfile(calls_per_hour=95.0, talk_mean_s=210.0, patience_mean_s=180.0, max_wait_s=240.0),
    "tech": QueueProfile(
        calls_per_hour=72.0, talk_mean_s=300.0, talk_sigma=0.7, patience_mean_s=240.0, max_wait_s=360.0
    ),
    "billing": QueueProfile(calls_per_hour=90.0, talk_mean_s=190.0, patience_mean_s=150.0, max_wait_s=240.0),
    "sales": QueueProfile(
        calls_per_hour=105.0, talk_mean_s=170.0, patience_mean_s=120.0, max_wait_s=180.0, callback_p=0.15
    ),
}


def normal_day() -> Scenario:
    """An ordinary day on the centre's own clock and business hours."""
    return Scenario(name="normal", queues={**_EXAMPLE_QUEUES, **_WRITTEN_QUEUES})


def overload_spike(
    queue: str = "support", at_offset_s: float = 10 * 3600.0, factor: float = 3.0, duration_s: float = 3600.0
) -> Scenario:
    """A normal day with an overload on one queue (by default 10:00-11:00 when started at midnight)."""
    return replace(normal_day(), name="spike", spikes=(Spike(queue, at_offset_s, duration_s, factor),))


def demo(queue: str = "support", at_offset_s: float = 20.0, factor: float = 2.5, duration_s: float = 900.0) -> Scenario:
    """For ``wallboard demo``: open around the clock, the day shape placed so the demo starts at 10:00 of
    a busy morning whenever it is run, and an overload on one queue within the first minute. The overloaded
    queue's backups stand by (``standby``): on the example centre Omer, Ido and Adi (sales first, skilled for
    support) are in sales only, and sales is quiet this morning (70 calls/h at the peak, not 105), so the advisor
    has a move to offer from the first minute (sales can spare them; 2.5 x support's peak rate needs about 11
    agents where 7 serve), and applying it shows."""
    quiet_sales = replace(_EXAMPLE_QUEUES["sales"], calls_per_hour=70.0)  # its backups can be spared for support
    # tech staffed for its load: at 72 calls/h (6.3 erlangs on 7 agents less breaks) the hour of history the demo
    # runs first leaves it drowning before support's overload lands
    staffed_tech = replace(_EXAMPLE_QUEUES["tech"], calls_per_hour=60.0)
    return replace(
        normal_day(),
        name="demo",
        queues={**_EXAMPLE_QUEUES, **_WRITTEN_QUEUES, "sales": quiet_sales, "tech": staffed_tech},
        shape_anchor="start",
        shape_start_hour=10.0,
        honour_hours=False,
        spikes=(Spike(queue, at_offset_s, duration_s, factor),),
        standby=(queue,),
    )


def quiet() -> Scenario:
    """Nothing happens on its own: no arrivals, breaks, outbound calls or missed rings. Callers are
    scheduled by hand (``SimCentre.schedule_caller``); for tests."""
    quiet_queue = QueueProfile(calls_per_hour=0.0, talk_mean_s=120.0, key_exit_p=0.0, callback_p=0.0)
    return Scenario(
        name="quiet",
        default_queue=quiet_queue,
        honour_hours=False,
        miss_p=0.0,
        break_every_s=0.0,
        outbound_per_hour=0.0,
    )


SCENARIOS: dict[str, Callable[..., Scenario]] = {
    "normal": normal_day,
    "spike": overload_spike,
    "demo": demo,
    "quiet": quiet,
}


def scenario_by_name(name: str, queues: list[str] | None = None, **params: Any) -> Scenario:
    """The named scenario; ``params`` go to its factory. A spike (``spike``, ``demo``) lands on ``support``
    when the centre has it, else on the first of ``queues`` (the configured queue names)."""
    try:
        factory = SCENARIOS[name]
    except KeyError:
        raise ValueError(f"no scenario {name!r}; choose one of {', '.join(SCENARIOS)}") from None
    if name in ("spike", "demo") and "queue" not in params and queues and "support" not in queues:
        params["queue"] = queues[0]
    return factory(**params)
