"""Stored history: rollups of the engine's minute buckets into 15-minute intervals and days.

Keys (in the queue's or the agent's own slot, so every write stays inside one hash tag):

``P:{q:NAME}:hi:<YYYYMMDD>`` / ``P:{a:ID}:hi:<YYYYMMDD>``  hash  one report day's 15-minute intervals:
    field = interval index in the day (0 = the day's reset time), value = the interval's counters packed
    (``wallboard.history.codec``). Intervals with nothing in them are absent. Expire ``interval_keep_days``
    after the day ends.
``P:{q:NAME}:hd:<YYYYMM>`` / ``P:{a:ID}:hd:<YYYYMM>``  hash  daily totals of one month: field = day of month
    (``01``..``31``), value packed the same way. Expire ``daily_keep_days`` after the month ends.
``P:{c}:hrolled``  hash  report day (``YYYYMMDD``) -> ``<to>:<at>``: every queue and agent of that day has been
    rolled up to epoch ``to``, at epoch ``at`` (what a report or the next incremental rollup can skip).

A report day runs from the centre's ``reset_time`` on that date to the next day's (so the daily report and the
since-reset wallboard cover the same span); see ``wallboard.history.calendar``.
"""
