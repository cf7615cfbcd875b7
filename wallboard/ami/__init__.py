"""Asterisk Manager Interface: framing (protocol), event mapping (mapper), an asyncio client (client) and the
supervisor action backend (actions). Core code: no Textual, no Redis."""
