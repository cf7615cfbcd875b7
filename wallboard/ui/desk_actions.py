"""The desk's keys: the queue actions (drill down, ack, snooze), the supervisor actions on the selected
agent (listen, whisper, barge, take over, move, pause), the overload advice, help, and the command palette.

``DeskActions`` is a mixin of ``DeskApp``: Textual finds actions and ``check_action`` on the app. Each
action is gated (``gate``: offered to this user, possible for this agent now, or why not), confirmed first
(``dialogs.ConfirmScreen``: ``describe`` of the very request sent), sent with the user's token (``submit``),
and its outcome awaited (``expect``, ``outcomes.OutcomeWatch``). Keys for actions the user's roles do not
grant are not offered.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from functools import partial

from textual import events
from textual.app import SystemCommand
from textual.screen import ModalScreen, Screen

from ..actions.model import Move, Pause, Spy, Takeover
from ..actions.submit import submit
from ..advisor import EstimateSettings, advise, read_estimates
from ..events import CALL_STATES, utc
from ..snapshot import AgentSnapshot, Snapshot
from .bindings import ACTION_OF, AGENT_ACTIONS, CALL_ACTIONS, QUEUE_ACTIONS
from .dialogs import AdviceScreen, ConfirmScreen, MoveScreen, PauseReasonScreen
from .requests import NO_TOKEN, alerting_metrics, build_request, outcome_label
from .screens import DrillDownScreen, HelpScreen
from .tables import KeyedTable
from .words import describe as describe_in
from .view import LEVEL_RANK, TOTAL_KEY, metric_words, move_queue_rows, queue_level

log = logging.getLogger(__name__)

AGENT_TABLES = ("agents", "drill-agents")


class DeskActions:
    """The actions of ``DeskApp`` (see the module docstring); it reads the app's parts and panels."""

    # ---- actions ---------------------------------------------------------------------------------------

    def selected_queue(self) -> str | None:
        if isinstance(self.screen, DrillDownScreen):
            return self.screen.queue
        return self.queue_table.selected_key

    def drill(self, queue: str | None = None) -> None:
        queue = queue or self.queue_table.selected_key
        if queue is None or isinstance(self.screen, DrillDownScreen):
            return
        self.push_screen(DrillDownScreen(queue, self.words))

    def action_drill(self) -> None:
        self.drill()

    def agent_card(self, agent_id: str) -> None:
        """The agent's scorecard for today (enter on an agent); a team lead sees only their team's agents."""
        from ..reports.scorecard import team_of
        from .screens import AgentCardScreen

        a = self.agent_of(agent_id)
        if a is None or isinstance(self.screen, AgentCardScreen):
            return
        team = team_of(self.config, self.user)
        if team is not None and not team & set(a.queues):
            self.notify(
                self.words("not_in_team", name=a.name or agent_id, user=self.user), severity="warning", markup=False
            )
            return
        self.push_screen(AgentCardScreen(agent_id, self.words))

    async def action_ack(self) -> None:
        await self.request_alerts("ack")

    async def action_snooze(self) -> None:
        await self.request_alerts("snooze")

    async def request_alerts(self, kind: str) -> list[dict]:
        """XADD an ack or snooze request for each metric of the selected queue in warn or breach."""
        w = self.words
        if kind not in self.allowed:
            self.notify(w("may_not", user=self.user, action=self.action_words(kind)), severity="warning", markup=False)
            return []
        queue = self.selected_queue()
        if self.summary is None or queue is None or queue == TOTAL_KEY or queue not in self.summary.queues:
            self.notify(w("select_queue"), severity="warning")
            return []
        q = self.summary.queues[queue]
        metrics = alerting_metrics(q, kind, self.server.now())
        if not metrics:
            self.notify(w("no_alert", queue=q.label or queue, what=w(f"what.{kind}")))
            return []
        if not self.has_token():
            return []
        now = self.clock.now()
        reqs = [build_request(kind, queue, m, self.user, now, self.snooze_minutes) for m in metrics]
        try:
            ids = await submit(await self.client(), self.keys, reqs, self.token)
        except Exception as e:
            log.warning("request failed: %s", e)
            self.notify(w("kind_not_sent", kind=self.action_words(kind), error=e), severity="error", markup=False)
            return []
        alerts = w("alert") if len(metrics) == 1 else w("alerts")
        label = w(
            f"{kind}_label",
            queue=q.label or queue,
            metrics=metric_words(metrics, w),
            alerts=alerts,
            m=self.snooze_minutes,
        )
        self.expect(ids, label)
        self.notify(w("sent", label=label), markup=False)
        return reqs

    def action_toggle_flash(self) -> None:
        self.flash_enabled = not self.flash_enabled
        self.notify(self.words("flashing_on" if self.flash_enabled else "flashing_off"))
        self.render_all()

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            hidden = frozenset(a for a in AGENT_ACTIONS | QUEUE_ACTIONS if a not in self.allowed)
            hidden |= frozenset(a for a, needs in ACTION_OF.items() if needs not in self.allowed)
            self.push_screen(HelpScreen(self.config.display.keys, hidden, self.words))

    # ---- supervisor actions on the selected agent --------------------------------------------------------

    def focused_agent_table(self) -> KeyedTable | None:
        """The agents table (main or drill-down) with focus on the topmost screen that is not a dialog, so the
        footer under a dialog still reads the screen's own context."""
        screen = next((s for s in reversed(self.screen_stack) if not isinstance(s, ModalScreen)), None)
        focused = screen.focused if screen is not None else None
        if isinstance(focused, KeyedTable) and focused.id in AGENT_TABLES:
            return focused
        return None

    def agent_of(self, agent_id: str | None) -> AgentSnapshot | None:
        if self.agents is None or agent_id is None:
            return None
        return self.agents.agents.get(agent_id)

    def action_words(self, action: str) -> str:
        """An action as a notice names it: its name in English (``move``), its key's words otherwise."""
        return action if self.words.language == "en" else self.words(f"key.{action}", m=self.snooze_minutes)

    def gate(self, action: str) -> tuple[bool | None, str]:
        """Whether a key's action is offered now: True (run it), None (shown, dimmed: not possible for this
        agent now) or False (not offered here), with the reason a press of the key is told."""
        w = self.words
        if (action in AGENT_ACTIONS or action in QUEUE_ACTIONS) and action not in self.allowed:
            return False, w("not_offered", user=self.user, action=self.action_words(action))
        if action in ACTION_OF and ACTION_OF[action] not in self.allowed:
            return False, w("not_offered", user=self.user, action=self.action_words(ACTION_OF[action]))
        table = self.focused_agent_table()
        if action in AGENT_ACTIONS:
            if table is None:
                return False, w("select_agent_tab")
            agent_id = table.selected_key
            a = self.agent_of(agent_id)
            if a is None:
                return None, w("select_agent")
            name = a.name or agent_id
            if action == "pause" and a.state == "paused":
                return False, w("paused_already", name=name)
            if action == "unpause" and a.state != "paused":
                return False, w("not_paused", name=name)
            if action == "pause" and a.state == "logged_out":
                return None, w("logged_out", name=name)
            if action in CALL_ACTIONS and not (a.call_id and a.state in CALL_STATES):
                return None, w("not_on_call", name=name, nothing=w(f"nothing.{action}"))
            return True, ""
        if table is not None and action in QUEUE_ACTIONS | {"drill"}:
            what = action.capitalize() if w.language == "en" else self.action_words(action)
            return False, w("queue_action", action=what)
        return True, ""

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return self.gate(action)[0]

    def _refresh_action_bindings(self) -> None:
        """Refresh the footer when what the action keys offer changed (agent focus, on a call, paused)."""
        table = self.focused_agent_table()
        state = None
        if table is not None:
            a = self.agent_of(table.selected_key)
            state = (table.id, a is not None and a.state, bool(a and a.call_id))
        if state != self._bindings_state:
            self._bindings_state = state
            self.refresh_bindings()

    def on_key(self, event: events.Key) -> None:
        """A key of an action not offered here does nothing but say why."""
        if isinstance(self.screen, ModalScreen):
            return
        specs = self._key_specs.get(event.key)
        if not specs:
            return
        active = self.screen.active_bindings.get(event.key)
        if active is not None and active.enabled:
            return  # a binding answers it
        for spec in specs:
            state, reason = self.gate(spec.action)
            if state is True:
                return
        for spec in specs:
            state, reason = self.gate(spec.action)
            if reason and not (state is False and spec.alias):
                self.notify(reason, severity="warning", markup=False)
                return

    def has_token(self) -> bool:
        if not self.token:
            self.notify(NO_TOKEN, severity="error", markup=False)
            return False
        return True

    def _selected_agent(self, action: str) -> tuple[str, AgentSnapshot] | None:
        state, reason = self.gate(action)
        if state is not True:
            self.notify(reason, severity="warning", markup=False)
            return None
        if not self.has_token():
            return None
        table = self.focused_agent_table()
        assert table is not None and table.selected_key is not None
        agent = self.agent_of(table.selected_key)
        assert agent is not None
        return table.selected_key, agent

    def action_listen(self) -> None:
        self.spy("listen")

    def action_whisper(self) -> None:
        self.spy("whisper")

    def action_barge(self) -> None:
        self.spy("barge")

    def action_takeover(self) -> None:
        """Take over the selected agent's call: the caller comes to the user's phone, the agent drops out."""
        sel = self._selected_agent("takeover")
        if sel is None:
            return
        agent_id, a = sel
        req = Takeover(user=self.user, agent=agent_id, call_id=a.call_id, at=utc(self.clock.now()))
        self.confirm(req, a.name or agent_id, self.words("note.takeover"), self.call_words(a))

    def spy(self, mode: str) -> None:
        """Listen, whisper or barge on the selected agent's current call. Escalating (listen -> whisper ->
        barge) is the same request with the new mode: the executor re-originates the spy."""
        sel = self._selected_agent(mode)
        if sel is None:
            return
        agent_id, a = sel
        req = Spy(type=mode, user=self.user, agent=agent_id, call_id=a.call_id, at=utc(self.clock.now()))
        mine = a.spied_by.get(self.user)
        w = self.words
        note = ""
        if mine == "keypad":
            note = w("note.keypad")
        elif mine == mode:
            note = w("note.same_mode", mode=mode if w.language == "en" else w.spy(mode))
        elif mine:
            note = w("note.other_mode", mine=w.spy(mine), mode=mode if w.language == "en" else w.spy(mode))
        self.confirm(req, a.name or agent_id, note, self.call_words(a))

    def action_move(self) -> None:
        sel = self._selected_agent("move")
        if sel is None:
            return
        agent_id, a = sel
        name = a.name or agent_id
        rows = move_queue_rows(a, self.summary, self.config, self.words)
        # the cursor starts on the queue that needs help most (of those the agent is not in)
        initial = None
        if self.summary is not None:
            candidates = [
                (LEVEL_RANK.get(queue_level(q), 0), q.waiting, n)
                for n, q in self.summary.queues.items()
                if n not in a.queues and q.open
            ]
            if candidates:
                initial = max(candidates, key=lambda c: (c[0], c[1]))[2]

        def make(queue: str, op: str, penalty: int, revert_after_s: float | None) -> Move:
            return Move(
                user=self.user,
                agent=agent_id,
                queue=queue,
                op=op,
                penalty=penalty,
                revert_after_s=revert_after_s,
                at=utc(self.clock.now()),
            )

        def chosen(req: Move | None) -> None:
            if req is not None:
                self.confirm(req, name)

        self.push_screen(MoveScreen(agent_id, name, a.queues, rows, make, initial, self.words), callback=chosen)

    # ---- overload advice ----------------------------------------------------------------------------------

    def latest_snapshot(self) -> Snapshot | None:
        """The desk's latest snapshot (summary and agent detail) as one ``Snapshot``."""
        if self.summary is None:
            return None
        agents = self.agents.agents if self.agents is not None else {}
        return Snapshot(**self.summary.model_dump(), agents=agents)

    async def action_advice(self) -> None:
        """Required vs staffed per queue and the advisor's ranked moves; enter applies one (via ``move``)."""
        state, reason = self.gate("advice")
        if state is not True:
            self.notify(reason, severity="warning", markup=False)
            return
        if isinstance(self.screen, AdviceScreen):
            return
        snap = self.latest_snapshot()
        if snap is None:
            self.notify(self.words("advice.no_snapshot"), severity="warning")
            return
        try:
            estimates = await read_estimates(
                await self.client(), self.config, self.server.now(), EstimateSettings(), keys=self.keys
            )
            advice = advise(snap, estimates, self.config)
        except Exception as e:
            log.warning("advice failed: %s", e)
            self.notify(self.words("advice.failed", error=e), severity="error", markup=False)
            return

        def chosen(move) -> None:
            if move is not None:
                self.apply_advice(move)

        self.push_screen(AdviceScreen(advice, self.tz, self.words), callback=chosen)

    def apply_advice(self, move) -> None:
        """An advised move's steps (add to the queue short of staff, then remove from the other) are one
        ``move`` request each, confirmed together once; each is sent only when the one before it is done, so a
        refused add never leaves the agent removed from both."""
        if not self.has_token():
            return
        reqs = [Move(user=self.user, at=utc(self.clock.now()), **s.request_fields(move.agent)) for s in move.steps]
        if not reqs:
            return
        agent_name = move.agent_name or move.agent
        note = self.words("advice.in_turn") if len(reqs) > 1 else ""

        async def confirmed(final) -> None:
            if final is not None:
                await self.send_chain(reqs, agent_name)

        self.push_screen(
            ConfirmScreen(reqs[0], agent_name, note, then=tuple(reqs[1:]), words=self.words), callback=confirmed
        )

    async def send_chain(self, reqs: list, agent_name: str | None) -> None:
        """Send ``reqs[0]``; the rest follow, one at a time, each once the previous outcome is ok."""
        rest = reqs[1:]

        def after(ok: bool) -> None:
            if not rest:
                return
            if ok:
                self.run_worker(partial(self.send_chain, rest, agent_name), group="requests", exit_on_error=False)
                return
            skipped = "; ".join(outcome_label(describe_in(r, agent_name, None, self.words)) for r in rest)
            # not done, or not known to be: given up without an outcome, it may still be done later
            self.notify(self.words("advice.skipped", steps=skipped), severity="warning", markup=False)

        await self.send_action(reqs[0], agent_name, after=after)

    def action_pause(self) -> None:
        sel = self._selected_agent("pause")
        if sel is None:
            return
        agent_id, a = sel
        name = a.name or agent_id

        def chosen(reason: str | None) -> None:
            if reason is not None:
                self.confirm(
                    Pause(type="pause", user=self.user, agent=agent_id, reason=reason, at=utc(self.clock.now())),
                    name,
                )

        self.push_screen(PauseReasonScreen(name, self.config.centre.pause_reasons, self.words), callback=chosen)

    def action_unpause(self) -> None:
        sel = self._selected_agent("unpause")
        if sel is None:
            return
        agent_id, a = sel
        self.confirm(
            Pause(type="unpause", user=self.user, agent=agent_id, at=utc(self.clock.now())), a.name or agent_id
        )

    def toggle_pause(self) -> None:
        table = self.focused_agent_table()
        a = self.agent_of(table.selected_key) if table is not None else None
        if a is not None and a.state == "paused":
            self.action_unpause()
        else:
            self.action_pause()

    def confirm(self, req, agent_name: str | None, note: str = "", call: str | None = None) -> None:
        """Say exactly what will happen; send it only when confirmed."""

        async def confirmed(final) -> None:
            if final is not None:
                await self.send_action(final, agent_name, call)

        self.push_screen(ConfirmScreen(req, agent_name, note, call, words=self.words), callback=confirmed)

    async def send_action(
        self, req, agent_name: str | None = None, call: str | None = None, after: Callable[[bool], None] | None = None
    ) -> str | None:
        """XADD one action request (stamped with the time it is sent) and watch for its outcome (``after(ok)``
        once it is in, or given up; never called when the request could not be sent)."""
        req = req.model_copy(update={"at": self.clock.now()})
        label = outcome_label(describe_in(req, agent_name, call, self.words))
        try:
            ids = await submit(await self.client(), self.keys, [req], self.token)
        except Exception as e:
            log.warning("request failed: %s", e)
            self.notify(self.words("not_sent", label=label, error=e), severity="error", markup=False)
            return None
        self.expect(ids, label, after)
        self.notify(self.words("sent", label=label), markup=False)
        return ids[0]

    # ---- command palette -------------------------------------------------------------------------------

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield SystemCommand("Drill down", "Open the selected queue: how each figure is computed", self.drill)
        if "ack" in self.allowed:
            yield SystemCommand(
                "Acknowledge", "Acknowledge the selected queue's alerts (flashing stops)", self.action_ack
            )
        if "snooze" in self.allowed:
            yield SystemCommand(
                f"Snooze {self.snooze_minutes:g} min", "Snooze the selected queue's alerts", self.action_snooze
            )
        agent_commands = (
            ("listen", "Listen", "Listen to the selected agent's call (nobody hears you)", self.action_listen),
            (
                "whisper",
                "Whisper",
                "Speak to the selected agent on a call (the caller will not hear you)",
                self.action_whisper,
            ),
            ("barge", "Barge", "Join the selected agent's call (both hear you)", self.action_barge),
            (
                "takeover",
                "Take over call",
                "Take the selected agent's call on your phone (the agent drops out)",
                self.action_takeover,
            ),
            (
                "move",
                "Move agent",
                "Add the selected agent to a queue, remove it, change its penalty",
                self.action_move,
            ),
        )
        for action, title, help_text, callback in agent_commands:
            if action in self.allowed:
                yield SystemCommand(title, help_text, callback)
        if "move" in self.allowed:
            yield SystemCommand(
                "Advice", "Overload advice: required vs staffed, ranked moves (enter applies one)", self.action_advice
            )
        if "pause" in self.allowed or "unpause" in self.allowed:
            yield SystemCommand(
                "Pause / unpause agent", "Pause the selected agent (with a reason), or unpause", self.toggle_pause
            )
        yield SystemCommand("Toggle flashing", "Turn breach flashing off or on", self.action_toggle_flash)
        yield SystemCommand("Help", "Keys and their binding ids", self.action_help)
        yield SystemCommand("Quit", "Quit the desk", self.action_quit)
        for cmd in super().get_system_commands(screen):
            if cmd.title not in ("Quit",):
                yield cmd
