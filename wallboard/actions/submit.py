"""The one way a request reaches the executor: the desk, the hub and `wallboard act` all call ``submit``.

Each request is typed and bounded by ``wallboard.actions.model`` (so a bad number is refused before it is sent),
signed with the user's token (``auth.sign_request``: the token itself never lands on the stream) and XADDed to
the request stream. The executor performs each request ``id`` at most once.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..keys import Keys
from .auth import sign_request
from .model import Request, to_fields


def wire_fields(req: Request, token: str) -> dict[str, str]:
    """The stream entry of one request."""
    return sign_request(to_fields(req), token)


async def submit(client, keys: Keys, reqs: Sequence[Request], token: str) -> list[str]:
    """Put ``reqs`` on the request stream (one round trip); returns their stream ids, in order."""
    pipe = client.pipeline(transaction=False)
    for req in reqs:
        pipe.xadd(keys.requests, wire_fields(req, token))
    return list(await pipe.execute())
