"""The ticker: a supervisor's message shown along the bottom of every TV (board and page).

It is the plain text of the Redis key ``<prefix>:{c}:ticker`` (``ticker_key``); empty or missing = no
message. ``wallboard ticker "TEXT"`` sets it (``--clear`` removes it, ``--minutes`` lets it expire). The hub
and ``wallboard board`` read it every ``hub.ticker_poll_s``.
"""

from __future__ import annotations

from .keys import Keys

MAX_TICKER_CHARS = 500


def ticker_key(keys: Keys) -> str:
    return keys.ticker


async def read_ticker(client, keys: Keys) -> str:
    text = await client.get(ticker_key(keys))
    return (text or "").strip()[:MAX_TICKER_CHARS]
