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
import sys
from dataclasses import asdict, field
from pathlib import Path
from typing import Annotated

from pydantic import ConfigDict, Field, ValidationError
from pydantic.dataclasses import dataclass

STATE_NAME = "demo.json"
PID_MAX = 2**22  # Linux's ceiling for pid_max: a larger number is no process (os.kill would overflow)


# Checked as read (strict: no "5" for 5, no true for 1; nothing unknown): a corrupt or hand-edited file is
# ignored with one line naming it, never followed, never a traceback. pid 0 and -1 are no demo: os.kill(0 or
# -1, 0) signals a process group or every process, and succeeds, so any stale file would be followed.
@dataclass(config=ConfigDict(strict=True, extra="forbid"))
class RunningDemo:
    pid: Annotated[int, Field(gt=1, le=PID_MAX)]
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
    """The running demo, or None (no file, one whose process is gone, or a bad one: said in one line on stderr)."""
    path = state_path()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as e:  # unreadable, or not UTF-8
        _ignored(path, f"cannot be read ({getattr(e, 'strerror', None) or e})")
        return None
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as e:
        _ignored(path, f"is not JSON ({e})")
        return None
    if not isinstance(data, dict):
        _ignored(path, f"holds a JSON {type(data).__name__}, not an object")
        return None
    try:
        demo = RunningDemo(**data)
    except ValidationError as e:
        err = e.errors()[0]
        where = ".".join(str(p) for p in err["loc"]) or "(top level)"
        _ignored(path, f"{where}: {err['msg']} (got {str(err.get('input'))[:40]!r})")
        return None
    if not _alive(demo.pid):
        return None
    if demo.proc_start is not None and _proc_start(demo.pid) not in (None, demo.proc_start):
        return None  # the pid was reused: that demo is gone
    return demo


def _ignored(path: Path, why: str) -> None:
    print(f"wallboard: warning: ignoring the demo state file {path}: {why}", file=sys.stderr)


def remove(pid: int) -> None:
    """Remove the file if it is this demo's (a second demo started later wrote its own)."""
    path = state_path()
    try:
        if json.loads(path.read_text(encoding="utf-8")).get("pid") == pid:
            path.unlink()
    except (OSError, ValueError, AttributeError):
        pass
