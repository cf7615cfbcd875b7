"""The project's own "your input is wrong" error, and how a command reports any error in one line.

``InputError`` (a ``ValueError``) is raised where a command is given something it cannot use — a file that is
not there, a mapping that does not fit a file, a flag out of range. Its message says what is wrong, where, and
what to do; ``wallboard.cli.main`` prints it as one line and exits 2. ``ConfigError`` (``wallboard.config``) is
the same for the configuration, ``StoreUnavailable`` (``wallboard.store``) for a Redis that cannot be reached
(exit 3). Anything else is a bug of ours: one line naming it and where its traceback was written
(``WALLBOARD_DEBUG=1`` shows the traceback itself).
"""

from __future__ import annotations

import os
from pathlib import Path


class InputError(ValueError):
    """Input a command cannot use; the message names it, where it is, and what to do."""


def check_input_file(path: str | os.PathLike[str], what: str = "file") -> Path:
    """``path`` as a readable regular file, else InputError saying why (a relative path that is not there is
    shown with the folder it was looked for in: a README's example run from another folder)."""
    p = Path(path)
    shown = str(p) if p.is_absolute() else f"{p} (looked for in {Path.cwd()})"
    try:
        st = p.stat()
    except FileNotFoundError:
        raise InputError(f"{what} {shown} does not exist; give the path of an existing file") from None
    except NotADirectoryError:
        raise InputError(f"{what} {shown} does not exist (a part of the path is a file, not a folder)") from None
    except PermissionError:
        raise InputError(f"{what} {shown} cannot be reached: permission denied on a folder of its path") from None
    except OSError as e:
        raise InputError(f"{what} {shown} cannot be read: {e.strerror or e}") from None
    import stat

    if stat.S_ISDIR(st.st_mode):
        raise InputError(f"{what} {shown} is a directory; give the path of a file in it") from None
    if not os.access(p, os.R_OK):
        raise InputError(f"{what} {shown} is not readable (permission denied); check its owner and mode")
    return p


def oserror_line(e: OSError) -> str:
    """An OSError about a path the user gave (a file that vanished, a directory given as a file) in one line."""
    name = e.filename if e.filename is not None else ""
    return f"cannot read {name}: {e.strerror or e}" if name else f"{e.strerror or e}"
