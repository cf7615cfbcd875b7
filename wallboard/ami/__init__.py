"""Asterisk Manager Interface: framing (protocol), event mapping (mapper), an asyncio client (client) and the
supervisor action backend (actions). Core code: no Textual, no Redis. Hand-written, not a library: why is at the
top of ``client``."""
