"""TLS for the hub: ``hub.tls_cert`` and ``hub.tls_key`` (PEM files) turn ``wallboard serve`` into https/wss on
the same port. Tokens travel in the kiosk URL and the websocket query, so any hub reached over a network
should have them; the files are read once at start (restart the hub to take a renewed certificate)."""

from __future__ import annotations

import ssl

from ..config import ConfigError, HubConfig

_HINT = "give the path of a readable PEM file (e.g. from your CA or `openssl req -x509 ...`), or unset both for http"


def server_context(hub: HubConfig) -> ssl.SSLContext | None:
    """The server's SSLContext, or None without TLS. Raises ConfigError naming the field at fault."""
    if hub.tls_cert is None and hub.tls_key is None:
        return None
    if hub.tls_cert is None or hub.tls_key is None:  # the config model refuses this too; a caller may build one
        field = "hub.tls_key" if hub.tls_key is None else "hub.tls_cert"
        raise ConfigError([(field, "TLS needs both hub.tls_cert and hub.tls_key", "set both, or neither")])
    for field, path in (("hub.tls_cert", hub.tls_cert), ("hub.tls_key", hub.tls_key)):
        try:
            with open(path, "rb") as f:
                f.read(1)
        except OSError as e:
            raise ConfigError([(field, f"cannot read {path}: {e.strerror or e}", _HINT)]) from None
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        ctx.load_cert_chain(hub.tls_cert, hub.tls_key)
    except ssl.SSLError as e:  # not PEM, or the key is not the certificate's (never echo the key's bytes)
        raise ConfigError(
            [
                (
                    "hub.tls_cert / hub.tls_key",
                    f"not a PEM certificate and its matching private key ({e.reason or e.__class__.__name__})",
                    _HINT,
                )
            ]
        ) from None
    return ctx
