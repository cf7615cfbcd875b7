"""A backend on the simulated centre itself (in-process): it honours every action, as a PBX would."""

from __future__ import annotations

from ..sim.model import SimCentre
from .executor import Outcome, Target


class SimBackend:
    def __init__(self, centre: SimCentre):
        self.centre = centre
        self.spies: list[tuple[str, str, str, bool]] = []  # (supervisor device, agent, mode, keypad)
        self.takeovers: list[tuple[str, str]] = []  # (supervisor device, agent)

    def _do(self, fn, *args) -> Outcome:
        try:
            fn(*args)
        except (ValueError, KeyError) as e:
            return Outcome(False, str(e))
        return Outcome(True, "")

    async def spy(self, supervisor_device: str, target: Target, mode: str, keypad: bool) -> Outcome:
        self.spies.append((supervisor_device, target.agent, mode, keypad))
        return Outcome(True, "simulated ChanSpy")

    async def takeover(self, supervisor_device: str, target: Target) -> Outcome:
        self.takeovers.append((supervisor_device, target.agent))
        return self._do(self.centre.take_over, target.agent)

    async def queue_add(self, target: Target, queue: str, penalty: int) -> Outcome:
        return self._do(self.centre.move_agent, target.agent, queue, penalty)

    async def queue_remove(self, target: Target, queue: str) -> Outcome:
        return self._do(self.centre.remove_member, target.agent, queue)

    async def queue_penalty(self, target: Target, queue: str, penalty: int) -> Outcome:
        return self._do(self.centre.move_agent, target.agent, queue, penalty)

    async def queue_pause(self, target: Target, paused: bool, reason: str | None, queue: str | None) -> Outcome:
        if paused:
            return self._do(self.centre.pause_agent, target.agent, reason or "supervisor")
        return self._do(self.centre.unpause_agent, target.agent)
