"""`wallboard demo` runs a simulated PBX, two ingesters (its PBX face, its chats over http) and an executor as children: they end with it however it
ends. A closed terminal (the SIGHUP of a killed tmux) used to leave all three running, in every session."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from .polling import wait_until

ROOT = Path(__file__).resolve().parent.parent


def _children(prefix: str) -> list[str]:
    out = subprocess.run(
        ["pgrep", "-f", f"wallboard.cli (ingest|executor) .*--prefix {prefix}"], capture_output=True, text=True
    )
    return out.stdout.split()


@pytest.mark.skipif(not shutil.which("tmux"), reason="needs tmux (the demo is a terminal UI)")
def test_the_demos_children_end_when_its_terminal_is_closed(tmp_path):
    prefix = f"wbkids-{uuid.uuid4().hex[:8]}"
    sock = f"wbk{uuid.uuid4().hex[:8]}"
    demo = (
        f"cd {ROOT} && exec env WALLBOARD_STATE_DIR={tmp_path} REDIS_URL={os.environ['REDIS_URL']} "
        f"{sys.executable} -m wallboard.cli demo --prefix {prefix}"
    )
    subprocess.run(["tmux", "-L", sock, "new-session", "-d", "-s", "demo", "-x", "120", "-y", "40", demo], check=True)
    try:
        wait_until(
            lambda: len(_children(prefix)) == 3,
            "the demo's ingesters (PBX, http) and executor to start",
            timeout=60,
            every=0.2,
        )
    finally:
        subprocess.run(["tmux", "-L", sock, "kill-server"], capture_output=True)  # the terminal goes away
    try:
        wait_until(lambda: not _children(prefix), "the demo's children to end with its terminal", timeout=15, every=0.2)
    finally:
        for pid in _children(prefix):  # never leave them behind, even when the test fails
            subprocess.run(["kill", pid], capture_output=True)
