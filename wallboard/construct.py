"""Pydantic models made from values already of their fields' types, without validating them again: the lease
owner's snapshot entries (``snapshot.trusted``) and a feed's events (``events.trusted``), one way for both.

pydantic's own ``model_construct`` walks each field's aliases in Python and costs more than validating; this
fills a template of the fields' defaults (in the model's order) with the values given, makes the mutable
defaults afresh, and sets what validation sets: the fields set, no extra, no private attributes. Only for models
without private attributes, post-init or defaults that read the validated data (asserted once per class); the
caller answers for its values' types and for any validator it skips (tests/test_snapshot_construct.py,
tests/test_events_trusted.py compare with what validation makes)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from pydantic import BaseModel

_M = TypeVar("_M", bound=BaseModel)
_IMMUTABLE = (type(None), bool, int, float, str)
# class -> (every field with its immutable default, None for the rest; the fields whose default is made afresh)
_SPECS: dict[type, tuple[dict[str, Any], tuple]] = {}
_set_dict = BaseModel.__dict__["__dict__"].__set__  # the slots' own setters: cheaper than object.__setattr__
_set_fields_set = BaseModel.__dict__["__pydantic_fields_set__"].__set__
_set_extra = BaseModel.__dict__["__pydantic_extra__"].__set__
_set_private = BaseModel.__dict__["__pydantic_private__"].__set__


def _spec(cls: type[BaseModel], check: Callable[[type[BaseModel]], None] | None) -> tuple[dict[str, Any], tuple]:
    assert not cls.__private_attributes__ and not cls.__pydantic_post_init__, cls
    assert cls.__new__ is object.__new__, cls
    fields = cls.model_fields
    assert not any(f.default_factory_takes_validated_data for f in fields.values()), cls
    if check is not None:
        check(cls)
    template = {n: f.default if isinstance(f.default, _IMMUTABLE) else None for n, f in fields.items()}
    made = tuple(
        (n, f.default_factory or (lambda f=f: f.get_default(call_default_factory=False)))
        for n, f in fields.items()
        if not f.is_required() and not isinstance(f.default, _IMMUTABLE)
    )
    spec = _SPECS[cls] = (template, made)
    return spec


def construct(cls: type[_M], values: dict[str, Any], check: Callable[[type[BaseModel]], None] | None = None) -> _M:
    """``cls(**values)`` as validation would make it from values already of their fields' types, without
    validating; ``values`` gives every required field. ``check``: the caller's own assertions on the class, run
    once, when its template is made."""
    template, made = _SPECS.get(cls) or _spec(cls, check)
    d = {**template, **values}  # every field, in the model's order, with its default
    if made:
        for name, make in made:
            if name not in values:
                d[name] = make()
    m = object.__new__(cls)
    _set_dict(m, d)
    _set_fields_set(m, set(values))
    _set_extra(m, None)
    _set_private(m, None)
    return m
