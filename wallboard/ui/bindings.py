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


APP_KEYS: tuple[KeySpec, ...] = (
    KeySpec("wallboard.drill", "enter", "drill", "Drill down", key_display="⏎"),
    KeySpec("wallboard.ack", "a", "ack", "Ack"),
    KeySpec("wallboard.snooze", "s", "snooze", f"Snooze {SNOOZE_MINUTES}m"),
    KeySpec("wallboard.flash", "f", "toggle_flash", "Flash on/off"),
    KeySpec("wallboard.help", "question_mark", "help", "Help", key_display="?"),
    KeySpec("wallboard.quit", "q", "quit", "Quit"),
)

DRILL_KEYS: tuple[KeySpec, ...] = (KeySpec("wallboard.back", "escape", "back", "Back", key_display="esc"),)

ALL_KEYS = APP_KEYS + DRILL_KEYS
KNOWN_IDS = frozenset(k.id for k in ALL_KEYS)


def bindings(specs: tuple[KeySpec, ...]) -> list[Binding]:
    return [Binding(s.key, s.action, s.description, show=s.show, key_display=s.key_display, id=s.id) for s in specs]


def effective_keys(remap: dict[str, str]) -> list[tuple[KeySpec, str]]:
    """Each binding with the key it answers to after the config's remapping."""
    return [(s, remap.get(s.id, s.key)) for s in ALL_KEYS]


def unknown_ids(remap: dict[str, str]) -> list[str]:
    return sorted(set(remap) - KNOWN_IDS)
