"""The Redis key layout (the contract between ingest, engine, views and reports).

Every key starts with the configured prefix ``P`` (default ``wb``) so several centres or test runs can share
one server. Keys carry a hash tag so the layout works on Redis Cluster: per queue ``{q:NAME}``, per agent
``{a:ID}``, centre-wide ``{c}``. No Lua script touches keys of two hash tags: a script gets one key, the
tag's base (``KEYS[1]``), and builds every key it touches from it.

Queue slot ``P:{q:NAME}``
  ``:e:<call_id>``       hash   queue-entry marker: ``n`` entries; per entry i ``j<i>`` join epoch,
                                ``f<i>`` applied transitions (J joined, A answered, L left, C completed,
                                W wrap-up done, D callback done, X lost in a resync, E expired by
                                ``centre.caller_expiry_s``), ``a<i>`` agent. Expires after
                                ``centre.entry_expiry_h``.
  ``:w:<window>``        hash   counters of one window (``window`` = epoch second of its daily reset, or
                                ``all`` for ``replay --window all``)
  ``:m:<minute>``        hash   the same counters for one minute (epoch second, floored), plus
                                ``peak_waiting``; expire after ``centre.bucket_expiry_h``
  ``:waiting``           zset   call_id -> join epoch (callers waiting now)
  ``:callers``           hash   call_id -> caller number (waiting callers only)
  ``:callbacks``         zset   call_id -> original entry epoch (pending callbacks keep their place)
  ``:stats``             hash   ``duplicates`` (transitions delivered again), ``applied``, ``resync_removed``
                                (ghosts a resync dropped), ``expired`` (dropped by expiry, exit still missing)
  ``:cursor``            hash   feed name -> position of the last event applied to this queue
  ``:pk:<call id>``      hash   closes and wrap-ups of the call refused before its entry was known (webhooks
                                come unordered), parked until its join or answer (``wallboard.parking``):
                                digest -> JSON {source, reason, raw, dead letter's stream id}
  ``:fcr:<YYYYMMDD>``    hash   answered contacts of a report day with a known customer (first contact
                                resolution): ``<call_id>|<join>`` -> ``<customer hash>|<answer epoch>|<agent>``;
                                kept ``history.daily_keep_days``

Agent slot ``P:{a:ID}``
  ``:state``             hash   ``state``, ``reason``, ``since`` (epoch), ``ts`` (time of the newest state
                                event applied), ``call_id``, ``call_queue``, ``missed_in_row``
  ``:queues``            hash   queue -> penalty (membership); ``:qts`` queue -> time of the newest
                                membership event (an older one never overwrites a newer one)
  ``:w:<window>``        hash   ``calls_handled``, ``missed``, ``outbound_calls``, ``dial_attempts``,
                                seconds per state (``available_s``, ``ringing_s``, ``on_call_s``, ``wrap_up_s``,
                                ``paused_s``, ``paused_s:<reason>``), written when a state ends
  ``:m:<minute>``        hash   the counted facts (calls, missed, dials) per minute
  ``:spans:<window>``    zset   the agent's finished states in a window, ``from|to|state|reason`` by ``to``:
                                written once when a state ends, split into intervals by the rollup; a
                                written busy stretch (``conversation_s``) as state ``conversation``
  ``:x:<what>``          string once-markers: ``h:<call>:<queue>:<join>`` handled, ``m:<call>:<ring second>``
                                missed, ``d:<uniqueid>`` dial attempt, ``o:<uniqueid>`` outbound call
  ``:stats``             hash   ``duplicates``

Both slots also hold the rollups ``:hi:<YYYYMMDD>`` and ``:hd:<YYYYMM>`` (``wallboard.history``).

Customer slot ``P:{k:HASH}`` (``HASH``: the salted hash of a caller number or customer id, ``wallboard.fcr``)
  ``:contacts``          zset   ``<matter>|<call_id>|<join>`` -> join epoch: every queue entry of the customer,
                                kept ``history.daily_keep_days`` + ``fcr.days``

Centre slot ``P:{c}``
  ``:queues`` / ``:agents``  sets   every queue and agent ever seen (registries)
  ``:seq``               string snapshot sequence (INCR)
  ``:lease``             string the engine owner's lease (SET NX PX, renewed)
  ``:summary`` / ``:agents_detail``  string  the snapshot parts as of the latest publish (JSON; what a view
                                    holds after applying every message, see ``wallboard.delta``)
  ``:snap`` / ``:snap:agents``       channels  pub/sub for the two parts of a full snapshot
  ``:snap:delta``        channel what changed since the previous publish (``wallboard.delta.Delta``)
  ``:snap:want``         string a view's request for a full snapshot (taken by the owner's next publish)
  ``:touched``           set    ``q:NAME`` / ``a:ID`` applied to by an ingester that is not the owner (another
                                feed's, e.g. the chat platform's beside the PBX's), taken by the owner's next build
  ``:deadletter``        stream rejected input (source, reason, raw); ``:dlcount`` its count; ``:dlseen``
                         zset digest of (source, raw) -> epoch: each record listed and counted once
  ``:requests``          stream requests from the views (ack, snooze, actions), signed, each with an id
  ``:audit``             stream every request's outcome, append-only (``wallboard acl``)
  ``:seen:<user>:<id>``  string a request id claimed by the executor (kept while a request may be fresh)
  ``:outcomes:<minute>`` hash   stream id -> result: the request has its audit entry (written with it)
  ``:rate:<user>:<minute>``  string  requests of a user in a minute (the executor's rate limit)
  ``:alert_cmds``        stream authorised ack/snooze handed by the executor to the engine's owner
  ``:reverts``           zset   pending auto-reverts of temporary moves (JSON) by due epoch
  ``:takeovers``         zset   recent call takeovers (JSON) by epoch, kept an hour
  ``:ticker``            string the supervisor's message on every TV
  ``:requests_cursor``   string how far the engine's owner has read ``:alert_cmds``
  ``:hrolled``           hash   day -> ``to:at``: up to when the day was rolled up, and when
  ``:reports``           hash   ``<schedule>|<period key>`` -> delivery state (JSON); ``:reports:since`` hash
                                schedule -> first period to send; ``:reports:log`` stream of every attempt;
                                ``:reports:lock:<schedule>|<period key>`` a delivery's lock (SET NX PX)
  ``:alerts``            hash   ``<queue>|<metric>`` -> alert state JSON
  ``:gaps``              zset   feed gaps (JSON) by start epoch
  ``:health:<process>``  string heartbeat with a TTL
  ``:beats:<kind>``      hash   one field a running process of a kind (ingest, executor…): liveness for ``--check``
  ``:cursor:<feed>[:shard-I-of-N]``  string  where a resumable feed (queue_log) has been applied up to
  ``:cursor-saves:<process>``  string  how many cursors that ingester saved (a lower count = Redis lost writes)
  ``:notify:lease``      string the notifier that detects transitions (SET NX PX, renewed; its name)
  ``:notify:levels``     hash   ``<queue>|<metric>`` -> the alert episode the notifier last saw (JSON)
  ``:notify:last``       hash   ``<subscription>|<queue>|<metric>`` -> what was last sent to it (JSON)
  ``:notify:t:<tid>``    string a transition emitted (once-marker, kept ``notifications.keep_h``)
  ``:notify:outbox``     stream one entry per delivery (transition, subscription, channel); group ``senders``
  ``:notify:d:<did>``    string a delivery's state (JSON): claimed, retrying, sent, failed, suppressed; claimed
                         before sending, ``sent`` is never sent again; kept ``notifications.keep_h``
  ``:notify:retry``      zset   outbox entry id -> epoch of the next attempt (failed deliveries)
  ``:notify:index``      zset   delivery id -> epoch of its transition (``wallboard notifier --status``)
  ``:notify:counters``   hash   ``sent``, ``failed``, ``gave_up``, ``suppressed:<why>``, ``retaken``, ``sent:<kind>``
"""

