"""FreeSWITCH event socket (ESL): protocol, client and the mod_callcenter mapping."""
