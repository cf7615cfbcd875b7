"""Contact channels: what a queue's channel changes, declared once. Pure data, no I/O.

A queue has one channel (``voice`` unless the config says otherwise). The counting is the same on every
channel (joined, answered = first agent reply or acceptance, abandoned = the customer left before it,
completed = the conversation closed); what differs is the pace, so the defaults of a queue that leaves a
setting out follow its channel: the service-level threshold (an e-mail answered within hours), the short
abandon, the thresholds a queue gets when it configures none, and how many items of that channel an agent
handles at once (1 call, 3 chats, 5 e-mails).

On a **written** channel (all but voice) an agent works several conversations at once: the engine keeps each
agent's open conversations per channel, the queue's free agents are those with room for one more, and the
expected wait and the advisor work on slots (agents x capacity) instead of agents.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Mapping

Channel = Literal["voice", "chat", "messaging", "email", "social"]
CHANNELS: tuple[str, ...] = ("voice", "chat", "messaging", "email", "social")
WRITTEN: frozenset[str] = frozenset(CHANNELS) - {"voice"}


@dataclass(frozen=True)
class ChannelDefaults:
    """What a queue of this channel gets for a setting it leaves out (and an agent, for its capacity)."""

    sl_threshold_s: float
    short_abandon_s: float
    capacity: int  # items of this channel one agent handles at once
    # thresholds a queue gets when it has no [queues.thresholds] at all: metric -> Threshold fields
    thresholds: Mapping[str, Mapping[str, object]] = field(default_factory=dict)
    labels: Mapping[str, str] = field(default_factory=dict)  # the channel's name per language
    items: Mapping[str, str] = field(default_factory=dict)  # what one item is called, plural ("chats")


def _sl(warn: float, breach: float, window: str) -> dict[str, object]:
    return {"warn": warn, "breach": breach, "direction": "below", "window": window}


def _wait(warn: float, breach: float) -> dict[str, object]:
    return {"warn": warn, "breach": breach, "direction": "above"}


# Voice keeps the project's long-standing defaults (20 s, 5 s, no thresholds unless configured). The others
# are what written service is commonly promised: a chat within a minute, a message within 15 minutes, a social
# post within the hour, an e-mail within 4 hours. A live channel reads the rolling window; the slow ones read
# the day (a 30-minute window holds too few e-mails to judge).
DEFAULTS: dict[str, ChannelDefaults] = {
    "voice": ChannelDefaults(20, 5, 1, labels={"en": "Voice", "he": "קולי"}, items={"en": "calls", "he": "שיחות"}),
    "chat": ChannelDefaults(
        60,
        10,
        3,
        thresholds={"service_level": _sl(0.80, 0.70, "rolling"), "longest_wait_s": _wait(60, 120)},
        labels={"en": "Chat", "he": "צ'אט"},
        items={"en": "chats", "he": "צ'אטים"},
    ),
    "messaging": ChannelDefaults(
        900,
        60,
        5,
        thresholds={"service_level": _sl(0.80, 0.70, "since_reset"), "longest_wait_s": _wait(900, 1800)},
        labels={"en": "Messaging", "he": "הודעות"},
        items={"en": "messages", "he": "הודעות"},
    ),
    "email": ChannelDefaults(
        4 * 3600,
        0,
        5,
        thresholds={"service_level": _sl(0.80, 0.70, "since_reset"), "longest_wait_s": _wait(4 * 3600, 8 * 3600)},
        labels={"en": "E-mail", "he": 'דוא"ל'},
        items={"en": "e-mails", "he": "מיילים"},
    ),
    "social": ChannelDefaults(
        3600,
        60,
        5,
        thresholds={"service_level": _sl(0.80, 0.70, "since_reset"), "longest_wait_s": _wait(3600, 2 * 3600)},
        labels={"en": "Social", "he": "רשתות"},
        items={"en": "posts", "he": "פניות"},
    ),
}


def is_written(channel: str) -> bool:
    return channel in WRITTEN


def label(channel: str, language: str = "en") -> str:
    return DEFAULTS[channel].labels.get(language, channel) if channel in DEFAULTS else channel


def items(channel: str, language: str = "en") -> str:
    return DEFAULTS[channel].items.get(language, channel) if channel in DEFAULTS else channel


_SHORT = {"voice": "voice", "chat": "chat", "messaging": "msg", "email": "email", "social": "soc"}


def short(channel: str) -> str:
    """The channel in a narrow table column (5 characters at most)."""
    return _SHORT.get(channel, channel[:5])


def usage(open_now: int, capacity: int, channel: str, language: str = "en") -> str:
    """An agent's load on a channel as the agent grid shows it: ``2/3 chats``."""
    return f"{open_now}/{capacity} {items(channel, language)}"


def channel_problem(config, queue: str, channel: str) -> str | None:
    """Why an event of ``channel`` cannot belong to ``queue`` (a queue has one channel: the config's, voice for
    a queue it does not list), or None. Counting a chat in a voice queue would judge it by a 20-second SL."""
    have = config.queue(queue).channel
    if channel == have:
        return None
    return (
        f"channel: {channel!r} but queue {queue!r} is a {have} queue"
        + ("" if any(q.name == queue for q in config.queues) else " (not in the config)")
        + f"; set channel = {channel!r} under its [[queues]]"
    )


def agents_free(counts, channel: str = "voice") -> int:
    """A queue's agents free (``AgentCounts``): on voice those available; on a written channel those with room
    for one more conversation (logged in, not paused, fewer open than their capacity, not on a blocking call)."""
    return counts.free if is_written(channel) else counts.available


def centre_free(counts) -> int:
    """The centre total's agents free (``Total.agent_counts``): those who can take a contact now on at least one
    channel they serve: available on voice (or serving no written queue), or with room for one more
    conversation on a written channel (``Engine.centre_free``). An agent with 3 of 3 chats open who serves only
    chat is busy here as on the chat queue's row; one also serving a phone queue and available takes a call."""
    return counts.free


def centre_busy(counts) -> int:
    """The centre total's agents busy: logged in, not paused, not free (``centre_free``); Avail + Busy + Paused
    is every agent logged in."""
    return counts.logged_in - counts.paused - counts.free


def occupancy_now(counts, channel: str = "voice") -> float | None:
    """A queue's occupancy now (``AgentCounts``): its agents on a call or in wrap-up over those and the available
    ones, the live twin of the agents' occupancy over time (ringing and paused agents are in neither part, as
    ringing and paused seconds are in neither there). None with nobody in either part, and on a written channel:
    an agent chatting is ``available`` by state, so states say nothing of its load there (its use is the slots
    in use, the desk's Busy)."""
    if is_written(channel):
        return None
    return occupancy_of(counts.on_call, counts.wrap_up, counts.available)


def occupancy_of(on_call: int, wrap_up: int, available: int) -> float | None:
    busy = on_call + wrap_up
    return busy / (busy + available) if busy + available else None


def agents_busy(counts, channel: str = "voice") -> int:
    """A queue's agents busy (``AgentCounts``): on voice those ringing, on a call or in wrap-up; on a written
    channel those serving with no room left (logged in, not paused, not free: every slot in use, or on a call
    that blocks written work). An agent "available" with 3 of 3 chats open is busy; one on a call with 1 of 3
    chats, and voice not blocking, is not: it takes the next chat."""
    if is_written(channel):
        return counts.logged_in - counts.paused - counts.free
    return counts.ringing + counts.on_call + counts.wrap_up
