"""More ``wallboard`` subcommands, one module each, found here at start-up.

A module defines ``register(sub, add_common)``: it adds its parser(s) to ``sub`` (argparse subparsers), calls
``add_common(parser)`` for the shared ``--config/--redis/--prefix`` flags, and sets ``func`` to a function
taking the parsed args and returning the exit code. Heavy imports (Textual, websockets) go inside ``func``:
the core never loads a UI at import time. What commands share (``config_from_args(args)`` loads the config)
is in ``_context``: modules starting with ``_`` are helpers, not commands, and no command imports ``cli``.
"""

from __future__ import annotations

import importlib
import pkgutil
from types import ModuleType


def discover() -> list[ModuleType]:
    mods = []
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda i: i.name):
        if not info.name.startswith("_"):
            mods.append(importlib.import_module(f"{__name__}.{info.name}"))
    return mods
