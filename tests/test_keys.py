"""The key layout has one home, ``wallboard.keys``: the Lua scripts spell the same suffixes, and no other module
builds a key by hand."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import wallboard.keys as keys_mod
from wallboard.keys import LUA_SUFFIXES, Keys

ROOT = Path(__file__).resolve().parent.parent
LUA = ROOT / "wallboard" / "lua"

# Strings that look like keys and are not: where, what, why.
NOT_KEYS = {
    ("wallboard/sim/model.py", "callers"): "a random generator's seed, f'{seed}:callers:{queue}'",
}


def _lua_suffixes() -> dict[str, set[str]]:
    """Every literal a script appends to a key base (``base .. ':state'``, ``return ':m:' .. m``), by file."""
    out: dict[str, set[str]] = {}
    for path in sorted(LUA.glob("*.lua")):
        text = path.read_text(encoding="utf-8")
        for lit in re.findall(r"'(:[a-z_]+:?)'", text):
            out.setdefault(lit, set()).add(path.name)
    return out


def test_the_lua_scripts_spell_the_python_suffixes():
    lua = _lua_suffixes()
    assert set(lua) == set(LUA_SUFFIXES), (
        f"only in Lua: {sorted(set(lua) - LUA_SUFFIXES)}; only in keys.py: {sorted(LUA_SUFFIXES - set(lua))}"
    )
    # the ones the Python side reads are where the scripts write them
    assert {"agent_batch.lua"} <= lua[keys_mod.STATE]
    assert {"agent_batch.lua"} <= lua[keys_mod.MEMBERSHIP] & lua[keys_mod.MEMBERSHIP_TS] & lua[keys_mod.SPANS]
    assert {"queue_batch.lua"} <= lua[keys_mod.WAITING] & lua[keys_mod.FCR]
    assert {"agent_batch.lua", "queue_batch.lua"} <= lua[keys_mod.WINDOW] & lua[keys_mod.MINUTE]
    assert {"dead_letters.lua", "dead_letters_settle.lua"} <= lua[keys_mod.DEADLETTER] & lua[keys_mod.DLCOUNT]


def test_keys_put_the_suffixes_after_the_slot_base():
    k = Keys("P")
    assert k.agent_state("1001") == "P:{a:1001}:state"
    assert k.agent_queues("1001") == "P:{a:1001}:queues"
    assert k.agent_queues_ts("1001") == "P:{a:1001}:qts"
    assert k.waiting("support") == "P:{q:support}:waiting"
    assert Keys.window(k.queue("support"), 1_700_000_000) == "P:{q:support}:w:1700000000"
    assert Keys.window(k.agent("1001"), "all") == "P:{a:1001}:w:all"
    assert Keys.minute(k.queue("support"), 60) == "P:{q:support}:m:60"
    assert Keys.spans(k.agent("1001"), "all") == "P:{a:1001}:spans:all"
    assert Keys.history_intervals(k.queue("s"), "20240102") == "P:{q:s}:hi:20240102"
    assert Keys.history_daily(k.agent("7"), "202401") == "P:{a:7}:hd:202401"
    assert k.fcr_day("s", "20240102") == "P:{q:s}:fcr:20240102"
    assert (k.deadletter, k.dlcount) == ("P:{c}:deadletter", "P:{c}:dlcount")
    assert (k.reports, k.reports_since, k.reports_log) == ("P:{c}:reports", "P:{c}:reports:since", "P:{c}:reports:log")
    assert k.report_lock("daily", "2024-01-02") == "P:{c}:reports:lock:daily|2024-01-02"


def _key_words() -> set[str]:
    """Every word keys.py puts after a ':' in a key (``state``, ``w``, ``reports``, ``audit``…)."""
    tree = ast.parse((ROOT / "wallboard" / "keys.py").read_text(encoding="utf-8"))
    words: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and node is not tree.body[0].value:  # type: ignore[attr-defined]
            words |= set(re.findall(r":([a-z][a-z_-]*)", node.value))
    return words


_HASH_TAG = re.compile(r"\{(?:c\}|[qak]:)")


def _docstrings(tree: ast.AST) -> set[int]:
    out = set()
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if (
            isinstance(body, list)
            and body
            and isinstance(body[0], ast.Expr)
            and isinstance(body[0].value, ast.Constant)
        ):
            out.add(id(body[0].value))
    return out


def hand_built_keys(path: Path, words: set[str]) -> list[tuple[int, str]]:
    """Strings in ``path`` that build a key: a key word appended after an interpolated value or added to one
    (``f"{base}:state"``, ``base + ":state"``), or a hash tag spelled out (``"{c}"``, ``"{q:"``)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skip = _docstrings(tree) | {id(p) for n in ast.walk(tree) if isinstance(n, ast.JoinedStr) for p in n.values}
    hits: list[tuple[int, str]] = []

    def appended(piece: str) -> str | None:
        m = re.match(r":([a-z][a-z_-]*)", piece)
        return m.group(1) if m and m.group(1) in words else None

    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):
            parts = node.values
            for prev, part in zip(parts, parts[1:]):
                if isinstance(prev, ast.FormattedValue) and isinstance(part, ast.Constant):
                    w = appended(part.value)
                    if w:
                        hits.append((node.lineno, w))
            if any(isinstance(p, ast.Constant) and _HASH_TAG.search(p.value) for p in parts):
                hits.append((node.lineno, "hash tag"))
        elif isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
            right = node.right
            if isinstance(right, ast.Constant) and isinstance(right.value, str):
                w = appended(right.value)
                if w:
                    hits.append((node.lineno, w))
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in skip:
            if _HASH_TAG.search(node.value):
                hits.append((node.lineno, "hash tag"))
    return hits


def test_no_key_is_built_outside_keys_py():
    """Every key through ``Keys``: a module that appends a suffix to a base by hand fails here (add a method to
    ``Keys`` instead). The engine's and the incremental engine's slot keys are built by the Lua scripts."""
    words = _key_words()
    assert {"state", "queues", "qts", "m", "w", "waiting", "spans", "hi", "hd", "reports", "audit"} <= words
    found = []
    for pkg in ("wallboard", "feeds"):
        for path in sorted((ROOT / pkg).rglob("*.py")):
            rel = path.relative_to(ROOT).as_posix()
            if rel == "wallboard/keys.py":
                continue
            for line, word in hand_built_keys(path, words):
                if (rel, word) not in NOT_KEYS:
                    found.append(f"{rel}:{line} ({word})")
    assert found == []


def test_the_check_sees_a_hand_built_key(tmp_path):
    """The check above is not blind: each way of building a key by hand is caught."""
    src = tmp_path / "m.py"
    src.write_text(
        '"""A docstring may name P:{c}:audit."""\n'
        'a = f"{base}:state"\n'
        'b = base + ":qts"\n'
        'c = f"{prefix}:{{c}}:audit"\n'
        'd = "wb:{q:support}"\n'
        'e = f"{seed}:arrivals:{q}"\n'  # not a key word: not caught
    )
    assert hand_built_keys(src, _key_words()) == [(2, "state"), (3, "qts"), (4, "hash tag"), (5, "hash tag")]
