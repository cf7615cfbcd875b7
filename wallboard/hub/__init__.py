"""The websocket hub (``wallboard serve``) and what TVs are sent: no Textual here.

- ``projection``: a layout's view of a summary (JSON-ready), shared with ``wallboard board``;
- ``protocol``: the messages (server -> TV, supervisor -> hub);
- ``auth``: viewer and supervisor tokens, the origin allow-list;
- ``fanout``: per-client buffers, latest wins, slow clients dropped;
- ``server``: the hub itself (Redis follower, HTTP routes, websocket handler).
"""
