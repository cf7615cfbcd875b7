"""FreeSWITCH event socket (ESL): protocol, client and the mod_callcenter mapping. Hand-written, not a library:
why is at the top of ``client``."""
