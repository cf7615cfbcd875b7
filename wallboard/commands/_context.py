"""What every ``wallboard`` command shares: the config it runs with (flags, environment, file, or the running
demo it follows) and where its log goes. Commands import this, never ``wallboard.cli`` (which imports them)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from ..config import REDIS_URL_HINT, WallboardConfig, load_config, redact_url_text, redis_url_problem
from ..errors import InputError

# The commands that read a centre and follow a running `wallboard demo` when nothing names a centre (no
# --config/--prefix/--redis, no WALLBOARD_REDIS__PREFIX/URL, REDIS_URL unset or the demo's own). Writers and
# long-running services (ingest, replay, executor, scheduler, demo itself) never follow it; their ``--check``
# (a read: is one alive?) does, so that every health probe answers for the demo the other commands show.
FOLLOWS_DEMO = frozenset(
    {"tui", "board", "serve", "snapshot", "advise", "report", "audit", "act", "ticker", "deadletter", "rollup", "staff"}
)
CHECKS_FOLLOW_DEMO = frozenset({"ingest", "executor", "scheduler", "notifier", "serve"})


def follows_demo(args) -> bool:
    command = getattr(args, "command", None)
    return command in FOLLOWS_DEMO or (command in CHECKS_FOLLOW_DEMO and getattr(args, "check", False) is True)


def demo_to_follow(args):
    """The running demo this command reads (``wallboard.demo_state``), or None; says so on stderr."""
    if not follows_demo(args):
        return None
    if any(getattr(args, n, None) for n in ("config", "prefix", "redis")):
        return None
    if os.environ.get("WALLBOARD_REDIS__PREFIX") or os.environ.get("WALLBOARD_REDIS__URL"):
        return None
    from .. import demo_state

    demo = demo_state.read()
    if demo is None:
        return None
    env_url = os.environ.get("REDIS_URL")
    if env_url and redact_url_text(env_url) != demo.redis_url:
        return None  # REDIS_URL names another server: the user's centre is there
    if not env_url and demo.url_has_password:
        print(
            f"wallboard: a demo is running (pid {demo.pid}) on {demo.redis_url}, prefix {demo.prefix}; set "
            "REDIS_URL to that server's URL to follow it",
            file=sys.stderr,
        )
        return None
    print(
        f"wallboard: using the running demo ({demo.prefix}, pid {demo.pid}); --config or --prefix for another centre",
        file=sys.stderr,
    )
    return demo


def config_from_args(args) -> WallboardConfig:
    """The config a command runs with: flags > ``WALLBOARD_*`` > the ``--config`` file > defaults. With none
    of --config/--prefix/--redis (and nothing in the environment naming a server or prefix), a command that
    reads a centre follows a running ``wallboard demo`` (``args.running_demo`` is then set)."""
    flags: dict = {}
    redis_flags: dict = {}
    demo = demo_to_follow(args)
    if hasattr(args, "__dict__"):
        args.running_demo = demo
    if demo is not None:
        redis_flags["prefix"] = demo.prefix
        if not demo.embedded and not os.environ.get("REDIS_URL"):
            redis_flags["url"] = demo.redis_url  # (no password in it: checked above)
    if getattr(args, "prefix", None):
        redis_flags["prefix"] = args.prefix
    url = getattr(args, "redis", None)
    if url:  # the flag beats REDIS_URL and the file: checked here, named as the flag
        problem = redis_url_problem(url)
        if problem:
            raise InputError(f"--redis {problem} (hint: {REDIS_URL_HINT})")
        redis_flags["url"] = url
    if redis_flags:
        flags["redis"] = redis_flags
    path = demo.config if demo is not None else getattr(args, "config", None)
    return load_config(path, **flags)


def configure_logging(path: str | None, verbose: bool) -> None:
    import logging

    level = logging.INFO if verbose else logging.WARNING
    fmt = "%(asctime)s %(levelname)s %(name)s: %(message)s"
    if path:
        logging.basicConfig(filename=path, level=level, format=fmt)
    else:
        logging.basicConfig(stream=sys.stderr, level=level, format=fmt)


def demo_config_path() -> Path:
    from importlib.resources import files

    return Path(str(files("wallboard").joinpath("data", "demo.toml")))


def bidi_flag(sp) -> None:
    """``--bidi``, shared by the screens that draw right-to-left text (``board``, ``tui``, ``demo``)."""
    sp.add_argument(
        "--bidi",
        choices=("visual", "terminal"),
        default=None,
        help="right-to-left text (Hebrew): 'visual' reorders it for terminals without bidi support "
        "(xterm, tmux, the Linux console; the default, or WALLBOARD_BIDI); 'terminal' leaves it to a "
        "terminal that reorders by itself (mlterm, Konsole)",
    )
