"""The websocket hub (``wallboard serve``) and what TVs are sent: no Textual here.

- ``protocol``: the messages (server -> TV, supervisor -> hub);
- ``auth``: viewer and supervisor tokens, the origin allow-list;
- ``fanout``: per-client buffers, latest wins, slow clients dropped;
- ``server``: the hub itself (Redis follower, HTTP routes, websocket handler).

What it shares with ``wallboard board`` lives in the core: ``wallboard.projection`` (a layout's view of a
summary), ``wallboard.ticker``, ``wallboard.livetime``; and with the http feed: ``wallboard.ratelimit``.
"""
