"""Feed adapters: one wire format each, turned into wallboard Events (nothing of Redis or metrics)."""
