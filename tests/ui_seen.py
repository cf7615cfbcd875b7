"""What a desk test observes from outside the app: the notifications it posted (Textual's ``Notify``
messages, through ``run_test(message_hook=...)``) and the requests it put on the request stream (read back
from Redis)."""

from __future__ import annotations

import redis as sync_redis
from textual.notifications import Notify

from wallboard.keys import Keys

from .conftest import redis_url


class Notices(list):
    """(message, severity) of every notification the app posted, in order. Pass it as ``message_hook``."""

    def __call__(self, message) -> None:
        if isinstance(message, Notify):
            self.append((str(message.notification.message), str(message.notification.severity)))


def requests_sent(app) -> list[dict]:
    """The entries of the app's request stream: what it sent, as the executor reads it."""
    with sync_redis.Redis.from_url(redis_url(), decode_responses=True) as r:
        return [fields for _, fields in r.xrange(Keys(app.config.redis.prefix).requests)]


def agent_rows(agents: dict, server, queue: str | None = None, reverts=None, takeovers=None) -> list:
    """Every agent's row as the desk builds it (``rowsource.AgentRowSource``), all of them in view."""
    from wallboard.ui.rowsource import AgentRowSource

    source = AgentRowSource(server, queue)
    source.update(agents, reverts, takeovers)
    return source.rows(list(source.keys()))
