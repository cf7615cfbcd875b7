"""The overload advisor: queueing maths (``erlang``), live estimates from Redis (``estimates``) and the advice
built from a snapshot and those estimates (``advice``). No module here imports a UI."""

from .advice import Advice, Move, MoveStep, QueueAdvice, advise, sl_target
from .erlang import (
    ErlangA,
    agents_for_asa,
    agents_for_pwait,
    agents_for_sl,
    agents_for_sl_a,
    asa_c,
    erlang_a,
    erlang_b,
    erlang_c,
    service_level_c,
)
from .estimates import EstimateSettings, QueueEstimate, estimate_queue, read_estimates

__all__ = [
    "Advice",
    "ErlangA",
    "EstimateSettings",
    "Move",
    "MoveStep",
    "QueueAdvice",
    "QueueEstimate",
    "advise",
    "agents_for_asa",
    "agents_for_pwait",
    "agents_for_sl",
    "agents_for_sl_a",
    "asa_c",
    "erlang_a",
    "erlang_b",
    "erlang_c",
    "estimate_queue",
    "read_estimates",
    "service_level_c",
    "sl_target",
]
