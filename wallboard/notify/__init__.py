"""Alerts that reach people: breaches, their escalation and their end, delivered by e-mail and webhooks.

``settings`` holds the ``[notifications]`` config section (imported by ``wallboard.config``: it imports nothing
of the project at load time); ``channels`` renders and sends one message; ``notifier`` detects transitions in
the published snapshots and delivers them at least once, never twice (see its docstring and docs/ALERTS.md).
"""
