"""Queue and agent reports from stored history (``wallboard.history``), and their scheduled delivery.

``build`` gathers one period's figures (every ratio from ``wallboard.metrics``; occupancy in ``figures``);
``render_html`` / ``render_csv`` turn them into files; ``mail`` composes and sends them; ``scheduler`` runs the
``[[reports]]`` schedules. Definitions: docs/REPORTS.md.
"""
