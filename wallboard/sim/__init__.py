"""The simulated centre (the ``sim`` feed's model): seeded, on its own clock, faster than real time."""

from .model import CallRecord, SimCentre
from .scenarios import (
    SCENARIOS,
    QueueProfile,
    Scenario,
    Spike,
    demo,
    normal_day,
    overload_spike,
    quiet,
    scenario_by_name,
)

__all__ = [
    "SCENARIOS",
    "CallRecord",
    "QueueProfile",
    "Scenario",
    "SimCentre",
    "Spike",
    "demo",
    "normal_day",
    "overload_spike",
    "quiet",
    "scenario_by_name",
]
