"""Key bindings with stable ids, so ``[display] keys = { "wallboard.ack" = "k" }`` remaps them.

The ids are a contract (config files name them); the keys are defaults.
"""

from __future__ import annotations

from dataclasses import dataclass

from textual.binding import Binding, BindingsMap

from .words import ENGLISH, Words

SNOOZE_MINUTES = 15


@dataclass(frozen=True)
class KeySpec:
    id: str
    key: str
    action: str
    show: bool = True
    key_display: str | None = None
    long_help: bool = False  # the help screen says more than the footer (``help.<action>`` in ``words``)
    alias: bool = False  # a second binding of the same id (pause / unpause on one key): not listed in help

    def description(self, w: Words = ENGLISH) -> str:
        """The footer's words for it (``key.<action>``)."""
        return w(f"key.{self.action}", m=SNOOZE_MINUTES)

    def help(self, w: Words = ENGLISH) -> str:
        return w(f"help.{self.action}") if self.long_help else self.description(w)


QUEUE_KEYS: tuple[KeySpec, ...] = (
    KeySpec("wallboard.drill", "enter", "drill", key_display="⏎"),
    KeySpec("wallboard.ack", "a", "ack"),
    KeySpec("wallboard.snooze", "s", "snooze"),
)
GENERAL_KEYS: tuple[KeySpec, ...] = (
    KeySpec("wallboard.advice", "v", "advice", long_help=True),
    KeySpec("wallboard.flash", "f", "toggle_flash"),
    KeySpec("wallboard.help", "question_mark", "help", key_display="?"),
    KeySpec("wallboard.quit", "q", "quit"),
)
APP_KEYS: tuple[KeySpec, ...] = QUEUE_KEYS + GENERAL_KEYS

# Supervisor actions on the selected agent (an agents table has focus). Offered only when the user's roles grant
# them (``allowed_actions``); pause and unpause share one id and one key, the agent's state picks which.
ACTION_KEYS: tuple[KeySpec, ...] = (
    KeySpec("wallboard.listen", "l", "listen"),
    KeySpec("wallboard.whisper", "w", "whisper"),
    KeySpec("wallboard.barge", "b", "barge"),
    KeySpec("wallboard.takeover", "t", "takeover", long_help=True),
    KeySpec("wallboard.move", "m", "move", long_help=True),
    KeySpec("wallboard.pause", "p", "pause", long_help=True),
    KeySpec("wallboard.pause", "p", "unpause", alias=True),
)
AGENT_ACTIONS = frozenset(s.action for s in ACTION_KEYS)
SPY_ACTIONS = frozenset(("listen", "whisper", "barge"))
CALL_ACTIONS = SPY_ACTIONS | {"takeover"}  # act on the agent's current call
QUEUE_ACTIONS = frozenset(("ack", "snooze"))
# the advice panel applies its moves through the ``move`` action: offered only to those who may move
ACTION_OF = {"advice": "move"}

DRILL_KEYS: tuple[KeySpec, ...] = (KeySpec("wallboard.back", "escape", "back", key_display="esc"),)

# the desk's keys in the footer's and the help's order: queue keys, agent keys (each shown where it applies), the rest
DESK_KEYS = QUEUE_KEYS + ACTION_KEYS + GENERAL_KEYS
ALL_KEYS = DESK_KEYS + DRILL_KEYS
KNOWN_IDS = frozenset(k.id for k in ALL_KEYS)


def bindings(specs: tuple[KeySpec, ...], w: Words = ENGLISH) -> list[Binding]:
    """The Textual bindings, described in ``w``'s language (in display order on a right-to-left desk)."""
    return [
        Binding(s.key, s.action, w.show(s.description(w)), show=s.show, key_display=s.key_display, id=s.id)
        for s in specs
    ]


def in_words(merged: BindingsMap, specs: tuple[KeySpec, ...], w: Words) -> BindingsMap:
    """A node's bindings (Textual's own and ``specs``, as the class merged them) with ``specs`` in ``w``'s words;
    on a right-to-left desk in the mirrored order (the footer shows them in this order)."""
    ours = {s.id for s in specs}
    kept = [b for bs in merged.key_to_bindings.values() for b in bs if b.id not in ours]
    return BindingsMap([*kept, *bindings(mirrored(specs) if w.rtl else specs, w)])


def mirrored(specs: tuple[KeySpec, ...]) -> tuple[KeySpec, ...]:
    """The keys in the footer order of a right-to-left desk (the first at the right): reversed, a second
    binding of one key (unpause) still after the first."""
    out: list[KeySpec] = []
    for spec in reversed(specs):
        if spec.alias:
            continue
        out.append(spec)
        out.extend(s for s in specs if s.alias and s.id == spec.id)
    return tuple(out)


def effective_keys(remap: dict[str, str], hidden: frozenset[str] = frozenset()) -> list[tuple[KeySpec, str]]:
    """Each binding with the key it answers to after the config's remapping (one line per id; ``hidden``
    actions, those the user may not take, left out)."""
    return [(s, remap.get(s.id, s.key)) for s in ALL_KEYS if not s.alias and s.action not in hidden]


def unknown_ids(remap: dict[str, str]) -> list[str]:
    return sorted(set(remap) - KNOWN_IDS)
