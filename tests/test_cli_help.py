"""The command line describes itself: ``--version``, and a help line for every option of every command."""

from __future__ import annotations

import argparse
import subprocess
import sys

from wallboard import __version__
from wallboard.cli import build_parser


def _subparsers(parser: argparse.ArgumentParser, path: str = "wallboard"):
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _subparsers(sub, f"{path} {name}")


def test_every_option_of_every_command_has_a_help_line():
    missing = []
    seen = 0
    for path, parser in _subparsers(build_parser()):
        for action in parser._actions:
            if isinstance(action, (argparse._HelpAction, argparse._SubParsersAction)):
                continue
            seen += 1
            if not (action.help or "").strip() or action.help == argparse.SUPPRESS:
                missing.append(f"{path} {'/'.join(action.option_strings) or action.dest}")
    assert seen > 100  # the walk reached the commands found in wallboard/commands too
    assert not missing, "options without a help line:\n  " + "\n  ".join(missing)


def test_every_command_has_a_summary():
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    listed = {c.dest: c.help for c in sub._choices_actions}
    assert set(listed) == set(sub.choices)
    assert all((h or "").strip() for h in listed.values()), listed


def test_version_and_the_desk_description():
    out = subprocess.run([sys.executable, "-m", "wallboard.cli", "--version"], capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.strip() == f"wallboard {__version__}"
    tui = subprocess.run(
        [sys.executable, "-m", "wallboard.cli", "tui", "--help"],
        capture_output=True,
        text=True,
        env={"COLUMNS": "200", "PATH": ""},
    )
    assert tui.returncode == 0
    for offered in (
        "queue",
        "agents",
        "callers waiting",
        "acknowledge",
        "listen",
        "whisper",
        "barge",
        "take over",
        "move",
        "pause",
        "advisor",
    ):
        assert offered in tui.stdout, offered
