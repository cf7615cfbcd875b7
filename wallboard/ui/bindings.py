"""Key bindings with stable ids, so ``[display] keys = { "wallboard.ack" = "k" }`` remaps them.

The ids are a contract (config files name them); the keys are defaults.
"""

from __future__ import annotations

from dataclasses import dataclass

from textual.binding import Binding

SNOOZE_MINUTES = 15


@dataclass(frozen=True)
class KeySpec:
    id: str
    key: str
    action: str
    description: str
    show: bool = True
    key_display: str | None = None
    help: str | None = None  # the help screen's description, when not ``description``
    alias: bool = False  # a second binding of the same id (pause / unpause on one key): not listed in help


QUEUE_KEYS: tuple[KeySpec, ...] = (
    KeySpec("wallboard.drill", "enter", "drill", "Drill down", key_display="⏎"),
    KeySpec("wallboard.ack", "a", "ack", "Ack"),
    KeySpec("wallboard.snooze", "s", "snooze", f"Snooze {SNOOZE_MINUTES}m"),
)
GENERAL_KEYS: tuple[KeySpec, ...] = (
    KeySpec("wallboard.advice", "v", "advice", "Advice", help="Overload advice (moves)"),
    KeySpec("wallboard.flash", "f", "toggle_flash", "Flash on/off"),
    KeySpec("wallboard.help", "question_mark", "help", "Help", key_display="?"),
    KeySpec("wallboard.quit", "q", "quit", "Quit"),
)
APP_KEYS: tuple[KeySpec, ...] = QUEUE_KEYS + GENERAL_KEYS

# Supervisor actions on the selected agent (an agents table has focus). Offered only when the user's roles grant
# them (``allowed_actions``); pause and unpause share one id and one key, the agent's state picks which.
ACTION_KEYS: tuple[KeySpec, ...] = (
    KeySpec("wallboard.listen", "l", "listen", "Listen"),
    KeySpec("wallboard.whisper", "w", "whisper", "Whisper"),
    KeySpec("wallboard.barge", "b", "barge", "Barge"),
    KeySpec("wallboard.takeover", "t", "takeover", "Take over", help="Take over the call"),
    KeySpec("wallboard.move", "m", "move", "Move", help="Move (queues)"),
    KeySpec("wallboard.pause", "p", "pause", "Pause", help="Pause/unpause"),
    KeySpec("wallboard.pause", "p", "unpause", "Unpause", alias=True),
)
AGENT_ACTIONS = frozenset(s.action for s in ACTION_KEYS)
SPY_ACTIONS = frozenset(("listen", "whisper", "barge"))
CALL_ACTIONS = SPY_ACTIONS | {"takeover"}  # act on the agent's current call
QUEUE_ACTIONS = frozenset(("ack", "snooze"))
# the advice panel applies its moves through the ``move`` action: offered only to those who may move
ACTION_OF = {"advice": "move"}

DRILL_KEYS: tuple[KeySpec, ...] = (KeySpec("wallboard.back", "escape", "back", "Back", key_display="esc"),)

# the desk's keys in the footer's and the help's order: queue keys, agent keys (each shown where it applies), the rest
DESK_KEYS = QUEUE_KEYS + ACTION_KEYS + GENERAL_KEYS
ALL_KEYS = DESK_KEYS + DRILL_KEYS
KNOWN_IDS = frozenset(k.id for k in ALL_KEYS)


def bindings(specs: tuple[KeySpec, ...]) -> list[Binding]:
    return [Binding(s.key, s.action, s.description, show=s.show, key_display=s.key_display, id=s.id) for s in specs]


def effective_keys(remap: dict[str, str], hidden: frozenset[str] = frozenset()) -> list[tuple[KeySpec, str]]:
    """Each binding with the key it answers to after the config's remapping (one line per id; ``hidden``
    actions, those the user may not take, left out)."""
    return [(s, remap.get(s.id, s.key)) for s in ALL_KEYS if not s.alias and s.action not in hidden]


def unknown_ids(remap: dict[str, str]) -> list[str]:
    return sorted(set(remap) - KNOWN_IDS)
