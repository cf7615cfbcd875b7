"""Only wallboard/ui/ may load Textual: every other module of wallboard/ and feeds/ imports without it.

``lint-imports`` (pyproject's contracts) checks the import statements; this checks what loading really does.
The modules are imported one after another in one fresh interpreter (a subprocess), so nothing imported by
another test can hide or cause a Textual import; the first module after which Textual is loaded is named (the
ones before it did not load it). The module list is found by walking the directories, so a new module is
covered without touching this test.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


ROOT = Path(__file__).resolve().parent.parent
PROBE = """
import importlib, sys
for name in sys.argv[1:]:
    importlib.import_module(name)
    bad = sorted(m for m in sys.modules if m == "textual" or m.startswith("textual."))
    assert not bad, f"{name} loaded Textual: {bad[:5]}"
"""


def discover() -> list[str]:
    mods = []
    for pkg in ("wallboard", "feeds"):
        for path in sorted((ROOT / pkg).rglob("*.py")):
            rel = path.relative_to(ROOT)
            if rel.parts[:2] == ("wallboard", "ui"):
                continue
            if "__pycache__" in rel.parts:
                continue
            parts = list(rel.with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            mods.append(".".join(parts))
    return mods


MODULES = discover()


def _probe(*modules: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", PROBE, *modules], cwd=ROOT, capture_output=True, text=True, timeout=120
    )


def test_discovery_finds_the_core():
    # the walk sees the packages and the modules we know exist, and leaves the UI out
    for expected in (
        "wallboard",
        "wallboard.cli",
        "wallboard.engine",
        "wallboard.store",
        "wallboard.config",
        "wallboard.redis_server",
        "feeds",
        "feeds.jsonl",
    ):
        assert expected in MODULES
    assert not [m for m in MODULES if m.startswith("wallboard.ui")]


def test_probe_detects_textual_and_names_the_module():
    # the probe is not vacuous: a module that does load Textual fails it, and it is the one named
    proc = _probe("wallboard.config", "wallboard.ui.app", "wallboard.engine")
    assert proc.returncode != 0
    assert "wallboard.ui.app loaded Textual" in proc.stderr


def test_modules_import_without_textual():
    proc = _probe(*MODULES)
    assert proc.returncode == 0, proc.stderr[-2000:]