from __future__ import annotations

# The suffixes a slot's keys add to the slot's base (``Keys.queue``, ``Keys.agent``, ``Keys.centre``). The Lua
# scripts (wallboard/lua/*.lua) are given only the base -- a script touches the keys of one hash tag, and builds
# them itself -- so they spell these same suffixes as literals: tests/test_keys.py reads the .lua text and checks
# that every suffix a script appends is one of ``LUA_SUFFIXES``, spelled the same.
STATE = ":state"  # agent
MEMBERSHIP = ":queues"  # agent: queue -> penalty
MEMBERSHIP_TS = ":qts"  # agent: queue -> newest membership event
CONVERSATIONS = ":conv"  # agent
SPANS = ":spans:"  # agent, + window
WAITING = ":waiting"  # queue
CALLERS = ":callers"  # queue
CALLBACKS = ":callbacks"  # queue
ENTRY = ":e:"  # queue, + call id
FCR = ":fcr:"  # queue, + report day
QUEUE_CURSOR = ":cursor"  # queue: feed -> position
WINDOW = ":w:"  # queue or agent, + window
MINUTE = ":m:"  # queue or agent, + minute
STATS = ":stats"  # queue or agent
ONCE = ":x:"  # queue or agent, + marker
DEADLETTER = ":deadletter"  # centre
DLCOUNT = ":dlcount"  # centre
DLSEEN = ":dlseen"  # centre
LUA_SUFFIXES = frozenset(
    {
        *(STATE, MEMBERSHIP, MEMBERSHIP_TS, CONVERSATIONS, SPANS, WAITING, CALLERS, CALLBACKS, ENTRY, FCR),
        *(QUEUE_CURSOR, WINDOW, MINUTE, STATS, ONCE, DEADLETTER, DLCOUNT, DLSEEN),
    }
)
# Written by Python only (wallboard.history).
HISTORY_INTERVALS = ":hi:"  # queue or agent, + report day YYYYMMDD
HISTORY_DAILY = ":hd:"  # queue or agent, + month YYYYMM
# Written by Python only (wallboard.parking).
PARKED = ":pk:"  # queue, + call id


