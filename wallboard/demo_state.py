"""The running demo, as other commands find it.

``wallboard demo`` writes ``demo.json`` in the user's state directory (beside the embedded server) once its
processes are up, and removes it when it stops: its pid (with the process's start time, so a pid reused after
a crash is not taken for it), its config file, its key prefix, its Redis URL (any password replaced by ``***``)
and the throwaway viewer tokens of its TV layouts. The file is the user's alone (mode 0600).

The commands that read a centre (``board``, ``serve``, ``tui``, ``advise``, ``snapshot``, ``report``, ...)
follow it when nothing on their command line or in the environment names a centre: no ``--config``,
``--prefix`` or ``--redis``, no ``WALLBOARD_REDIS__PREFIX`` / ``WALLBOARD_REDIS__URL``, and ``REDIS_URL``
unset or the demo's own (see ``wallboard.commands._context.config_from_args``). Writers (``ingest``,
``replay``, ``demo``) never do; their ``--check`` does, and says so when the demo runs no such process.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

STATE_NAME = "demo.json"


@dataclass
class RunningDemo:
    pid: int
    config: str
    prefix: str
    redis_url: str  # as shown: any password in it is replaced by *** (never written to the file)
    embedded: bool = False  # the embedded server of this state directory: a follower finds it by itself
    url_has_password: bool = False  # then a follower needs REDIS_URL set to the same server
    started_at: str = ""
    proc_start: str | None = None
    viewer_tokens: dict[str, str] = field(default_factory=dict)  # layout token variable -> the demo's token
    # the processes the demo runs (``pbx``, ``ingest``, ``executor``, ...); None: a demo that did not say
    services: list[str] | None = None

    def runs(self, kind: str) -> bool | None:
        """Whether the demo runs a ``kind`` process (``ingest-http`` counts as an ingest); None: not known."""
        if self.services is None:
            return None
        return any(s == kind or s.startswith(kind + "-") for s in self.services)


def state_path() -> Path:
    from .redis_server import state_dir

    return state_dir() / STATE_NAME


def _proc_start(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (Linux), to tell a reused pid apart."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[19]  # field 22, counted after the command name


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process has the pid now
        return False
    return True


def write(demo: RunningDemo) -> Path:
    path = state_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    demo.proc_start = _proc_start(demo.pid)
    tmp = path.with_name(f".{STATE_NAME}.{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(asdict(demo), f)
    os.replace(tmp, path)
    return path


def read() -> RunningDemo | None:
    """The running demo, or None (no file, an unreadable one, or one whose process is gone)."""
    try:
        data = json.loads(state_path().read_text(encoding="utf-8"))
        demo = RunningDemo(**data)
    except (OSError, ValueError, TypeError):
        return None
    if not isinstance(demo.pid, int) or not _alive(demo.pid):
        return None
    if demo.proc_start is not None and _proc_start(demo.pid) not in (None, demo.proc_start):
        return None  # the pid was reused: that demo is gone
    return demo


def remove(pid: int) -> None:
    """Remove the file if it is this demo's (a second demo started later wrote its own)."""
    path = state_path()
    try:
        if json.loads(path.read_text(encoding="utf-8")).get("pid") == pid:
            path.unlink()
    except (OSError, ValueError, AttributeError):
        pass
