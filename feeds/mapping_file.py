"""Mapping files: a built-in one by name (``feeds/mappings/NAME.toml``) or any TOML file by path, read into the
feed's pydantic model, every problem one line naming the file and the field. The calls-CSV feed maps columns
with them, the http feed maps webhook bodies."""

from __future__ import annotations

import os
import re
import tomllib
from importlib import resources
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel, ValidationError

from wallboard.errors import InputError

_NAME_RE = re.compile(r"^[A-Za-z0-9_-]+$")

M = TypeVar("M", bound=BaseModel)


class MappingError(InputError):
    """A mapping that cannot be used (not found, not valid TOML, wrong fields), or input that does not fit it.
    An ``InputError`` (so a ``ValueError``): the command line shows its message as one line and exits 2."""


def builtin_mappings() -> list[str]:
    folder = resources.files("feeds") / "mappings"
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".toml"))


def load_mapping_file(spec: str | os.PathLike[str], model: type[M], what: str = "mapping") -> tuple[M, str]:
    """The mapping ``spec`` as ``model`` and where it came from (for messages); a mapping without a ``name``
    takes the file's stem."""
    spec = os.fspath(spec)
    builtin = resources.files("feeds") / "mappings" / f"{spec}.toml"
    if _NAME_RE.match(spec) and builtin.is_file():
        text, where, stem = builtin.read_text(encoding="utf-8"), f"built-in {what} {spec!r}", spec
    else:
        p = Path(spec)
        if not p.is_file():
            raise MappingError(f"no {what} {spec!r}: not a built-in ({', '.join(builtin_mappings())}) and no such file")
        text, where, stem = p.read_text(encoding="utf-8"), str(p), p.stem
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise MappingError(f"{where}: not valid TOML: {e}") from None
    try:
        m = model(**data)
    except ValidationError as e:
        problems = "; ".join(f"{'.'.join(map(str, x['loc'])) or '(top)'}: {x['msg']}" for x in e.errors())
        raise MappingError(f"{where}: {problems}") from None
    if not getattr(m, "name", None):
        m = m.model_copy(update={"name": stem})
    return m, where