class Keys:
    def __init__(self, prefix: str = "wb"):
        self.prefix = prefix
        c = f"{prefix}:{{c}}"
        self.centre = c
        self.queues = f"{c}:queues"
        self.agents = f"{c}:agents"
        self.seq = f"{c}:seq"
        self.lease = f"{c}:lease"
        self.summary = f"{c}:summary"
        self.agents_detail = f"{c}:agents_detail"
        self.channel = f"{c}:snap"
        self.agents_channel = f"{c}:snap:agents"
        self.delta_channel = f"{c}:snap:delta"
        self.snap_want = f"{c}:snap:want"
        self.touched = f"{c}:touched"
        self.deadletter = c + DEADLETTER
        self.dlcount = c + DLCOUNT
        self.requests = f"{c}:requests"
        self.alerts = f"{c}:alerts"
        self.gaps = f"{c}:gaps"
        self.audit = f"{c}:audit"
        self.alert_cmds = f"{c}:alert_cmds"
        self.reverts = f"{c}:reverts"
        self.takeovers = f"{c}:takeovers"
        self.ticker = f"{c}:ticker"
        self.requests_cursor = f"{c}:requests_cursor"
        self.history_rolled = f"{c}:hrolled"
        self.reports = f"{c}:reports"  # wallboard.reports.scheduler: delivery state per schedule and period
        self.reports_since = f"{c}:reports:since"
        self.reports_log = f"{c}:reports:log"
        n = f"{c}:notify"  # wallboard.notify.notifier
        self.notify_lease = f"{n}:lease"
        self.notify_levels = f"{n}:levels"
        self.notify_last = f"{n}:last"
        self.notify_outbox = f"{n}:outbox"
        self.notify_retry = f"{n}:retry"
        self.notify_index = f"{n}:index"
        self.notify_counters = f"{n}:counters"

    def claim(self, user: str, request_id: str) -> str:
        """A request id claimed by the executor for its user (performed at most once)."""
        return f"{self.centre}:seen:{user}:{request_id}"

    def outcomes(self, minute: int) -> str:
        """Outcome marks of the requests whose stream ids fall in ``minute`` (epoch ms // 60,000)."""
        return f"{self.centre}:outcomes:{minute}"

    def rate(self, user: str, minute: int) -> str:
        return f"{self.centre}:rate:{user}:{minute}"

    def notify_transition(self, tid: str) -> str:
        return f"{self.centre}:notify:t:{tid}"

    def notify_delivery(self, did: str) -> str:
        return f"{self.centre}:notify:d:{did}"

    def health(self, process: str) -> str:
        return f"{self.centre}:health:{process}"

    def beats(self, kind: str) -> str:
        """Liveness marks of the running processes of ``kind`` (``wallboard.telemetry.Beat``)."""
        return f"{self.centre}:beats:{kind}"

    def cursor(self, feed_key: str, shard: tuple[int, int] | None = None) -> str:
        """Where a resumable feed has been applied up to (per shard when ingest runs sharded)."""
        base = f"{self.centre}:cursor:{feed_key}"
        return base if shard is None else f"{base}:shard-{shard[0]}-of-{shard[1]}"

    def cursor_saves(self, process: str) -> str:
        return f"{self.centre}:cursor-saves:{process}"

    def queue(self, name: str) -> str:
        """Base of a queue's slot; every key of the queue is ``base + ':' + suffix``."""
        return f"{self.prefix}:{{q:{name}}}"

    def agent(self, agent_id: str) -> str:
        return f"{self.prefix}:{{a:{agent_id}}}"

    def parked(self, queue: str, call_id: str) -> str:
        """Refused closes of a call waiting for its entry (``wallboard.parking``), in the queue's slot."""
        return self.queue(queue) + PARKED + call_id

    def customer_contacts(self, customer_hash: str) -> str:
        return f"{self.prefix}:{{k:{customer_hash}}}:contacts"

    def fcr_day(self, queue: str, day: str) -> str:
        """A queue's answered contacts of report day ``day`` (YYYYMMDD) with their customer hash."""
        return f"{self.queue(queue)}{FCR}{day}"

    def report_lock(self, schedule: str, period_key: str) -> str:
        """The lock of one report delivery (SET NX PX): one scheduler sends it."""
        return f"{self.reports}:lock:{schedule}|{period_key}"

    # -- keys in a queue's or an agent's slot; ``base`` is ``queue(name)`` or ``agent(id)`` ----------------

    def agent_state(self, agent_id: str) -> str:
        return self.agent(agent_id) + STATE

    def agent_queues(self, agent_id: str) -> str:
        """The agent's queue memberships (queue -> penalty)."""
        return self.agent(agent_id) + MEMBERSHIP

    def agent_queues_ts(self, agent_id: str) -> str:
        """When each of the agent's memberships last changed (queue -> event time)."""
        return self.agent(agent_id) + MEMBERSHIP_TS

    def waiting(self, queue: str) -> str:
        """The callers waiting in ``queue`` now (call id -> join epoch)."""
        return self.queue(queue) + WAITING

    @staticmethod
    def window(base: str, window: int | str) -> str:
        """A slot's counters of one window (reset epoch, or ``all``)."""
        return f"{base}{WINDOW}{window}"

    @staticmethod
    def minute(base: str, minute: int) -> str:
        """A slot's counters of one minute (epoch second, floored)."""
        return f"{base}{MINUTE}{minute}"

    @staticmethod
    def spans(base: str, window: int | str) -> str:
        """An agent's finished states of one window."""
        return f"{base}{SPANS}{window}"

    @staticmethod
    def history_intervals(base: str, day: str) -> str:
        """A slot's 15-minute intervals of report day ``day`` (YYYYMMDD), see ``wallboard.history``."""
        return f"{base}{HISTORY_INTERVALS}{day}"

    @staticmethod
    def history_daily(base: str, month: str) -> str:
        """A slot's daily totals of ``month`` (YYYYMM), see ``wallboard.history``."""
        return f"{base}{HISTORY_DAILY}{month}"
