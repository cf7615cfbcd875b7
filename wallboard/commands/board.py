"""``wallboard board [--layout NAME]``: the large-screen mode for a terminal on a TV (``wallboard.ui.board``)."""

from __future__ import annotations

import os
import sys

from ._context import bidi_flag


def register(sub, add_common) -> None:
    sp = sub.add_parser("board", help="large-screen TV mode in a terminal: huge numbers per queue, nothing to click")
    sp.add_argument("--layout", default=None, help="a [[layouts]] name from the config (default: the first)")
    sp.add_argument("--log", default=None, help="log to this file (nothing is logged to the terminal)")
    bidi_flag(sp)
    add_common(sp)
    sp.set_defaults(func=cmd_board)


def cmd_board(args) -> int:
    from pathlib import Path

    from ._context import config_from_args

    config = config_from_args(args)
    try:
        layout = config.layout(args.layout)
    except KeyError:
        names = ", ".join(x.name for x in config.layouts) or "none defined"
        print(f"wallboard: no layout {args.layout!r} (layouts: {names})", file=sys.stderr)
        return 2
    # A TV: no animations and a low frame rate. Textual reads both when it is first imported, just below.
    os.environ.setdefault("TEXTUAL_ANIMATIONS", "none")
    os.environ.setdefault("TEXTUAL_FPS", "10")
    from ..ui.board import run_board

    return run_board(
        config, layout, redis_url=args.redis, log_path=Path(args.log) if args.log else None, bidi=args.bidi
    )
