"""Supervisor actions: typed requests, who may do what, the executor that alone holds PBX credentials, and
the append-only audit trail."""
